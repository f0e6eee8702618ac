"""Issue 16, item 14: `make clean` removes only what churnlab made and can remake; the stores
(run history, registry, studies) go only with the explicit `make clean-stores`, and `make help`
lists it. The real Makefile, run by make in a scratch copy of a project."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from churnlab.data.simulate import SimulationParams, simulate

MAKEFILE = Path(__file__).resolve().parents[2] / "Makefile"


def _make(root: Path, *targets: str) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "-s", *targets], cwd=root, capture_output=True, text=True,
                          timeout=60)  # fmt: skip


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_clean_keeps_user_data_runs_and_exports(tmp_path):
    root = tmp_path
    shutil.copy(MAKEFILE, root / "Makefile")
    simulate(root / "data" / "demo", SimulationParams(accounts=20, months=2))
    files = {
        "data/my_crm_export.csv": "mine", "data/raw/events.parquet": "mine",
        "data/features.parquet": "made", "data/scores.parquet": "made",
        "data/cache/features/k.parquet": "made", "site/index.html": "made",
        "reports/r.html": "made", "mlflow.db": "runs", "optuna.db": "studies",
        "mlartifacts/1/a.txt": "runs", "models/churn-demo/MLmodel": "export",
    }  # fmt: skip
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)

    done = _make(root, "clean")
    assert done.returncode == 0, done.stderr
    kept = {n for n in files if (root / n).exists()}
    assert kept == {"data/my_crm_export.csv", "data/raw/events.parquet", "mlflow.db",
                    "optuna.db", "mlartifacts/1/a.txt", "models/churn-demo/MLmodel"}  # fmt: skip
    assert not (root / "data" / "demo").exists()  # simulated by churnlab: remade by make data

    # a data/demo churnlab did not make is kept
    (root / "data" / "demo").mkdir()
    (root / "data" / "demo" / "accounts.csv").write_text("mine")
    assert "kept data/demo" in _make(root, "clean").stdout
    assert (root / "data" / "demo" / "accounts.csv").exists()

    assert _make(root, "clean-stores").returncode == 0
    assert not any((root / n).exists() for n in ("mlflow.db", "optuna.db", "mlartifacts"))
    assert (root / "models/churn-demo/MLmodel").exists()
    assert (root / "data/my_crm_export.csv").exists()
    assert "clean-stores" in _make(root, "help").stdout
