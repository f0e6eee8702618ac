"""Issue 16, items 8 and 9: promotions at once are serialised and compare-and-set (none is
lost, ``previous`` holds the champion each one displaced); a version whose run did not finish
is never used by alias."""

from __future__ import annotations

import json

from tests.reliability.conc_support import fake_versions, make_project, run, start


def test_promotions_at_once_lose_nothing(tmp_path):
    root = make_project(tmp_path / "proj")
    client, (v1, v2, v3) = fake_versions(
        root,
        "churn-rel",
        [
            {"pr_auc": 0.1, "roc_auc": 0.5},
            {"pr_auc": 0.9, "roc_auc": 0.6},  # best by pr_auc
            {"pr_auc": 0.2, "roc_auc": 0.9},  # best by roc_auc
        ],
    )
    client.set_registered_model_alias("churn-rel", "champion", v1)
    args = ["promote", "--experiment", "rel", "--model", "churn-rel", "--force", "--json"]
    procs = [start(root, *args, "--metric", m) for m in ("pr_auc", "roc_auc")]
    outcomes = []
    for proc in procs:
        out, err = proc.communicate(timeout=400)
        assert proc.returncode == 0, err
        outcomes.append(json.loads(out))
    done = [o for o in outcomes if o["promoted"]]
    assert done
    # v1 is the best by neither metric: exactly one promotion can have displaced it
    assert sum(o["previous"] == v1 for o in done) == 1, done
    champion = str(client.get_model_version_by_alias("churn-rel", "champion").version)
    previous = str(client.get_model_version_by_alias("churn-rel", "previous").version)
    assert champion in (v2, v3) and previous != champion
    if len(done) > 1:
        assert previous != v1, done


def test_a_version_whose_run_did_not_finish_is_not_used_by_alias(tmp_path):
    root = make_project(tmp_path / "proj")
    client, (v1,) = fake_versions(root, "churn-rel", [{"pr_auc": 0.5}], status="KILLED")
    client.set_registered_model_alias("churn-rel", "champion", v1)
    done = run(
        root, "score", "--model", "models:/churn-rel@champion", "--data", "data/sim",
        "--out", "s.parquet",
    )  # fmt: skip
    assert done.returncode == 1
    assert "KILLED, not FINISHED" in done.stderr
    assert "Traceback" not in done.stderr
