"""Paid churn apart from trial conversion: a spec's population filters the training rows,
travels in the model's feature spec, limits scoring to the accounts it covers, and a paid
model tiers by expected loss; its score file reads as reasons a team can act on."""

from __future__ import annotations

import pickle
import re

import numpy as np
import pandas as pd
import pytest

from churnlab.config import PopulationSpec, SpecError, parse_spec
from churnlab.data import load_dataset
from churnlab.features import FeatureSpec, active_accounts, catalogue
from churnlab.features.population import describe_population, population_mask
from churnlab.features.spec import EVERYONE
from tests.conftest import new_project

FRACTIONAL_DAYS = re.compile(r"\d+\.\d+\s*days?\b")
BASE = {
    "name": "paid",
    "experiment": "population-tests",
    "cutoffs": "2024-03-01:2024-12-01:1M",
    "horizon_days": 60,
}


def test_population_mask_and_words():
    frame = pd.DataFrame(
        {
            "mrr": [0.0, 50.0, 80.0, np.nan, 120.0],
            "plan": ["trial", "basic", "pro", "basic", None],
            "tenure_days": [5.0, 40.0, 400.0, 90.0, 10.0],
        }
    )
    paid = PopulationSpec(paying_only=True)
    assert population_mask(frame, paid).tolist() == [False, True, True, False, True]
    trial = PopulationSpec(plans=["trial"])
    assert population_mask(frame, trial).tolist() == [True, False, False, False, False]
    settled = PopulationSpec(exclude_plans=["trial"], min_tenure_days=30)
    assert population_mask(frame, settled).tolist() == [False, True, True, True, False]
    assert describe_population(paid) == "paying accounts (MRR > 0)"
    assert describe_population(settled) == (
        "plans other than trial; at least 30 days since sign-up"
    )
    assert describe_population(PopulationSpec()) == "every active account"
    with pytest.raises(KeyError, match="plan"):
        population_mask(frame.drop(columns="plan"), trial)


def test_population_spec_errors_name_the_key():
    events = {**BASE, "data": {"path": "d"}, "model": {"family": "logistic"}}
    with pytest.raises(SpecError, match=r"population: .*both included and excluded"):
        parse_spec({**events, "population": {"plans": ["a"], "exclude_plans": ["a"]}})
    with pytest.raises(SpecError, match=r"population\.paying_oly"):
        parse_spec({**events, "population": {"paying_oly": True}})
    table = {"name": "t", "data": {"table": "c.csv", "id": "id", "label": "y"}}
    table["model"] = {"family": "logistic"}
    with pytest.raises(SpecError, match="single customer table has no plans"):
        parse_spec({**table, "population": {"plans": ["pro"]}})
    with pytest.raises(SpecError, match=r"needs the table's MRR column \(data\.mrr\)"):
        parse_spec({**table, "population": {"paying_only": True}})


def test_feature_spec_carries_the_population():
    spec = FeatureSpec(
        kind="events", features=("events_30d",), population=PopulationSpec(paying_only=True)
    )
    back = FeatureSpec.from_dict(spec.to_dict())
    assert back.population.paying_only and back == spec
    # a spec pickled before populations existed reads as everyone
    old = pickle.loads(pickle.dumps(spec))
    del old.__dict__["population"]
    assert old.population == EVERYONE


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    from churnlab.data.simulate import SimulationParams, simulate

    root = tmp_path_factory.mktemp("population-project")
    new_project(root)
    mp = pytest.MonkeyPatch()
    mp.setenv("CHURNLAB_HOME", str(root))
    mp.delenv("MLFLOW_TRACKING_URI", raising=False)
    data = root / "data" / "sim"
    simulate(data, SimulationParams(accounts=600, months=14, seed=11))
    yield root, data
    mp.undo()


def _train(project, name: str, family: str, population: dict):
    import mlflow

    from churnlab.tracking import train_and_log

    root, data = project
    spec = parse_spec(
        {
            **BASE,
            "name": name,
            "registered_model": f"churn-{name}",
            "data": {"path": str(data)},
            "population": population,
            "model": {
                "family": family,
                "params": {"n_estimators": 80} if family == "lightgbm" else {},
            },
        }
    )
    summary = train_and_log(spec, root=root)
    uri = f"models:/churn-{name}/{summary.model_version}"
    return summary, mlflow.pyfunc.load_model(uri).unwrap_python_model(), uri


@pytest.fixture(scope="module")
def paid(project):
    return _train(project, "paid", "lightgbm", {"paying_only": True})


