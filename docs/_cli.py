"""MkDocs hook: the Typer app as a click command for mkdocs-click.

mkdocs.yml loads this file under ``hooks:``; ``on_config`` puts ``docs/`` on ``sys.path`` so
that the ``::: mkdocs-click`` block in ``cli.md`` can import it as the module ``_cli`` and read
``cli``. The CLI reference is therefore generated from ``churnlab.cli:app`` (a module today, a
package exporting ``app`` after the restructure) and nothing in ``src/`` exists for the docs.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer.main

from churnlab.cli import app

cli = typer.main.get_command(app)

_DOCS = str(Path(__file__).resolve().parent)


def on_config(config: Any) -> Any:
    if _DOCS not in sys.path:
        sys.path.insert(0, _DOCS)
    return config
