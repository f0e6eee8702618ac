"""The documentation: the README's promises and a CLI reference with every command and option.

`make docs` (run by `make test` before the suite) builds the site with `mkdocs build --strict`;
these checks cover what a clean build cannot see.
"""

from __future__ import annotations

import re
from pathlib import Path

import markdown
import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def test_readme_is_short_and_keeps_the_two_commands() -> None:
    text = README.read_text(encoding="utf-8")
    assert len(text.encode("utf-8")) <= 8000
    assert "make run" in text and "make test" in text


def test_readme_links_are_relative_and_exist() -> None:
    targets = re.findall(r"\]\(([^)\s]+)\)", README.read_text(encoding="utf-8"))
    assert targets
    for target in targets:
        if re.match(r"[a-z]+://", target) or target.startswith("#"):
            continue
        assert not target.startswith("/") and ".." not in Path(target).parts, target
        assert (ROOT / target.split("#")[0]).exists(), target


def test_cli_reference_lists_every_command_with_its_options(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.syspath_prepend(str(ROOT / "docs"))
    from _cli import cli  # the click command docs/cli.md renders

    html = markdown.markdown(
        (ROOT / "docs" / "cli.md").read_text(encoding="utf-8"), extensions=["mkdocs-click"]
    )
    assert len(cli.commands) >= 13
    for name, command in cli.commands.items():
        assert f"churnlab {name}" in html, name
        for param in command.params:
            for opt in param.opts:
                if opt.startswith("-"):
                    assert opt in html, f"{name} {opt}"