@pytest.fixture(scope="module")
def paid_job(project, paid):
    """The paid model's scores at its test cutoff, from raw data."""
    from churnlab.scoring import score_job

    summary, _, uri = paid
    return score_job(uri, data=project[1], as_of=str(summary.split["test"]["cutoffs"][0])[:10])


def _active(data, as_of) -> pd.DataFrame:
    ds = load_dataset(data)
    return ds.con.to_pyarrow(active_accounts(ds, as_of)).to_pandas()


def test_paid_model_trains_and_scores_paying_accounts_only(project, paid, paid_job):
    _, data = project
    summary, model, _ = paid
    assert model.feature_spec.population.paying_only
    assert model.tier_basis == "expected_loss"
    test_cutoff = str(summary.split["test"]["cutoffs"][0])[:10]
    job = paid_job
    active = _active(data, test_cutoff)
    paying = set(active.loc[active.mrr > 0, "account_id"])
    assert 0 < len(paying) < len(active)  # the data has trials to leave out
    assert set(job.scores.account_id) == paying
    assert job.summary["population"] == "paying accounts (MRR > 0)"


def test_high_tier_reasons_are_plain_words_with_hints(paid, paid_job):
    model = paid[1]
    scores = paid_job.scores
    high = scores[scores.risk_tier == "high"]
    # a small model's contributions are small: some of the high tier has reasons to act on
    assert len(high) > 5 and high.reason_1.notna().sum() >= 5
    descriptions = [r["description"] for r in catalogue(vocabulary=model.feature_spec.vocabulary)]
    texts = [t for c in ("reason_1", "reason_2", "reason_3", "context") for t in high[c].dropna()]
    assert texts
    for text in texts:
        assert not FRACTIONAL_DAYS.search(text), text
        assert not [d for d in descriptions if d in text], text
        assert "unknown" not in text and "(" not in text.split(" ")[0]
    for i in (1, 2, 3):
        given = high[f"reason_{i}"].notna()
        assert high.loc[given, f"hint_{i}"].notna().all()
        assert (
            high.loc[given, f"contribution_{i}"] >= model.reason_settings.min_contribution
        ).all()
    # context (country, plan, tenure, renewal: every account-driver feature) is never a
    # reason to act on; it is listed apart
    assert any(model.reasons[f].context for f in model.features)
    assert "account" not in set(pd.concat([high.driver_1, high.driver_2, high.driver_3]).dropna())


def test_trial_conversion_is_its_own_population_tiered_by_risk(project):
    from churnlab.scoring import score_job

    _, data = project
    summary, model, uri = _train(project, "trials", "logistic", {"plans": ["trial"]})
    assert model.tier_basis == "risk"
    as_of = str(summary.split["test"]["cutoffs"][0])[:10]
    scores = score_job(uri, data=data, as_of=as_of).scores
    ds = load_dataset(data)
    subs = ds.con.to_pyarrow(ds["subscriptions"]).to_pandas()
    at = pd.Timestamp(as_of)
    live = subs[(subs.started_at <= at) & (subs.ended_at.isna() | (subs.ended_at > at))]
    latest = live.sort_values("started_at").groupby("account_id").plan.last()
    assert set(latest.loc[scores.account_id]) == {"trial"}


def test_reason_settings_can_be_edited_at_scoring_time(project, paid, tmp_path):
    from typer.testing import CliRunner

    from churnlab.cli import app
    from churnlab.config import load_reasons

    _, data = project
    summary, _, uri = paid
    as_of = str(summary.split["test"]["cutoffs"][0])[:10]
    edited = tmp_path / "reasons.yaml"
    edited.write_text(
        "reasons:\n  tiers: [high, medium, low]\n  min_contribution: 0.0\n"
        "  hints: {engagement: call them this week, team: call them this week,"
        " billing: call them this week, support: call them this week}\n"
    )
    out = tmp_path / "scores.parquet"
    result = CliRunner().invoke(
        app,
        ["score", "--model", uri, "--data", str(data), "--as-of", as_of, "--out", str(out),
         "--reasons", str(edited)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "population: paying accounts (MRR > 0)" in " ".join(result.output.split())
    scores = pd.read_parquet(out)
    low = scores[scores.risk_tier == "low"]
    assert low.reason_1.notna().any()  # the low tier now gets reasons too
    assert (scores.hint_1 == "call them this week").any()
    bad = tmp_path / "bad.yaml"
    bad.write_text("reasons: {hints: {biling: x}}\n")
    with pytest.raises(SpecError, match=r"reasons\.hints: .*unknown driver"):
        load_reasons(bad)
