"""Single-table exports of the simulator and the 20-line baselines they are scored against.

Used by ``bench/train.py`` (sections ``baselines`` and ``single_table_speed``).

An export is what a CRM hands over: one row per account active at one cutoff, the account's
columns as churnlab's own feature builders compute them at that cutoff, ``churned`` (Yes/No:
churn within the 90 days after the cutoff) and ``followup_days`` (days from the cutoff to the
churn, or 90 when the account stayed: the survival target, consistent with the label). Written
as a CSV, read back by churnlab through its single-table loader and by the baselines with
``pandas.read_csv``, exactly as a user's script would.

``bench/train.py`` makes one such export (one simulated population) and draws each seed's
tables from it at random.

The baselines are what a data scientist writes in 20 lines, each trained on every row that is
not a test row (a plain 80/20 split: churnlab holds out a further 20% for early stopping and
calibration, the baselines do not) and scored on churnlab's test rows, matched by id:

* logistic: median imputation, ``StandardScaler``, one-hot, ``LogisticRegression(max_iter=5000)``;
* LightGBM: ``LGBMClassifier`` defaults, text columns as pandas categoricals, ``num_threads`` set;
* Cox: the logistic baseline's preprocessing, lifelines ``CoxPHFitter(penalizer=0.1)`` (churnlab's
  default penalizer: with lifelines' unpenalized default the ~170 collinear simulator columns
  do not converge), constant columns dropped.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

ID, LABEL, FOLLOWUP = "customer_id", "churned", "followup_days"
HORIZON = 90
EXPORT_MONTHS = 12
CUTOFF = "2024-09-01"  # labels complete by 2024-11-30, within the 12 simulated months
SKEWED = 1.0  # |skewness| above which a numeric column counts as skewed
# one thread by default: on a shared, loaded 2-core machine two OpenMP threads spin and wait
THREADS = int(os.environ.get("CHURNLAB_THREADS", "1"))


def export_accounts(seed: int, folder: Path, accounts: int) -> pd.DataFrame:
    """The simulator (``accounts`` sign-ups over 12 months, ``seed``) as one row per account
    active at ``CUTOFF``, with churnlab's features at that cutoff, the label and follow-up."""
    from churnlab.config import parse_spec
    from churnlab.data import SimulationParams, simulate
    from churnlab.training.data import load_training_data

    events = folder / f"events-{seed}"
    if not (events / "dataset.json").exists():
        simulate(events, SimulationParams(accounts=accounts, months=EXPORT_MONTHS, seed=seed))
    spec = parse_spec(
        {
            "name": "export",
            "data": {"path": str(events)},
            "cutoffs": [CUTOFF],
            "horizon_days": HORIZON,
            "model": {"family": "logistic"},
        }
    )
    data = load_training_data(spec)
    f = data.frame[data.frame.label_complete.astype(bool)].reset_index(drop=True)
    out = pd.DataFrame({ID: "A" + f.account_id.astype(str)})
    out = pd.concat([out, f[data.features]], axis=1)
    out[LABEL] = np.where(f.churned_within_h.astype(bool), "Yes", "No")
    out[FOLLOWUP] = np.minimum(f.duration_days.to_numpy(dtype=float), HORIZON).round(2)
    return out


def skewed_columns(table: pd.DataFrame) -> list[str]:
    """Numeric attribute columns with |skewness| above ``SKEWED`` (label-free, whole export)."""
    attrs = table.drop(columns=[ID, LABEL, FOLLOWUP])
    numeric = attrs.select_dtypes("number")
    skew = numeric.skew().abs()
    return sorted(skew[skew > SKEWED].index)


# -- the baselines ---------------------------------------------------------------------------


def _linear_pre(X: pd.DataFrame):
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    num = X.select_dtypes("number").columns.tolist()
    cat = [c for c in X.columns if c not in num]
    return ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), num),
            ("cat", OneHotEncoder(handle_unknown="ignore"), cat),
        ],
        sparse_threshold=0,
    )


def baseline_scores(
    csv: Path, test_ids: set, family: str, seed: int, outside: pd.DataFrame | None = None
) -> pd.DataFrame:
    """The 20-line baseline of ``family`` trained on the rows of ``csv`` not in ``test_ids``;
    its score (higher = more churn) on the test rows, with id, label and follow-up; with
    ``outside`` (export rows not in ``csv``, its columns) on those rows too, after the test
    rows."""
    df = pd.read_csv(csv)
    if outside is not None:
        df = pd.concat([df, outside], ignore_index=True)
        test_ids = set(test_ids) | set(outside[ID])
    y = (df[LABEL] == "Yes").astype(int)
    X = df.drop(columns=[ID, LABEL, FOLLOWUP])
    test = df[ID].isin(test_ids).to_numpy()
    if family == "logistic":
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline

        model = make_pipeline(_linear_pre(X), LogisticRegression(max_iter=5000))
        score = model.fit(X[~test], y[~test]).decision_function(X[test])
    elif family == "lightgbm":
        import lightgbm as lgb

        X = X.apply(lambda c: c if pd.api.types.is_numeric_dtype(c) else c.astype("category"))
        model = lgb.LGBMClassifier(num_threads=THREADS, random_state=seed, verbose=-1)
        score = model.fit(X[~test], y[~test]).predict_proba(X[test])[:, 1]
    elif family == "cox":
        from lifelines import CoxPHFitter

        pre = _linear_pre(X)
        Z = pre.fit_transform(X[~test])
        keep = Z.std(axis=0) > 1e-12
        train = pd.DataFrame(Z[:, keep]).assign(
            T=df[FOLLOWUP][~test].to_numpy(), E=y[~test].to_numpy()
        )
        cph = CoxPHFitter(penalizer=0.1).fit(train, "T", "E")
        score = cph.predict_log_partial_hazard(pd.DataFrame(pre.transform(X[test])[:, keep]))
        score = np.asarray(score)
    else:
        raise ValueError(family)
    return pd.DataFrame(
        {
            ID: df[ID][test].to_numpy(),
            "y": y[test].to_numpy(),
            "d": df[FOLLOWUP][test].to_numpy(),
            "score": score,
        }
    )


def test_metrics(y: np.ndarray, score: np.ndarray, d: np.ndarray | None = None) -> dict:
    """ROC-AUC and PR-AUC of the churn label; with follow-up ``d``, Harrell's C-index too."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    out = {"roc_auc": roc_auc_score(y, score), "pr_auc": average_precision_score(y, score)}
    if d is not None:
        from lifelines.utils import concordance_index

        out["c_index"] = concordance_index(d, -np.asarray(score), y)
    return out


LIGHTGBM_SCRIPT = """\
import sys
import lightgbm as lgb
import pandas as pd
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

df = pd.read_csv(sys.argv[1])
y = (df["{label}"] == "Yes").astype(int)
X = df.drop(columns=["{id}", "{label}"])
X = X.apply(lambda c: c if pd.api.types.is_numeric_dtype(c) else c.astype("category"))
X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.2, stratify=y, random_state=0)
model = lgb.LGBMClassifier(num_threads={threads}, verbose=-1).fit(X_tr, y_tr)
print(roc_auc_score(y_te, model.predict_proba(X_te)[:, 1]))
"""


def lightgbm_script() -> str:
    """The plain LightGBM script the single-table timing compares churnlab with."""
    return LIGHTGBM_SCRIPT.format(label=LABEL, id=ID, threads=THREADS)
