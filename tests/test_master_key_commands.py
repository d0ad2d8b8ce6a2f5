"""The master key at start: `portico run` makes one for development; `serve` and `worker` refuse to
start without one. `portico run` also keeps its job worker alive."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from app.cli import main
from tenants.encryption import parse_master_key
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("command", ["serve", "worker"])
@pytest.mark.parametrize("value", ["", "not-a-key"])
def test_serve_and_worker_refuse_to_start_without_a_master_key(app, command, value, monkeypatch, tmp_path):
    def no_exec(*args):  # if the check were missing, `serve` would replace this process with gunicorn
        raise AssertionError("serve started without a master key")

    monkeypatch.setattr(os, "execv", no_exec)
    env = {
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "PORTICO_OWNER_DATABASE_URL": app.config["PORTICO"].owner_database_url,
        "PORTICO_DATA_DIR": str(tmp_path),
        "PORTICO_MASTER_KEY": value,
    }
    result = CliRunner().invoke(main, [command], env=env)
    assert result.exit_code == 2, result.output
    assert "Refusing to start" in result.output and "PORTICO_MASTER_KEY" in result.output


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def _healthy(port: int) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).json()["status"] == "ok"
    except requests.ConnectionError:
        return False


def test_run_generates_a_master_key_and_restarts_a_worker_that_dies(app, tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "PORTICO_MASTER_KEY"}
    env.update(
        DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"],
        PORTICO_OWNER_DATABASE_URL=app.config["PORTICO"].owner_database_url,
        PORTICO_DATA_DIR=str(tmp_path),
        PORTICO_BASE_DOMAIN=f"localhost:{port}",
    )
    run = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "run", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(run.stdout), daemon=True).start()

    def worker_pids() -> list[int]:
        return [
            int(line.split("pid ")[1].rstrip(").\n")) for line in list(lines) if "Job worker started" in line
        ]

    def wait_for(condition, what: str, seconds: float = 60):
        deadline = time.monotonic() + seconds
        while not condition():
            assert run.poll() is None, "".join(lines)
            assert time.monotonic() < deadline, f"{what}:\n{''.join(lines)}"
            time.sleep(0.1)

    try:
        wait_for(lambda: len(worker_pids()) == 1, "the worker never started")
        wait_for(lambda: any("Portico is running" in line for line in lines), "the server never started")
        key_file = tmp_path / "master_key"
        assert len(parse_master_key(key_file.read_text())) == 32
        assert key_file.stat().st_mode & 0o777 == 0o600
        wait_for(lambda: _healthy(port), "the server never answered")
        [first] = worker_pids()
        time.sleep(0.5)
        assert _alive(first)  # it has the generated key: it did not refuse to start

        os.kill(first, signal.SIGKILL)
        wait_for(lambda: len(worker_pids()) == 2, "the worker was not restarted")
        second = worker_pids()[1]
        assert second != first and _alive(second)
    finally:
        run.send_signal(signal.SIGTERM)
        run.wait(30)
    deadline = time.monotonic() + 15
    while any(_alive(pid) for pid in worker_pids()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in worker_pids())  # stopping `run` stops its worker
