"""A spec's model.params: every family's own keywords and its library's parameter names pass,
anything else is an error naming the key and the nearest valid name (no silent default)."""

from __future__ import annotations

import pytest

from churnlab.config import SpecError, parse_spec
from churnlab.modeling import check_model_params, make_estimator


def _spec(family: str, params: dict, search_space: dict | None = None):
    raw = {
        "name": "p",
        "data": {"path": "data/demo"},
        "cutoffs": "2024-03-01",
        "model": {"family": family, "params": params},
    }
    if search_space:
        raw["search_space"] = search_space
    return parse_spec(raw)


@pytest.mark.parametrize(
    ("family", "typo", "meant"),
    [
        ("lightgbm", "num_leave", "num_leaves"),
        ("lightgbm", "learning_rat", "learning_rate"),
        ("lightgbm", "bagging_fractio", "bagging_fraction"),  # a LightGBM name, not a keyword
        ("lightgbm_survival", "interval_day", "interval_days"),
        ("logistic", "slover", "solver"),  # LogisticRegression's, through extra_params
        ("cox", "penaliser", "penalizer"),
    ],
)
def test_unknown_params_name_the_key_and_the_nearest_name(family, typo, meant):
    with pytest.raises(SpecError) as caught:
        check_model_params(_spec(family, {typo: 1}))
    assert f"model.params.{typo}: not a parameter of the {family} family" in str(caught.value)
    assert f"did you mean {meant!r}?" in str(caught.value)
    with pytest.raises(SpecError, match=typo):  # the estimator itself refuses it too
        make_estimator(family, {typo: 1})


def test_library_parameters_and_aliases_pass():
    # LightGBM's own names and aliases, and the scikit-learn API's names
    lgbm = {"num_leaves": 7, "lambda_l1": 0.1, "min_data_in_leaf": 5, "max_bin": 63, "reg_alpha": 0}
    check_model_params(_spec("lightgbm", lgbm))
    est = make_estimator("lightgbm", lgbm)
    assert est.num_leaves == 7 and est.extra_params["min_data_in_leaf"] == 5
    check_model_params(_spec("logistic", {"C": 1.0, "solver": "saga", "l1_ratio": 0.5}))
    check_model_params(_spec("cox", {"penalizer": 0.2, "numeric_transform": "scale"}))


def test_search_space_keys_are_checked():
    space = {"num_leafs": {"type": "int", "low": 4, "high": 31}}
    with pytest.raises(SpecError, match=r"search_space\.num_leafs: .*did you mean 'num_leaves'"):
        check_model_params(_spec("lightgbm", {}, space))


def test_train_refuses_a_typo_before_any_run(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from churnlab.cli import app

    (tmp_path / "pyproject.toml").write_text('[project]\nname = "churnlab"\n')
    monkeypatch.setenv("CHURNLAB_HOME", str(tmp_path))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    spec = tmp_path / "typo.yaml"
    spec.write_text(
        "name: typo\ndata: {path: nowhere}\ncutoffs: '2024-03-01'\n"
        "model: {family: lightgbm, params: {num_leave: 15}}\n"
    )
    res = CliRunner().invoke(app, ["train", str(spec)])
    assert res.exit_code == 1
    assert "model.params.num_leave: not a parameter of the lightgbm family; did you mean " in (
        res.output
    )
    assert not (tmp_path / "mlflow.db").exists()
