"""scripts/system-deps: a fresh machine gets the system packages the suite needs, or the exact command.

The script runs here with fake `id`, `apt-get` and `dpkg-query` (and nothing else) on its PATH, so the
tests install nothing and can play root, a normal user, or a system without apt.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "system-deps"


# The packages the script asks dpkg about (no file to probe): weasyprint's libraries and a font.
DPKG_PACKAGES = "libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core"


def fake_system(tmp_path: Path, uid: int, debian: bool = True, dpkg_has_all: bool = False) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    commands = {"id": f"echo {uid}"}
    if debian:
        commands["apt-get"] = f'echo "apt-get $*" >> {tmp_path / "apt.log"}'
        commands["dpkg-query"] = "printf 'install ok installed'" if dpkg_has_all else "exit 1"
    for name, body in commands.items():
        path = bin_dir / name
        path.write_text(f"#!/bin/bash\n{body}\n")
        path.chmod(0o755)
    return bin_dir


def run(
    tmp_path: Path,
    uid: int,
    debian: bool = True,
    chromium: str = "/nonexistent/chromium",
    clamd: str = "/nonexistent/clamd",
    dpkg_has_all: bool = False,
):
    env = {
        "PATH": str(fake_system(tmp_path, uid, debian, dpkg_has_all)),
        "PORTICO_CHROMIUM": chromium,
        "PORTICO_CLAMD_BINARY": clamd,
    }
    result = subprocess.run(["/bin/bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=30)
    apt_log = tmp_path / "apt.log"
    return result, apt_log.read_text().splitlines() if apt_log.exists() else []


def test_as_root_on_debian_missing_packages_are_installed(tmp_path):
    result, apt = run(tmp_path, uid=0)
    assert result.returncode == 0, result.stderr
    assert apt == ["apt-get update -qq", f"apt-get install -y -qq chromium clamav-daemon {DPKG_PACKAGES}"]


def test_as_a_user_the_exact_command_is_printed_and_it_stops(tmp_path):
    result, apt = run(tmp_path, uid=1000)
    assert result.returncode != 0 and apt == []
    assert "sudo apt-get update && sudo apt-get install -y chromium clamav-daemon" in result.stderr
    assert "browser tests" in result.stderr and "virus-scanning tests" in result.stderr


def test_without_apt_it_says_what_to_install_and_stops(tmp_path):
    result, apt = run(tmp_path, uid=0, debian=False)
    assert result.returncode != 0 and apt == []
    assert "only on Debian or Ubuntu" in result.stderr and "chromium" in result.stderr


def test_nothing_missing_is_a_quiet_success(tmp_path):
    chromium, clamd = tmp_path / "chromium", tmp_path / "clamd"
    chromium.write_text("")
    clamd.write_text("")
    result, apt = run(tmp_path, uid=1000, chromium=str(chromium), clamd=str(clamd), dpkg_has_all=True)
    assert (result.returncode, result.stdout, result.stderr, apt) == (0, "", "", [])


def test_make_test_and_ci_run_it_first():
    makefile = (ROOT / "Makefile").read_text()
    assert "test: system-deps install" in makefile and "\tbash scripts/system-deps" in makefile
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()
    assert "bash scripts/system-deps" in ci and ci[-1] == "make test"
