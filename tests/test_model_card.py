"""The model card's tables come from the metrics files, and each row names the command that made it."""
import json

from occface_core.training import model_card


def _metrics(nme):
    lm = dict(nme68=nme, nme68_found=nme, nme_visible=nme, nme_occluded=2 * nme, fr10=0.1, auc10=0.5,
              no_face=3, images=10)
    return {"landmarks": lm, "visibility": {"roc_auc": 0.9, "occ_ap": 0.8, "f1_05": 0.7},
            "per_source_nme68": {"helen": nme}, "per_source_visibility": {"helen": {"roc_auc": 0.91, "occ_ap": 0.81}}}


def test_tables_show_measured_rows_with_their_commands(tmp_path):
    rows = model_card.rows("D.jsonl", "O.jsonl")
    assert rows[0].out == "occface_val_detect"      # the headline is what the app meets: detector boxes
    gt_row = next(i for i, r in enumerate(rows, 1) if r.out == "occface_val")
    (tmp_path / "occface_val.json").write_text(json.dumps(_metrics(0.125)))
    text = model_card.evaluation_tables(rows, tmp_path)
    assert f"| OccFace [{gt_row}] | val | 0.1250 | 0.1250 | 0.1250 | 0.2500 | 0.1000 | 0.5000 | 3/10 | 0.9000 |" in text
    assert f"python -m occface_core.training.evaluate --data D.jsonl --split val --box gt --model occface --out {tmp_path}/occface_val.json" in text
    assert "helen 0.9100 / 0.8100" in text
    assert "[1]" not in text      # rows without a metrics file are left out, not invented


def test_held_out_summary_averages_the_families_that_were_measured(tmp_path):
    rows = model_card.rows("D.jsonl", "O.jsonl", "F")
    held_out = [r for r in rows if r.dataset.startswith("held-out")]
    assert {r.args.split()[1] for r in held_out} == {f"F/val_occ_{f}/annotations.jsonl" for f in model_card.HELD_OUT_FAMILIES}
    for r, auc in zip([r for r in held_out if r.model == "occface"][:2], (0.9, 0.8)):
        m = _metrics(0.1)
        m["visibility"]["roc_auc"] = auc
        (tmp_path / f"{r.out}.json").write_text(json.dumps(m))
    text = model_card.held_out_summary(rows, tmp_path)
    assert "| OccFace | 2 | 0.8500 | 0.2000 |" in text and "MediaPipe" not in text


def test_evaluate_arguments_parse():
    from occface_core.training import evaluate
    for row in model_card.rows("D.jsonl", "O.jsonl", "missing-families-dir"):
        argv = model_card.evaluate_argv(row, "E")
        assert argv[argv.index("--out") + 1] == f"E/{row.out}.json"
        assert ("--predictions" in argv) == row.predictions
        assert evaluate.main(argv + ["--limit", "1"]) == 2   # the data file does not exist: one clean error
