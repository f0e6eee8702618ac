"""churnlab: a predictive churn modeling workbench."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("churnlab")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0"

__all__ = ["__version__"]
