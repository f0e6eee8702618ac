"""Optuna tuning without MLflow: search spaces, the objective (never on the test cutoff),
pruning reports on the study's metric, and studies that refuse to resume a changed spec."""

from __future__ import annotations

import numpy as np
import optuna
import pytest
from sklearn.metrics import average_precision_score, log_loss

from churnlab.config import SpecError, parse_spec
from churnlab.training.data import load_training_data
from churnlab.training.train import make_splits
from churnlab.training.tuning import (
    DEFAULT_SEARCH_SPACES,
    LightGBMPruningCallback,
    TrialObjective,
    TuningError,
    open_study,
    suggest,
    tune,
)
from churnlab.training.tuning import trial_fold as fold_of
from tests.tracking.conftest import small_spec

FAST = {"n_estimators": 40, "early_stopping_rounds": 20}


@pytest.fixture(autouse=True)
def one_thread(monkeypatch):
    # two LightGBM threads on a shared 2-core machine are many times slower than one
    monkeypatch.setenv("CHURNLAB_THREADS", "1")


@pytest.fixture(scope="module")
def lgb_data(small_sim):
    spec = small_spec(small_sim, "lightgbm", model={"family": "lightgbm", "params": FAST})
    data = load_training_data(spec)
    return spec, data, make_splits(spec, data)


def test_search_space_is_validated_with_the_key_named(small_sim):
    base = {
        "name": "s",
        "data": {"path": str(small_sim)},
        "cutoffs": "2024-03-01:2025-06-01:1M",
        "model": {"family": "lightgbm"},
    }
    ok = parse_spec(
        {
            **base,
            "search_space": {
                "num_leaves": {"type": "int", "low": 7, "high": 63, "log": True},
                "learning_rate": {"type": "log", "low": 0.01, "high": 0.3},
                "boosting": {"type": "categorical", "choices": ["gbdt", "dart"]},
            },
        }
    )
    assert ok.search_space["learning_rate"].type == "log"
    bad = {
        "num_leaves": {"type": "int", "low": 7, "hi": 63},
        "learning_rate": {"type": "log", "low": 0, "high": 0.3},
        "subsample": {"type": "float", "low": 0.9, "high": 0.5},
        "boosting": {"type": "categorical", "choices": []},
        "reg_alpha": {"type": "uniform", "low": 0, "high": 1},
    }
    with pytest.raises(SpecError) as exc:
        parse_spec({**base, "search_space": bad})
    msg = str(exc.value)
    for where in (
        "search_space.num_leaves.hi: Extra inputs",
        "search_space.learning_rate: Value error, a log scale needs 'low' > 0",
        "search_space.subsample: Value error, 'low' (0.9) must be below 'high' (0.5)",
        "search_space.boosting: Value error, categorical needs a non-empty 'choices'",
        "search_space.reg_alpha.type:",
    ):
        assert where in msg, (where, msg)
    with pytest.raises(SpecError, match=r"tuning\.trilas"):
        parse_spec({**base, "tuning": {"trilas": 5}})
    with pytest.raises(SpecError, match="backtest_folds"):
        parse_spec({**base, "tuning": {"objective": "backtest"}})


def test_default_spaces_cover_every_family_and_stay_in_bounds():
    assert set(DEFAULT_SEARCH_SPACES) == {"logistic", "lightgbm", "cox", "lightgbm_survival"}
    assert {"penalizer", "l1_ratio"} <= set(DEFAULT_SEARCH_SPACES["cox"])
    assert set(DEFAULT_SEARCH_SPACES["lightgbm"]) < set(DEFAULT_SEARCH_SPACES["lightgbm_survival"])
    assert "interval_days" in DEFAULT_SEARCH_SPACES["lightgbm_survival"]
    for family, space in DEFAULT_SEARCH_SPACES.items():
        study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
        for _ in range(20):
            values = suggest(study.ask(), space)
            for name, p in space.items():
                v = values[name]
                if p.type == "categorical":
                    assert v in p.choices, (family, name, v)
                else:
                    assert p.low <= v <= p.high, (family, name, v)
                    assert isinstance(v, int) == (p.type == "int"), (family, name, v)


