"""Settings the notebooks read from the environment, the specs they train, and a runner that
executes ``notebooks/*.py`` (jupytext percent format) top to bottom with the project's Python.

Environment variables (all optional; the defaults are the demo):

* ``CHURNLAB_NB_DATA``: dataset folder (``data/demo``)
* ``CHURNLAB_NB_CUTOFFS``: observation cutoffs (``2024-03-01:2025-12-01:1M``)
* ``CHURNLAB_NB_HORIZON``: horizon in days (``90``)
* ``CHURNLAB_NB_EXPERIMENT``: MLflow experiment the notebooks train into and read the champion
  of (``notebooks``, so running them never moves the demo's champion)
* ``CHURNLAB_NB_FAST``: ``1`` trains small models (60 trees for the LightGBM families; the test
  suite sets it)
"""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import yaml

from churnlab import config
from churnlab.vocab import DEFAULT_EXPERIMENT

log = logging.getLogger(__name__)
KERNEL = "churnlab-venv"


@dataclass(frozen=True)
class NotebookSettings:
    data: Path
    cutoffs: str
    horizon_days: int
    experiment: str
    fast: bool

    @classmethod
    def from_env(cls) -> NotebookSettings:
        root = config.project_root()
        data = Path(os.environ.get("CHURNLAB_NB_DATA", "data/demo"))
        return cls(
            data=data if data.is_absolute() else root / data,
            cutoffs=os.environ.get("CHURNLAB_NB_CUTOFFS", "2024-03-01:2025-12-01:1M"),
            horizon_days=int(os.environ.get("CHURNLAB_NB_HORIZON", "90")),
            experiment=os.environ.get("CHURNLAB_NB_EXPERIMENT", "notebooks"),
            fast=os.environ.get("CHURNLAB_NB_FAST", "0") not in ("", "0", "false"),
        )

    @property
    def model_name(self) -> str:
        return f"churn-{self.experiment}"


def settings() -> NotebookSettings:
    """The notebooks' settings (see the module docstring)."""
    return NotebookSettings.from_env()


def experiment_specs(s: NotebookSettings, folder: str | Path = "experiments") -> list:
    """The project's specs of the demo experiment (paid churn; specs of other experiments,
    such as trial conversion, model another population and stay out of one leaderboard)
    re-pointed at the notebooks' data, cutoffs, horizon and experiment; in fast mode with few
    trees."""
    from churnlab.config import parse_spec

    folder = Path(folder)
    folder = folder if folder.is_absolute() else config.project_root() / folder
    specs = []
    for path in sorted(folder.glob("*.yaml")):
        raw = yaml.safe_load(path.read_text())
        if raw.get("experiment", DEFAULT_EXPERIMENT) != DEFAULT_EXPERIMENT:
            continue
        raw.update(
            data={"path": str(s.data)},
            cutoffs=s.cutoffs,
            horizon_days=s.horizon_days,
            experiment=s.experiment,
            registered_model=None,
        )
        if s.fast and raw["model"]["family"] in ("lightgbm", "lightgbm_survival"):
            raw["model"]["params"] = {**raw["model"].get("params", {}), "n_estimators": 60}
        specs.append(parse_spec(raw, source=path))
    return specs


def uplift_spec(s: NotebookSettings, path: str | Path = "experiments/uplift.yaml"):
    """The project's uplift spec re-pointed at the notebooks' data, cutoffs and horizon. Its
    runs go to the experiment ``<experiment>-uplift`` and register as ``uplift-<experiment>``:
    beside the notebooks' churn experiment, never on its leaderboard (as the project keeps
    ``uplift`` apart from ``demo``). In fast mode: 60 rounds per base model, no
    cross-validated early stopping."""
    from churnlab.config import parse_spec

    path = Path(path)
    path = path if path.is_absolute() else config.project_root() / path
    raw = yaml.safe_load(path.read_text())
    raw.update(
        data={"path": str(s.data)},
        cutoffs=s.cutoffs,
        horizon_days=s.horizon_days,
        experiment=f"{s.experiment}-uplift",
        registered_model=f"uplift-{s.experiment}",
    )
    if s.fast:
        fast = {"n_estimators": 60, "early_stopping_rounds": 0, "cate_n_estimators": 60}
        raw["model"]["params"] = {**raw["model"].get("params", {}), **fast}
    return parse_spec(raw, source=path)


def notebook_paths(root: Path | None = None) -> list[Path]:
    """``notebooks/NN-*.py`` in order."""
    root = root or config.project_root()
    return sorted((root / "notebooks").glob("[0-9][0-9]-*.py"))


# tqdm.auto (used by libraries the notebooks call, e.g. SHAP) looks for ipywidgets in a kernel,
# warns when they are missing and falls back to its plain text bar: the plain bar is what we
# want, the warning is noise (the `-W` syntax: action:message-prefix)
KERNEL_WARNINGS = "ignore:IProgress not found"


@contextmanager
def venv_kernel():
    """A kernelspec named ``churnlab-venv`` that runs this interpreter (the project's venv);
    yields its name and a folder for the kernel's IPC sockets."""
    with tempfile.TemporaryDirectory(prefix="churnlab-kernel-") as tmp:
        spec_dir = Path(tmp) / "kernels" / KERNEL
        spec_dir.mkdir(parents=True)
        warnings = ",".join(filter(None, [os.environ.get("PYTHONWARNINGS"), KERNEL_WARNINGS]))
        (spec_dir / "kernel.json").write_text(
            json.dumps(
                {
                    "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                    "display_name": "churnlab (.venv)",
                    "language": "python",
                    "env": {"PYTHONWARNINGS": warnings},
                }
            )
        )
        old = os.environ.get("JUPYTER_PATH")
        os.environ["JUPYTER_PATH"] = os.pathsep.join(filter(None, [tmp, old]))
        try:
            yield KERNEL, Path(tmp)
        finally:
            if old is None:
                os.environ.pop("JUPYTER_PATH", None)
            else:
                os.environ["JUPYTER_PATH"] = old


def execute_notebooks(
    out: str | Path, paths: list[Path] | None = None, timeout: int = 900
) -> dict[str, float]:
    """Execute each notebook top to bottom in the project root; write the executed ``.ipynb``
    into ``out``. Returns seconds per notebook; raises on the first failing cell."""
    import jupytext
    import nbformat
    from nbclient import NotebookClient
    from traitlets.config import Config

    root = config.project_root()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    seconds = {}
    with venv_kernel() as (kernel, sockets):
        # the kernel talks to this process over Unix sockets in a private temporary folder, not
        # over unencrypted TCP on localhost (which ipykernel warns about at every start)
        transport = Config({"KernelManager": {"transport": "ipc", "ip": str(sockets / "ipc")}})
        for path in paths or notebook_paths(root):
            t0 = time.perf_counter()
            nb = jupytext.read(path)
            client = NotebookClient(
                nb,
                kernel_name=kernel,
                timeout=timeout,
                resources={"metadata": {"path": str(root)}},
                config=transport,
            )
            client.execute()
            target = out / f"{path.stem}.ipynb"
            tmp = target.with_name(f".{target.name}.tmp")
            nbformat.write(nb, str(tmp))
            os.replace(tmp, target)
            seconds[path.stem] = time.perf_counter() - t0
            log.info("executed %s in %.1fs", path.name, seconds[path.stem])
    return seconds
