"""churnlab: a predictive churn modeling workbench."""

import os
from importlib.metadata import PackageNotFoundError, version


def short_openmp_spins() -> None:
    """``GOMP_SPINCOUNT=1000`` for this process unless the environment says otherwise
    (``OMP_WAIT_POLICY`` or ``GOMP_SPINCOUNT`` set): an OpenMP thread waiting at one of the
    hundreds of barriers a LightGBM tree takes spins briefly, then sleeps. On a shared machine
    a long-spinning thread waits for one the scheduler has put aside. 20,000-row table, 2
    threads, LightGBM fit seconds (quiet machine / 2 busy processes on the 2 cores): libgomp's
    default 1.38-1.74 / 7.57, ``OMP_WAIT_POLICY=PASSIVE`` 3.56 / 3.45, 1,000 spins 1.64 /
    3.34. Read once, when the OpenMP runtime is loaded (LightGBM's first import), so set on
    importing churnlab."""
    if "OMP_WAIT_POLICY" not in os.environ and "GOMP_SPINCOUNT" not in os.environ:
        os.environ["GOMP_SPINCOUNT"] = "1000"


short_openmp_spins()

try:
    __version__ = version("churnlab")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0"

__all__ = ["__version__"]
