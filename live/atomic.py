"""A file that appears complete or not at all.

An output is written under a temporary name beside its final one and moved into place (`os.replace`,
atomic within one folder) only once it is complete. Until then a file the user already has at that
name is left as it was, and a run that fails or is killed never leaves half a file under the real name.
"""
from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType

from .output_paths import OutputError


class AtomicFile:
    """`partial` is where to write; `commit()` moves it to `path`, `discard()` deletes it (once, either).

    The temporary name keeps the real suffix last (``out.mp4`` → ``.out.partial-<pid>.mp4``) because
    PyAV and OpenCV pick the container from it; the leading dot hides it in file browsers.

    As a context manager: the block writes `partial`; it is committed when the block ends normally and
    discarded when the block raises.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self.partial = self.path.with_name(f".{self.path.stem}.partial-{os.getpid()}{self.path.suffix}")
        self.settled = False

    def commit(self) -> None:
        if self.settled:
            return
        self.settled = True
        try:
            os.replace(self.partial, self.path)
        except OSError as exc:   # e.g. a folder made at that name meanwhile: the data stays where it is
            raise OutputError(f"cannot move {self.partial} to {self.path}: {exc.strerror or exc}; "
                              f"the file is kept as {self.partial}") from None

    def discard(self) -> None:
        if self.settled:
            return
        self.settled = True
        self.partial.unlink(missing_ok=True)

    def __enter__(self) -> Path:
        return self.partial

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if kind is None:
            self.commit()
        else:
            self.discard()
