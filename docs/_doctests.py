"""Griffe extension for the API reference: doctest lines in prose render as Python code.

churnlab's docstrings put short ``>>>`` examples in the running text (no ``Examples:`` section).
Markdown would read them as nested block quotes and their output lists, such as
``['2024-03-01', ...]``, as cross-references, which fails the strict build. This wraps each such
block in a fenced ``pycon`` block before the docstring is parsed. Docstrings with an
``Examples:`` section are left to the Google parser. mkdocs.yml loads this file under the python
handler's ``extensions``; nothing in ``src/`` changes for the docs.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_EXAMPLES_SECTION = re.compile(r"^\s*Examples?:\s*$", re.MULTILINE)


def fence_doctests(text: str) -> str:
    """Wrap each run of lines starting at a ``>>>`` line (up to a blank line) in a pycon fence."""
    out: list[str] = []
    in_fence = in_doctest = False
    indent = 0
    for line in text.split("\n"):
        stripped = line.lstrip()
        if in_doctest and not stripped:
            out.append(" " * indent + "```")
            in_doctest = False
        elif not in_doctest and not in_fence and stripped.startswith(">>>"):
            indent = len(line) - len(stripped)
            out.append(" " * indent + "```pycon")
            in_doctest = True
        elif not in_doctest and stripped.startswith("```"):
            in_fence = not in_fence
        out.append(line)
    if in_doctest:
        out.append(" " * indent + "```")
    return "\n".join(out)


class FenceDoctests(griffe.Extension):
    """Fence prose doctests in every docstring griffe loads."""

    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        doc = obj.docstring
        if doc is None or ">>>" not in doc.value or _EXAMPLES_SECTION.search(doc.value):
            return
        doc.value = fence_doctests(doc.value)
