"""What every training command does around its training: parse, record the command line (it goes into
the weights' provenance), log, check the input files, and turn an interrupt or a bad input into one
line and an exit code instead of a traceback."""
from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

INTERRUPTED = 130   # as a shell reports Ctrl-C; the run continues with --resume


def run_training(module: str, parser: argparse.ArgumentParser, argv: list[str] | None,
                 train: Callable[[argparse.Namespace], int],
                 inputs: Callable[[argparse.Namespace], Iterable[tuple[Path | None, str]]],
                 check: Callable[[argparse.Namespace], str | None] = lambda args: None) -> int:
    """`inputs(args)`: (path or None, what it is) pairs that must be files; `check(args)`: a problem
    with the arguments in words, or None."""
    args = parser.parse_args(argv)
    args.command = " ".join([f"python -m {module}"] + (argv if argv is not None else sys.argv[1:]))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    problem = check(args) or next((f"{what} not found: {path}" for path, what in inputs(args)
                                   if path is not None and not path.is_file()), None)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    try:
        return train(args)
    except KeyboardInterrupt:
        print("interrupted; continue with --resume", file=sys.stderr)
        return INTERRUPTED
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
