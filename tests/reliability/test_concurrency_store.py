"""Issue 16, item 5: the first use of a new mlflow.db by several processes at once (alembic
creates and migrates its tables) must not crash any of them."""

from __future__ import annotations

from tests.reliability.conc_support import start


def test_three_commands_at_once_on_a_fresh_store(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "churnlab"\n')
    for attempt in range(2):
        root = tmp_path / f"try{attempt}"
        root.mkdir()
        (root / "pyproject.toml").write_text('[project]\nname = "churnlab"\n')
        procs = [start(root, "compare", "--experiment", "nothing-yet") for _ in range(3)]
        outs = [p.communicate(timeout=120) for p in procs]
        for proc, (_, err) in zip(procs, outs, strict=True):
            assert "Traceback" not in err, err
            assert proc.returncode == 1
            assert "no MLflow experiment named 'nothing-yet'" in err
