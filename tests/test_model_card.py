"""The model card's tables come from the metrics files, and each row names the command that made it."""
import json

from occface_core import model_card


def _metrics(nme):
    lm = dict(nme68=nme, nme68_found=nme, nme_visible=nme, nme_occluded=2 * nme, fr10=0.1, auc10=0.5,
              no_face=3, images=10)
    return {"landmarks": lm, "visibility": {"roc_auc": 0.9, "occ_ap": 0.8, "f1_05": 0.7},
            "per_source_nme68": {"helen": nme}, "per_source_visibility": {"helen": {"roc_auc": 0.91, "occ_ap": 0.81}}}


def test_tables_show_measured_rows_with_their_commands(tmp_path):
    rows = model_card.rows("D.jsonl", "O.jsonl")
    (tmp_path / f"{rows[0].out}.json").write_text(json.dumps(_metrics(0.125)))
    text = model_card.evaluation_tables(rows, tmp_path)
    assert "| OccFace [1] | val | 0.1250 | 0.1250 | 0.1250 | 0.2500 | 0.1000 | 0.5000 | 3/10 | 0.9000 |" in text
    assert f"python -m occface_core.evaluate --data D.jsonl --split val --box gt --model occface --out {tmp_path}/occface_val.json" in text
    assert "helen 0.9100 / 0.8100" in text
    assert "[2]" not in text      # rows without a metrics file are left out, not invented


def test_evaluate_arguments_parse():
    from occface_core import evaluate
    for row in model_card.rows("D.jsonl", "O.jsonl"):
        argv = model_card.evaluate_argv(row, "E")
        assert argv[argv.index("--out") + 1] == f"E/{row.out}.json"
        assert ("--predictions" in argv) == row.predictions
        assert evaluate.main(argv + ["--limit", "1"]) == 2   # the data file does not exist: one clean error
