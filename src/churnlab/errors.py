"""The base of every error churnlab raises about its input: a bad spec, dataset, split, model
reference or scoring table. The message names what is wrong (table, column, key, example rows);
the command line prints it and exits 1 without a traceback."""

from __future__ import annotations


class ChurnlabError(ValueError):
    """Bad input or an operation that cannot be done, explained in the message."""


__all__ = ["ChurnlabError"]
