"""Settings are checked when Portico starts: a value it cannot use stops it with one line naming the
variable, a non-zero exit code and no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from app.cli import main

ROOT = Path(__file__).resolve().parent.parent
# Nothing listens here: a command that got as far as the database would fail differently.
UNREACHABLE = "postgresql://nobody@127.0.0.1:9/none"


def test_a_fractional_idle_timeout_stops_the_command_without_a_traceback(tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": UNREACHABLE,
        "PORTICO_DATA_DIR": str(tmp_path),
        "PORTICO_SESSION_IDLE_MINUTES": "0.5",
    }
    command = [sys.executable, "-m", "app.cli", "serve"]
    result = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "PORTICO_SESSION_IDLE_MINUTES must be a positive whole number of minutes, not '0.5'" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr + result.stdout


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("PORTICO_SESSION_IDLE_MINUTES", "0"),
        ("PORTICO_SESSION_IDLE_MINUTES", "thirty"),
        ("PORTICO_SESSION_MAX_HOURS", "1.5"),
        ("PORTICO_SESSION_MAX_HOURS", "-2"),
        ("PORTICO_PRACTICE_CACHE_SECONDS", "30s"),
        ("PORTICO_PRACTICE_CACHE_SIZE", "-1"),  # 0 is valid: sized for the installation
        ("PORTICO_DB_RECYCLE_USES", "many"),
        ("PORTICO_DB_PING_IDLE_SECONDS", "-5"),
        ("PORTICO_TRUSTED_PROXIES", "yes"),
        ("PORTICO_MIGRATION_JOBS", "0"),
        ("DATABASE_URL", "not a url"),
        ("DATABASE_URL", "mysql://portico@db/portico"),
        ("PORTICO_OWNER_DATABASE_URL", "localhost:5432"),
        ("SMTP_URL", "mail.example.com:25"),
        ("SMTP_URL", "smtp://mail.example.com:port"),
        ("PORTICO_BASE_DOMAIN", "https://portal.example.com"),
        ("PORTICO_BASE_DOMAIN", "portal.example.com:70000"),
        ("PORTICO_MAIL_FROM", "Portico"),
        ("PORTICO_RATELIMIT_STORAGE_URI", "redis"),
        ("STORAGE_URL", "/var/lib/portico"),
        ("STORAGE_URL", "file:///var/lib/portico"),
        ("STORAGE_URL", "s3:///no-bucket"),
        ("STORAGE_URL", "s3://key:secret@bucket/prefix"),
        ("STORAGE_URL", "s3://bucket?endpoint=ftp://files.example.com"),
        ("STORAGE_URL", "s3://bucket?endpoint=https://"),
        ("STORAGE_URL", "s3://bucket?bucket=other"),
        ("PORTICO_CLAMD", "clamd"),
        ("PORTICO_CLAMD", "127.0.0.1:port"),
        ("PORTICO_CLAMD", "127.0.0.1:70000"),
        ("PORTICO_CLAMD", "run/clamav/clamd.ctl"),
        ("PORTICO_PGBOUNCER", "maybe"),
        ("PORTICO_WORKER_DATABASE_URL", "localhost:5432"),
    ],
)
def test_each_unusable_setting_is_refused_by_name(tmp_path, variable, value):
    env = {"DATABASE_URL": UNREACHABLE, "PORTICO_DATA_DIR": str(tmp_path), variable: value}
    result = CliRunner().invoke(main, ["practices", "list"], env=env)
    assert result.exit_code != 0
    assert isinstance(result.exception, SystemExit), result.exception
    assert result.output.startswith(f"Error: {variable} ")


def test_a_password_in_a_refused_url_is_not_repeated(tmp_path):
    url = "postgresql://portico:s3cret@db:notaport/portico"
    env = {"DATABASE_URL": url, "PORTICO_DATA_DIR": str(tmp_path)}
    result = CliRunner().invoke(main, ["practices", "list"], env=env)
    assert result.exit_code != 0 and "DATABASE_URL" in result.output and "s3cret" not in result.output


def test_storage_and_scanner_settings_are_read():
    from app.config import Settings

    settings = Settings.from_env(
        {
            "STORAGE_URL": "s3://portico-files/prod?endpoint=https://s3.example.com:9000&region=eu-west-1",
            "PORTICO_CLAMD": "/run/clamav/clamd.ctl",
        }
    )
    assert (
        settings.storage_url.startswith("s3://portico-files/prod?")
        and settings.clamd == "/run/clamav/clamd.ctl"
    )
    assert Settings.from_env({"PORTICO_CLAMD": "clamd.internal:3310"}).clamd == "clamd.internal:3310"
    assert Settings.from_env({"STORAGE_URL": "s3://bucket"}).storage_url == "s3://bucket"
    assert Settings.from_env({}).storage_url is None and Settings.from_env({}).clamd is None


def test_pgbouncer_settings_are_read_and_the_worker_needs_a_direct_url(tmp_path):
    from app.config import Settings
    from app.database_options import engine_options

    direct = "postgresql://portico_app@db:5432/portico"
    settings = Settings.from_env(
        {"DATABASE_URL": UNREACHABLE, "PORTICO_PGBOUNCER": "1", "PORTICO_WORKER_DATABASE_URL": direct}
    )
    assert settings.pgbouncer and settings.worker_database_url == direct
    assert engine_options(settings)["connect_args"] == {"prepare_threshold": None}  # no startup options
    plain = Settings.from_env({"DATABASE_URL": UNREACHABLE, "PORTICO_PGBOUNCER": "0"})
    assert not plain.pgbouncer and "options" in engine_options(plain)["connect_args"]

    env = {
        "DATABASE_URL": UNREACHABLE,
        "PORTICO_DATA_DIR": str(tmp_path),
        "PORTICO_PGBOUNCER": "1",
        "PORTICO_MASTER_KEY": "A" * 43 + "=",
    }
    result = CliRunner().invoke(main, ["worker"], env=env)
    assert result.exit_code == 2 and "PORTICO_WORKER_DATABASE_URL" in result.output
