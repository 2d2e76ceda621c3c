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


def training_parser(module: str, doc: str | None, *, out_help: str, epochs: int, max_minutes: float,
                    batch_size: int, lr: float, resume_help: str, init_help: str) -> argparse.ArgumentParser:
    """The arguments every trainer takes (data, run folder, schedule, subset, threads, seed, resume,
    fine-tuning), with the trainer's own defaults; the caller adds its own."""
    p = argparse.ArgumentParser(prog=f"python -m {module}", description=doc,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, type=Path, help="annotations.jsonl (train and val splits)")
    p.add_argument("--out", required=True, type=Path, help=out_help)
    p.add_argument("--epochs", type=int, default=epochs)
    p.add_argument("--max-minutes", type=float, default=max_minutes, help="stop after this much training (0: no limit)")
    p.add_argument("--batch-size", type=int, default=batch_size)
    p.add_argument("--lr", type=float, default=lr)
    p.add_argument("--limit", type=int, default=0, help="use only the first N training faces")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--resume", action="store_true", help=resume_help)
    p.add_argument("--init", type=Path, default=None, help=init_help)
    return p


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
