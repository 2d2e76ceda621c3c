"""Run the evaluations behind assets/MODEL.md and print its tables, so every row can be reproduced.

Each row is one `python -m occface_core.training.evaluate` call; `--run` executes the rows whose metrics file is
missing (`--rerun` executes all of them), then the tables are printed as Markdown from the metrics
files, the weights' config (training history) and a `bench_model` JSON if one is given.

Examples:
  python -m occface_core.training.model_card --run                      # evaluate what is missing, print tables
  python -m occface_core.training.model_card --rerun --only occface     # re-evaluate the OccFace rows only
  python -m occface_core.training.model_card --bench runs/bench.json    # tables only, with the speed table
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

ASSETS = Path(__file__).resolve().parents[1] / "assets"


@dataclass(frozen=True)
class Row:
    label: str        # model column
    dataset: str      # set column
    model: str        # occface | mediapipe
    args: str         # evaluate arguments other than --model and --out
    out: str          # metrics file name under the eval folder
    predictions: bool = True


HELD_OUT_FAMILIES = ("hand", "glasses", "hair", "microphone")   # occluders.HELD_OUT_KINDS


def rows(data: str, occluded: str, families_dir: str = "runs") -> list[Row]:
    """Headline rows first (detector boxes, as the app meets faces), then labelled boxes, then the
    occluder families training never drew (labelled boxes, so the visibility head is judged alone),
    then inference-time knock-outs."""
    pt = "--weights assets/occface.pt"
    out = []
    for box, tag, suffix in (("detect", ", --box detect", "_detect"), ("gt", "", "")):
        out += [
            Row("OccFace", f"val{tag}", "occface", f"--data {data} --split val --box {box}", f"occface_val{suffix}"),
            Row("MediaPipe", f"val{tag}", "mediapipe", f"--data {data} --split val --box {box}",
                f"mediapipe_val{suffix}"),
            Row("OccFace", f"occluded val{tag}", "occface", f"--data {occluded} --box {box}", f"occface_valocc{suffix}"),
            Row("MediaPipe", f"occluded val{tag}", "mediapipe", f"--data {occluded} --box {box}",
                f"mediapipe_valocc{suffix}"),
        ]
    for family in HELD_OUT_FAMILIES:
        copy = f"{families_dir}/val_occ_{family}/annotations.jsonl"
        out += [Row(label, f"held-out {family}", model, f"--data {copy} --box gt", f"{model}_heldout_{family}", False)
                for label, model in (("OccFace", "occface"), ("MediaPipe", "mediapipe"))]
    out += [
        Row("OccFace, α=0 (no context branch)*", "occluded val", "occface",
            f"--data {occluded} {pt} --ablate no-context --box gt", "occface_valocc_nocontext", False),
        Row("OccFace, no point/edge reweighting*", "occluded val", "occface",
            f"--data {occluded} {pt} --ablate no-reweight --box gt", "occface_valocc_noreweight", False),
    ]
    return out


def held_out_summary(table_rows: list[Row], eval_dir: Path) -> str:
    """Mean visibility ROC-AUC and occluded-point NME over the held-out families, per model."""
    lines = ["| model | families | mean vis ROC-AUC | mean NME occluded |", "|---|---|---|---|"]
    for label in ("OccFace", "MediaPipe"):
        found = [json.loads((eval_dir / f"{r.out}.json").read_text()) for r in table_rows
                 if r.label == label and r.dataset.startswith("held-out") and (eval_dir / f"{r.out}.json").is_file()]
        if found:
            auc = sum(d["visibility"]["roc_auc"] for d in found) / len(found)
            nme = sum(d["landmarks"]["nme_occluded"] for d in found) / len(found)
            lines.append(f"| {label} | {len(found)} | {auc:.4f} | {nme:.4f} |")
    return "\n".join(lines)


def evaluate_argv(row: Row, eval_dir: str) -> list[str]:
    argv = shlex.split(row.args) + ["--model", row.model, "--out", f"{eval_dir}/{row.out}.json"]
    if row.predictions:
        argv += ["--predictions", f"{eval_dir}/{row.out}.jsonl"]
    return argv


def _f(x) -> str:
    return "–" if x is None or x != x else f"{x:.4f}"


def evaluation_tables(table_rows: list[Row], eval_dir: Path) -> str:
    head = ["| model | set | NME68 | NME68 (found) | NME visible | NME occluded | FR@0.1 | AUC@0.1 | no face "
            "| vis ROC-AUC | Occ AP | F1@0.5 |", "|" + "---|" * 12]
    cmds, by_source, vis_source = [], [], []
    for i, row in enumerate(table_rows, 1):
        path = eval_dir / f"{row.out}.json"
        if not path.is_file():
            continue
        d = json.loads(path.read_text())
        lm, v = d["landmarks"], d.get("visibility") or {}
        head.append(f"| {row.label} [{i}] | {row.dataset} | {_f(lm['nme68'])} | {_f(lm.get('nme68_found'))} "
                    f"| {_f(lm['nme_visible'])} | {_f(lm['nme_occluded'])} | {_f(lm['fr10'])} | {_f(lm['auc10'])} "
                    f"| {lm['no_face']}/{lm['images']} | {_f(v.get('roc_auc'))} | {_f(v.get('occ_ap'))} "
                    f"| {_f(v.get('f1_05'))} |")
        cmds.append(f"{i}. `python -m occface_core.training.evaluate {' '.join(evaluate_argv(row, str(eval_dir)))}`")
        if row.label in ("OccFace", "MediaPipe") and "detect" not in row.dataset:
            by_source.append(f"| {row.label} | {row.dataset} | "
                             + " | ".join(f"{k} {x:.4f}" for k, x in d["per_source_nme68"].items()) + " |")
            psv = {k: x for k, x in (d.get("per_source_visibility") or {}).items() if x}
            if psv:
                vis_source.append(f"| {row.label} | {row.dataset} | " + " | ".join(
                    f"{k} {x['roc_auc']:.4f} / {x['occ_ap']:.4f}" for k, x in psv.items()) + " |")
    out = ["\n".join(head), "Commands:\n\n" + "\n".join(cmds),
           "NME68 per source (failures included):\n\n| model | set | | | | |\n|---|---|---|---|---|---|\n"
           + "\n".join(by_source)]
    if vis_source:
        out.append("Visibility ROC-AUC / Occ AP per source:\n\n| model | set | | | | |\n|---|---|---|---|---|---|\n"
                   + "\n".join(vis_source))
    return "\n\n".join(out)


def history_table(config: dict) -> str:
    lines = ["| epoch | minutes | crops/s | train total | val NME68 | val FR@0.1 |", "|---|---|---|---|---|---|"]
    for h in config.get("history", []):
        lines.append(f"| {h['epoch']} | {h['minutes']:.1f} | {h['crops_per_s']:.1f} | {h['train_total']:.3f} "
                     f"| {h['val_nme68']:.4f} | {h['val_fr10']:.4f} |")
    return "\n".join(lines)


def speed_table(bench: dict) -> str:
    """`bench_model`'s JSON as a table; "predict" is the whole backend call (crop, face model, eye stage)."""
    lines = ["| runtime | model median | model p90 | eye stage median | predict median |", "|---|---|---|---|---|"]
    for name, r in bench.items():
        if isinstance(r, dict) and "model_only" in r:
            eyes = f"{r['eye_stage']['median_ms']:.2f}" if "eye_stage" in r else "—"
            lines.append(f"| {name} | {r['model_only']['median_ms']:.2f} | {r['model_only']['p90_ms']:.2f} "
                         f"| {eyes} | {r['backend_predict']['median_ms']:.2f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m occface_core.training.model_card", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default="../shared/data/faces/annotations.jsonl")
    p.add_argument("--occluded", default="runs/val_occluded/annotations.jsonl",
                   help="occluded copy of val (python -m occface_core.training.occluders ... --split val --seed 7)")
    p.add_argument("--families-dir", default="runs",
                   help="folder with val_occ_<family>/ copies (python -m occface_core.training.occluders ... --kinds <family>)")
    p.add_argument("--eval-dir", type=Path, default=Path("runs/eval"))
    p.add_argument("--config", type=Path, default=ASSETS / "occface_config.json")
    p.add_argument("--bench", type=Path, default=None, help="bench_model JSON for the speed table")
    p.add_argument("--run", action="store_true", help="evaluate the rows whose metrics file is missing")
    p.add_argument("--rerun", action="store_true", help="evaluate every row again")
    p.add_argument("--only", choices=("occface", "mediapipe"), default=None, help="with --run/--rerun")
    args = p.parse_args(argv)
    table_rows = rows(args.data, args.occluded, args.families_dir)
    if args.run or args.rerun:
        from . import evaluate
        for row in table_rows:
            if args.only and row.model != args.only:
                continue
            if args.rerun or not (args.eval_dir / f"{row.out}.json").is_file():
                print(f"== {row.out}", file=sys.stderr)
                code = evaluate.main(evaluate_argv(row, str(args.eval_dir)))
                if code != 0:
                    return code
    print(evaluation_tables(table_rows, args.eval_dir))
    print("\nOccluder families never drawn in training (labelled boxes):\n\n" + held_out_summary(table_rows, args.eval_dir))
    if args.config.is_file():
        config = json.loads(args.config.read_text())
        print("\nTraining history (EMA weights, val split):\n\n" + history_table(config))
        print(f"\n{config.get('parameters')} parameters, {config.get('flops', 0) / 1e9:.3f} GFLOPs per crop")
    if args.bench is not None and args.bench.is_file():
        print("\nSpeed (ms):\n\n" + speed_table(json.loads(args.bench.read_text())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
