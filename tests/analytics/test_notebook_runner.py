"""The notebook runner's kernel: no "running over TCP without encryption" warning (it talks
over IPC sockets in a private folder) and no tqdm IProgress warning (tqdm's plain bar)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat

NOTEBOOK = """# %%
from tqdm.auto import tqdm

total = sum(i for i in tqdm(range(3)))
print("sum", total)
"""


def test_kernel_runs_without_tcp_or_tqdm_warnings(tmp_path):
    root = tmp_path / "project"
    root.mkdir()
    (root / "pyproject.toml").write_text('[project]\nname = "churnlab"\n')
    nb_path = tmp_path / "99-tiny.py"
    nb_path.write_text(NOTEBOOK)
    env = {**os.environ, "CHURNLAB_HOME": str(root)}
    res = subprocess.run(
        [str(Path(sys.executable).with_name("churnlab")), "notebooks", str(nb_path), "--out",
         str(tmp_path / "out")],
        capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert "without encryption" not in res.stderr and "TCP" not in res.stderr
    nb = nbformat.read(tmp_path / "out" / "99-tiny.ipynb", as_version=4)
    text = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    assert "sum 3" in text
    assert "IProgress" not in text and "TqdmWarning" not in text
    assert "100%" in text  # tqdm's plain text bar, on stderr
    assert sorted(p.name for p in root.iterdir()) == ["pyproject.toml"]  # no socket files left
