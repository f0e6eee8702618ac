"""Where models logged before churnlab 0.2 found their pyfunc class (pickled by reference)."""

from churnlab.model.pyfunc import ChurnModel

__all__ = ["ChurnModel"]
