"""Issue 16, items 1, 10, 11 and 13 for what needs a registered model or the tracking store:
`export` never deletes what churnlab did not write (`--out .`, a user's folder, the default
models/NAME beside other exports), exports respect the umask, `score` and `train` check their
outputs before the work, and experiment names cannot leave mlartifacts/. One small logistic
model trained into a real SQLite store; the commands run as real processes."""

from __future__ import annotations

import stat

import mlflow
import pytest

from churnlab.config import SpecError, parse_spec
from churnlab.files import MARKER
from churnlab.tracking import export_model
from tests.conftest import new_project
from tests.reliability.conftest import CUTOFFS, one_line_error, run

NAME = "churn-rel"
URI = f"models:/{NAME}@champion"


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_sim):
    from churnlab.tracking import train_and_log
    from churnlab.tracking.store import connect

    root = tmp_path_factory.mktemp("model-project")
    new_project(root)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CHURNLAB_HOME", str(root))
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        spec = parse_spec(
            {"name": "logistic", "experiment": "rel", "registered_model": NAME,
             "data": {"path": str(tiny_sim)}, "cutoffs": "2024-03-01:2024-10-01:1M",
             "horizon_days": 30, "model": {"family": "logistic"}}
        )  # fmt: skip
        summary = train_and_log(spec, root=root)
        connect()
        mlflow.MlflowClient().set_registered_model_alias(NAME, "champion", summary.model_version)
    return root


def test_export_never_deletes_what_churnlab_did_not_write(trained):
    root = trained
    mine = root / "mine"
    mine.mkdir()
    (mine / "keep.txt").write_text("mine")
    (root / "models").mkdir(exist_ok=True)
    (root / "models" / "notes.md").write_text("my notes on the exports")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CHURNLAB_HOME", str(root))
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        for force in (False, True):
            with pytest.raises(FileExistsError, match=r"did not write.*--force"):
                export_model(URI, mine, force=force)
    message = one_line_error(run("export", "--model", URI, "--out", ".", root=root))
    assert "working folder" in message and "ValueError" not in message
    assert (mine / "keep.txt").read_text() == "mine"

    done = run("export", "--model", URI, root=root, umask=0o022)  # default: models/NAME only
    assert done.returncode == 0, done.stderr
    export = root / "models" / NAME
    assert (export / "MLmodel").exists() and (export / MARKER).exists()
    assert (root / "models" / "notes.md").read_text() == "my notes on the exports"
    assert sorted(p.name for p in (root / "models").iterdir()) == [NAME, "notes.md"]
    folders = [export, *(p for p in export.rglob("*") if p.is_dir())]
    assert {stat.S_IMODE(p.stat().st_mode) for p in folders} == {0o755}
    assert {stat.S_IMODE(p.stat().st_mode) for p in export.rglob("*") if p.is_file()} == {0o644}


def test_score_and_train_check_outputs_before_the_work(trained, tiny_sim):
    root = trained
    (root / "scores.parquet").mkdir()
    done = run("score", "--model", URI, "--data", str(tiny_sim), "--out", "scores.parquet",
               root=root)  # fmt: skip
    assert "scores.parquet: is a folder" in one_line_error(done)

    project = root / "other-project"
    project.mkdir()
    (project / "pyproject.toml").write_text('[project]\nname = "churnlab"\n')
    (project / "mlartifacts").write_text("not a folder")
    train = ("train", "--data", str(tiny_sim), "--cutoffs", CUTOFFS, "--model", "logistic")
    assert "mlartifacts: exists and is not a folder" in one_line_error(run(*train, root=project))
    assert not (project / "mlflow.db").exists()  # failed before any run was started

    # item 13: an experiment name that would leave mlartifacts/ is refused before any work
    (project / "mlartifacts").unlink()
    message = one_line_error(run(*train, "--experiment", "../../x", root=project))
    assert "experiment" in message and "../../x" in message
    assert not (project / "mlflow.db").exists() and not (root / "x").exists()


@pytest.mark.parametrize("name", ["../../x", "/abs", ".hidden", "a/b", "", "x" * 101])
def test_experiment_names_are_validated(name):
    with pytest.raises(SpecError, match="experiment"):
        parse_spec({"name": "n", "experiment": name, "data": {"path": "d"}, "cutoffs": "2024-01-01",
                    "model": {"family": "logistic"}})  # fmt: skip
