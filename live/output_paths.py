"""Checks of the files a run will write, made before anything is opened or written.

A name that is a folder, has a suffix its writer cannot write, is the input video or is also another
output is refused, and so is a folder that cannot be written; each with an `OutputError` whose message
is fit for the user. Nothing here creates or changes a file the user has.
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Iterable

from occface_core.errors import UserError

VIDEO_SUFFIXES = (".mp4", ".avi")
EXPORT_SUFFIXES = (".jsonl", ".csv")
SUMMARY_SUFFIXES = (".json",)


class OutputError(UserError):
    """An output file cannot be written; the message is fit for the user."""


@dataclass(frozen=True)
class OutputPath:
    """One file a run may write. `name` says which in messages (an option such as "--record");
    `suffixes` are those its writer can write (lower case; empty: any name)."""

    name: str
    path: Path | None
    suffixes: tuple[str, ...] = ()


def check_suffix(path: Path, suffixes: tuple[str, ...], name: str) -> None:
    if suffixes and path.suffix.lower() not in suffixes:
        raise OutputError(f"{name} {path}: use a {' or '.join(suffixes)} file name")


def check_writable(path: Path, what: str = "") -> None:
    """Make sure `path` can be written, without creating or touching it: its folder is created if
    needed, and a temporary file is made and deleted there. (Outputs are written under a temporary name
    and moved into place when complete, `live.atomic`, so a file already at `path` stays as it is
    until then; a read-only one is refused, as writing it in place would have been.) `what` names the
    file in the message ("the calibration file")."""
    shown = f"{what} {path}" if what else str(path)
    if path.is_dir():
        raise OutputError(f"{shown} is a folder: give a file name")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the folder for {shown}: {exc.strerror or exc}") from None
    if path.exists() and not os.access(path, os.W_OK):
        raise OutputError(f"cannot write {shown}: the file is read-only")
    try:
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.check-"):
            pass
    except OSError as exc:
        raise OutputError(f"cannot write {shown}: {exc.strerror or exc}") from None


def same_file(a: Path, b: Path) -> bool:
    """Whether two names reach one file: `os.path.samefile` when both exist (it sees through links),
    otherwise the resolved names."""
    if a.exists() and b.exists():
        return os.path.samefile(a, b)
    return a.resolve() == b.resolve()


def check_output_paths(source: int | str | Path | None, outputs: Iterable[OutputPath]) -> None:
    """Refuse an output that is the input video `source` (a camera index has no file), names the same
    file as another output, is a folder or has a suffix its writer cannot write; in that order, so the
    message names the worst of its faults."""
    named = [OutputPath(out.name, Path(out.path), out.suffixes) for out in outputs if out.path is not None]
    video = Path(source) if isinstance(source, (str, Path)) else None
    for out in named:
        if video is not None and same_file(video, out.path):
            raise OutputError(f"{out.name} {out.path} is the input video: writing it would destroy it; "
                              "choose another name")
    for a, b in combinations(named, 2):
        if same_file(a.path, b.path):
            raise OutputError(f"{a.name} and {b.name} both name {b.path}: give each its own file")
    for out in named:
        if out.path.is_dir():
            example = f" such as {out.path / ('out' + out.suffixes[0])}" if out.suffixes else ""
            raise OutputError(f"{out.name} {out.path} is a folder: give a file name{example}")
        check_suffix(out.path, out.suffixes, out.name)