def test_objective_never_reads_the_test_cutoff(lgb_data):
    """Trial values are unchanged when the test labels are corrupted, and do change when the
    validation labels are (so the comparison can fail)."""
    spec, data, splits = lgb_data

    def values(part=None):
        d = data
        if part is not None:
            frame = data.frame.copy()
            m = splits[0].masks[part]
            frame.loc[m, "churned_within_h"] = ~frame.loc[m, "churned_within_h"].astype(bool)
            d = type(data)(**{**vars(data), "frame": frame})
        res = tune(spec, d, splits, storage=None, trials=3)
        return [t.value for t in res.study.trials]

    clean = values()
    assert len(clean) == 3 and all(0 < v < 1 for v in clean)
    assert values(part="test") == clean
    assert values(part="validation") != clean


def test_pruning_reports_the_study_metric(lgb_data):
    """Each report is the spec's metric (PR-AUC here: higher is better, as the study
    maximizes) on the validation rows at that boosting round."""
    _, data, splits = lgb_data
    f = fold_of(data, splits[0], "lightgbm")
    study = optuna.create_study(direction="maximize")
    trial = study.ask()
    from churnlab.modeling import make_estimator

    est = make_estimator(
        "lightgbm",
        params={"n_estimators": 30, "early_stopping_rounds": 1000},
        callbacks=[LightGBMPruningCallback(trial, "pr_auc", report_every=10)],
    ).fit(f.X, f.y, eval_set=(f.X_val, f.y_val))
    reports = study.trials[0].intermediate_values
    assert sorted(reports) == [10, 20, 30]
    Xv = est.prepare(f.X_val)
    for step, value in reports.items():
        p = est.booster_.predict(Xv, num_iteration=step)
        assert value == pytest.approx(average_precision_score(f.y_val, p))

    # log loss is minimized: the report is the loss itself, not a flipped score
    study = optuna.create_study(direction="minimize")
    trial = study.ask()
    est = make_estimator(
        "lightgbm",
        params={"n_estimators": 10, "early_stopping_rounds": 1000},
        callbacks=[LightGBMPruningCallback(trial, "log_loss", report_every=10)],
    ).fit(f.X, f.y, eval_set=(f.X_val, f.y_val))
    p = est.booster_.predict(Xv, num_iteration=10)
    assert study.trials[0].intermediate_values[10] == pytest.approx(log_loss(f.y_val, p))


def test_a_pruned_trial_stops_early(lgb_data):
    spec, data, splits = lgb_data
    spec = spec.model_copy(
        update={"model": spec.model.model_copy(update={"params": {"n_estimators": 200}})}
    )
    study = optuna.create_study(
        direction="maximize", pruner=optuna.pruners.ThresholdPruner(lower=0.99)
    )
    study.optimize(TrialObjective(spec, data, splits), n_trials=2)
    assert [t.state.name for t in study.trials] == ["PRUNED", "PRUNED"]
    assert all(max(t.intermediate_values) == 10 for t in study.trials)


def test_a_changed_spec_does_not_resume_the_study(lgb_data, tmp_path):
    spec, data, splits = lgb_data
    db = tmp_path / "optuna.db"
    first = tune(spec, data, splits, storage=db, trials=2)
    assert first.counts["complete"] + first.counts["pruned"] == 2
    again = tune(spec, data, splits, storage=db, trials=3)
    assert sum(again.counts.values()) == 3 and again.new_trials == 1
    changed = spec.model_copy(update={"metric": "roc_auc"})
    with pytest.raises(TuningError, match="different spec"):
        open_study(changed, data, db)
    assert len(open_study(spec, data, db).trials) == 3  # the refusal changed nothing
    assert open_study(changed, data, db, fresh=True).trials == []
    # every trial failing (here: LightGBM's params handed to the Cox family) is an error
    # naming why
    with pytest.raises(TuningError, match=r"unknown model\.params"):
        tune(
            spec.model_copy(update={"model": spec.model.model_copy(update={"family": "cox"})}),
            data,
            splits,
        )


def test_survival_trials_train_on_targets_censored_at_the_validation_cutoff(lgb_data):
    """A survival family's trial sees every training cutoff before the validation cutoff, with
    follow-up cut there: no training duration reaches past it, later churns are censorings."""
    import numpy as np
    import pandas as pd

    _, data, splits = lgb_data
    f = fold_of(data, splits[0], "cox")
    val_cut = pd.Timestamp(splits[0].cutoffs["validation"][0])
    frame = data.frame
    cut = pd.to_datetime(frame.cutoff)
    train = (cut < val_cut).to_numpy()
    follow_up = ((val_cut - cut[train]).dt.days).to_numpy()
    assert len(f.X) == train.sum() > splits[0].masks["train"].sum()  # open windows included
    assert (f.duration <= follow_up + 1e-9).all()
    later = frame.event.to_numpy()[train].astype(bool) & (
        frame.duration_days.to_numpy()[train] > follow_up
    )
    assert later.any() and not f.event[later].any()
    assert np.array_equal(f.X_val.index, frame.index[splits[0].masks["validation"]])
    assert len(f.eval_extra) == 2  # validation durations and events for early stopping


