"""``python -m churnlab.cli``."""

from churnlab.cli import app

app()
