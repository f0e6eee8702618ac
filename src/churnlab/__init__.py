"""churnlab: a predictive churn modeling workbench."""

import os
from importlib.metadata import PackageNotFoundError, version


def passive_openmp_waits() -> None:
    """``OMP_WAIT_POLICY=PASSIVE`` for this process unless the environment says otherwise
    (``OMP_WAIT_POLICY`` or ``GOMP_SPINCOUNT`` set): OpenMP threads waiting at one of the
    hundreds of barriers a LightGBM tree takes then sleep instead of spinning. On a shared
    machine a spinning thread waits for one the scheduler has put aside: 2 threads on a busy
    2-core machine took 280-560 ms per tree (200,000-row table) against 21-37 ms passive and
    18-99 ms on one thread. On an idle machine spinning is faster (10-12 ms per tree against
    16-18 ms): set ``OMP_WAIT_POLICY=ACTIVE`` there. Read once, when the OpenMP runtime is
    loaded (LightGBM's first import), so set on importing churnlab."""
    if "OMP_WAIT_POLICY" not in os.environ and "GOMP_SPINCOUNT" not in os.environ:
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"


passive_openmp_waits()

try:
    __version__ = version("churnlab")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0"

__all__ = ["__version__"]
