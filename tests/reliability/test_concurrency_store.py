"""Issue 16, item 5: the first use of a new mlflow.db by several processes at once (alembic
creates and migrates its tables) must not crash any of them. (Commands that only read, such as
``compare``, no longer create a store: see test_store_uri_and_lock.)"""

from __future__ import annotations

import subprocess
import sys

from tests.reliability.conc_support import env_for

# what a command that logs does first (`score --log`, `train`): open the store, creating it
CREATE = (
    "from churnlab.tracking.store import connect, ensure_experiment; "
    "ensure_experiment(connect(create=True), 'nothing-yet')"
)


def test_three_commands_at_once_on_a_fresh_store(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "churnlab"\n')
    for attempt in range(2):
        root = tmp_path / f"try{attempt}"
        root.mkdir()
        (root / "pyproject.toml").write_text('[project]\nname = "churnlab"\n')
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", CREATE],
                cwd=root,
                env=env_for(root),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(3)
        ]
        outs = [p.communicate(timeout=120) for p in procs]
        for proc, (_, err) in zip(procs, outs, strict=True):
            assert "Traceback" not in err, err
            assert proc.returncode == 0
        assert (root / "mlflow.db").is_file()