def test_backtest_objective_is_the_mean_over_folds(lgb_data):
    spec, data, _ = lgb_data
    spec = spec.model_copy(
        update={
            "split": spec.split.model_copy(update={"backtest_folds": 2}),
            "tuning": spec.tuning.model_copy(update={"objective": "backtest"}),
        }
    )
    splits = make_splits(spec, data)
    res = tune(spec, data, splits, trials=2, pruner="none")
    for t in res.study.trials:
        folds = t.user_attrs["fold_values"]
        assert len(folds) == 2 and folds[0] != folds[1]
        assert t.value == pytest.approx(sum(folds) / 2)


def test_trials_bin_the_rows_once_and_fit_as_a_fresh_model_would(lgb_data):
    """Trials share one binned Dataset per fold; a fit on it equals a fit that bins afresh
    (even when min_child_samples, which LightGBM may pre-filter features by, changes). Other
    rows, or other binning params or seed, get Datasets of their own."""
    from churnlab.modeling import make_estimator

    _, data, splits = lgb_data
    f = fold_of(data, splits[0], "lightgbm")
    cache: dict = {}

    def check(X, y, seed=42, **params):
        params = {**FAST, **params}
        shared = make_estimator("lightgbm", params=params, seed=seed, datasets=cache)
        shared.fit(X, y, eval_set=(f.X_val, f.y_val))
        fresh = make_estimator("lightgbm", params=params, seed=seed)
        fresh.fit(X, y, eval_set=(f.X_val, f.y_val))
        assert shared.best_iteration_ == fresh.best_iteration_
        np.testing.assert_array_equal(shared.predict_raw(f.X_val), fresh.predict_raw(f.X_val))
        return cache["train"]

    first = check(f.X, f.y, min_child_samples=20)
    assert check(f.X, f.y, min_child_samples=5) is first  # reused, not rebuilt
    coarse = check(f.X, f.y, max_bin=31)
    assert coarse is not first  # binned otherwise: rebuilt
    assert check(f.X, f.y, max_bin=31, seed=7) is not coarse  # bins sampled with another seed
    other = f.X.copy()
    other[other.columns[0]] = other[other.columns[0]].sample(frac=1, random_state=0).to_numpy()
    before = check(f.X, f.y)
    assert check(other, f.y) is not before  # same shape, other values: rebuilt

    objective = TrialObjective(lgb_data[0], data, splits)
    assert objective.datasets == [{}]  # one cache per fold, filled by the first trial


@pytest.mark.parametrize("calibration", ["sigmoid", "isotonic"])
def test_a_trial_scores_what_the_calibrated_model_scores(lgb_data, calibration, monkeypatch):
    """Under sigmoid calibration PR-AUC trials skip calibrating (a monotone map of the margin);
    either way a trial's value is the PR-AUC of the calibrated model with its params."""
    from churnlab.modeling import estimator_for
    from churnlab.training.calibration import CalibratedChurnModel

    spec, data, splits = lgb_data
    spec = spec.model_copy(
        update={"model": spec.model.model_copy(update={"calibration": calibration})}
    )
    calibrated = []
    fit = CalibratedChurnModel.fit

    def spy(self, *args, **kwargs):
        calibrated.append(self.method)
        return fit(self, *args, **kwargs)

    objective = TrialObjective(spec, data, splits, prune=False)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=0))
    with monkeypatch.context() as m:
        m.setattr(CalibratedChurnModel, "fit", spy)
        study.optimize(objective, n_trials=2)
    assert calibrated == ([] if calibration == "sigmoid" else ["isotonic"] * 2)
    f = objective.folds[0]
    for t in study.trials:
        est = estimator_for(spec, {**spec.model.params, **t.params})
        est.fit(f.X, f.y, eval_set=(f.X_val, f.y_val))
        model = CalibratedChurnModel(est, calibration).fit(f.X_val, f.y_val)
        expected = average_precision_score(f.y_val, model.predict_risk(f.X_val))
        assert t.value == pytest.approx(expected, abs=1e-9)


