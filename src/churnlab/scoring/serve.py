"""Starting, waiting for and stopping churnlab's REST server (:mod:`churnlab.scoring.rest`)
on a registered or exported churnlab model.

The server checks and scores rows with the same code as batch scoring. A registry URI is pinned
to the version its alias points at now (``models:/NAME/VERSION``), so a later promotion does
not change what a running server answers.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from churnlab.scoring.check import ScoringError
from churnlab.scoring.rest import ENV_MODEL, ENV_POLICY, ENV_UPLIFT_MODEL
from churnlab.scoring.uplift import ContactPolicy
from churnlab.tracking import ModelRef, resolve_model


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def serve_command(
    ref: ModelRef,
    host: str = "127.0.0.1",
    port: int = 5001,
    workers: int = 1,
    uplift: ModelRef | None = None,
    policy: ContactPolicy | None = None,
) -> tuple[list[str], dict[str, str]]:
    """The command line and environment of churnlab's REST server
    (:mod:`churnlab.scoring.rest`) for ``ref`` (and the ``uplift`` model with its contact
    ``policy``), pinned to their versions."""
    cmd = [sys.executable, "-m", "churnlab.scoring.rest", "--host", host, "--port", str(port)]
    cmd += ["--workers", str(workers)]
    env = dict(os.environ)
    env[ENV_MODEL] = ref.pinned
    env.pop(ENV_UPLIFT_MODEL, None)
    if uplift is not None:
        env[ENV_UPLIFT_MODEL] = uplift.pinned
        env[ENV_POLICY] = (policy or ContactPolicy()).to_json()
    if ref.is_registry or (uplift is not None and uplift.is_registry):
        from churnlab import config

        env.setdefault("MLFLOW_TRACKING_URI", config.tracking_uri())
    return cmd, env


def wait_ready(url: str, process: subprocess.Popen, timeout: float = 120.0) -> None:
    """Poll ``url``/ping until the server answers 200; fail early if it exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ScoringError(f"the model server exited with code {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/ping", timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.25)
    raise ScoringError(f"the model server at {url} was not ready after {timeout:.0f}s")


def start_server(
    model_uri: str | Path,
    host: str = "127.0.0.1",
    port: int | None = None,
    uplift_model: str | Path | None = None,
    policy: ContactPolicy | None = None,
    **popen,
) -> tuple[subprocess.Popen, str]:
    """Start churnlab's REST server for ``model_uri`` (with ``uplift_model`` and its contact
    ``policy``) and wait until it answers; returns the process (the caller terminates it) and
    the base URL."""
    ref = resolve_model(model_uri)
    uplift = resolve_model(uplift_model) if uplift_model is not None else None
    port = port or free_port(host)
    cmd, env = serve_command(ref, host, port, uplift=uplift, policy=policy)
    # its own process group: the CLI starts a server process that must stop with it
    process = subprocess.Popen(cmd, env=env, start_new_session=True, **popen)
    url = f"http://{host}:{port}"
    try:
        wait_ready(url, process)
    except BaseException:
        stop_server(process)
        raise
    return process, url


def stop_server(process: subprocess.Popen, timeout: float = 20.0) -> None:
    """Terminate the server's process group (started by :func:`start_server`), then kill it
    if it hangs."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout)


def invoke(url: str, records: list[dict], params: dict | None = None, timeout: float = 30):
    """POST rows to ``url``/invocations as ``dataframe_records``; returns the parsed JSON."""
    body = {"dataframe_records": records}
    if params:
        body["params"] = params
    request = urllib.request.Request(
        f"{url}/invocations",
        data=json.dumps(body, default=str).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=timeout) as resp:
        return json.loads(resp.read())
