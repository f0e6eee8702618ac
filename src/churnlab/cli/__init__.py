"""The ``churnlab`` command line: one module per stage, each command parses its options, calls
one library function and prints the result (rich) or emits it as JSON."""

# isort: off
# the stages register their commands in pipeline order (the order `churnlab --help` lists)
from churnlab.cli import data, features, train, registry, score, monitor, report  # noqa: F401
from churnlab.cli.app import app

# isort: on

__all__ = ["app"]