def test_an_interrupt_outside_a_trial_stops_the_study_after_its_callbacks(lgb_data):
    """SIGTERM while Optuna stores a trial or callbacks log it is held (an interrupt inside
    Optuna's bookkeeping breaks its _run_trial): the callbacks finish, the study stops and
    raises KeyboardInterrupt; no trial is failed for it."""
    import os
    import signal

    spec, data, splits = lgb_data
    logged = []

    def callback(study, trial):
        if trial.number == 1:
            os.kill(os.getpid(), signal.SIGTERM)  # handled at once, in this thread
        logged.append(trial.number)  # not cut short by the signal

    study = optuna.create_study(direction="maximize")
    handler = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt, match="SIGTERM"):
        tune(spec, data, splits, trials=5, pruner="none", study=study, callbacks=[callback])
    assert logged == [0, 1]
    assert [t.state.name for t in study.trials] == ["COMPLETE", "COMPLETE"]
    assert signal.getsignal(signal.SIGTERM) == handler  # restored


def test_an_interrupt_inside_a_trial_stops_it_at_once(lgb_data, monkeypatch):
    """Ctrl-C inside the objective raises there: that trial fails, the study stops, the
    previous handler is back and nothing is left set to raise."""
    import os
    import signal

    from churnlab.training import tuning
    from churnlab.training.tuning import interrupts

    spec, data, splits = lgb_data
    reached = []

    def metric(y, score):
        os.kill(os.getpid(), signal.SIGINT)
        reached.append(True)  # never: the signal raises first
        return 0.5

    monkeypatch.setitem(tuning.RANKING_METRICS, "pr_auc", metric)
    study = optuna.create_study(direction="maximize")
    handler = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt, match="SIGINT"):
        tune(spec, data, splits, trials=3, pruner="none", study=study)
    assert reached == []
    assert [t.state.name for t in study.trials] == ["FAIL"]
    assert signal.getsignal(signal.SIGINT) == handler
    assert not interrupts.INTERRUPTS.raising and interrupts.INTERRUPTS.pending is None


def _draws(sampler, storage, name, n):
    study = optuna.create_study(
        storage=storage, study_name=name, load_if_exists=True, sampler=sampler
    )
    study.optimize(lambda t: t.suggest_float("x", 0, 1) + t.suggest_int("k", 1, 100), n_trials=n)
    return [t.params for t in study.trials]


def test_workers_seeded_alike_draw_different_parameters_and_one_worker_repeats(tmp_path):
    """A second worker (same spec seed) joining a study does not repeat the first one's draws;
    one worker alone draws the same trials for the same seed."""
    from churnlab.training.tuning.study import TrialSeededTPE

    storage = f"sqlite:///{tmp_path / 'shared.db'}"
    first = _draws(TrialSeededTPE(7), storage, "s", 2)
    both = _draws(TrialSeededTPE(7), storage, "s", 2)  # a new process, the same seed
    params = [tuple(sorted(p.items())) for p in both]
    assert len(both) == 4 and len(set(params)) == 4, params
    assert both[:2] == first
    again = _draws(TrialSeededTPE(7), None, "alone", 4)
    assert again == _draws(TrialSeededTPE(7), None, "alone", 4)
    assert again[:2] == first  # the same seed and history give the same trials


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_an_interrupt_swallowed_inside_a_trial_still_stops_the_study(lgb_data, monkeypatch):
    """A signal whose KeyboardInterrupt is raised where Python swallows it (a ``__del__``, run
    by whatever code drops the last reference) is not lost: the trial ends, the study stops
    and the interrupt is raised after it (a SIGTERM'd tune once ran on to its budget)."""
    import os
    import signal

    from churnlab.training import tuning
    from churnlab.training.tuning import interrupts

    spec, data, splits = lgb_data

    class SignalsOnCollection:
        def __del__(self):
            os.kill(os.getpid(), signal.SIGINT)  # its KeyboardInterrupt is printed and ignored

    def metric(y, score):
        SignalsOnCollection()  # collected at once
        return 0.5

    monkeypatch.setitem(tuning.RANKING_METRICS, "pr_auc", metric)
    study = optuna.create_study(direction="maximize")
    with pytest.raises(KeyboardInterrupt, match="SIGINT"):
        tune(spec, data, splits, trials=3, pruner="none", study=study)
    assert [t.state.name for t in study.trials] == ["COMPLETE"]
    assert not interrupts.INTERRUPTS.raising and interrupts.INTERRUPTS.pending is None
