"""The `portico` command's own cost: `portico --help`, and `portico db upgrade` with nothing to do.

Both run as the operator runs them: the console script in a new process each time, timed from
outside (wall clock, median of `--cli-runs`). The upgrade runs against a scratch database holding
`--cli-practices` practices (default 1,000), all at head, so what is measured is the command's start
(imports, settings), the public migrations' check, the grants, and the one query that finds nothing
behind. Goals (issue 9): `--help` under 0.2 s, the no-op upgrade under 0.5 s.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.common import bench_environment, free_port, heading, local_app, provision_practices

HELP_GOAL = 0.2
UPGRADE_GOAL = 0.5


def add_arguments(parser) -> None:
    group = parser.add_argument_group("cli")
    group.add_argument(
        "--cli-practices", type=int, default=1000, help="practices for the no-op upgrade (default 1000)"
    )
    group.add_argument("--cli-runs", type=int, default=10, help="timed runs of each command (default 10)")
    group.add_argument(
        "--cli-compare",
        metavar="DIR",
        default=None,
        help="also time `python -m app.cli` of another checkout (e.g. a worktree of the previous commit)",
    )


def portico_command() -> list[str]:
    """The installed console script beside this interpreter, else `python -m app.cli`."""
    script = Path(sys.executable).parent / "portico"
    if script.exists():
        return [str(script)]
    found = shutil.which("portico")
    return [found] if found else [sys.executable, "-m", "app.cli"]


def timed_runs(command: list[str], env: dict[str, str], runs: int, cwd: str | None = None) -> list[float]:
    """Wall-clock seconds of each of `runs` runs (after one untimed run); fails on a non-zero exit."""
    seconds = []
    for run in range(runs + 1):
        started = time.perf_counter()
        finished = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True)
        elapsed = time.perf_counter() - started
        if finished.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} exited {finished.returncode}:\n{finished.stderr}")
        if run:
            seconds.append(elapsed)
    return seconds


def line(label: str, seconds: list[float], goal: float) -> str:
    median = statistics.median(seconds)
    verdict = "meets" if median < goal else "misses"
    return (
        f"{label:<40} median {median * 1000:6.0f} ms  min {min(seconds) * 1000:6.0f} ms  "
        f"max {max(seconds) * 1000:6.0f} ms  ({verdict} the {goal * 1000:.0f} ms goal)"
    )


def run(args) -> None:
    heading("cli: `portico --help` and a no-op `portico db upgrade`")
    commands = {"": (portico_command(), None)}
    if args.cli_compare:
        commands[f" [{args.cli_compare}]"] = ([sys.executable, "-m", "app.cli"], args.cli_compare)
    for label, (command, _) in commands.items():
        print(f"command{label}: {' '.join(command)}")
    print(f"{args.cli_runs} timed runs each, in turn (the machine is shared: medians)")
    base_env = {key: value for key, value in os.environ.items() if not key.startswith("PORTICO_")}
    figures: dict[str, list[str]] = {label: [] for label in commands}
    for label, (command, cwd) in commands.items():
        seconds = timed_runs([*command, "--help"], base_env, args.cli_runs, cwd)
        figures[label].append(line(f"portico --help{label}", seconds, HELP_GOAL))
    port = free_port()
    with bench_environment(f"localhost:{port}") as (settings, tmp), local_app(settings) as app:
        started = time.perf_counter()
        provision_practices(app, range(1, args.cli_practices + 1), jobs=os.cpu_count() or 2)
        print(f"provisioned {args.cli_practices} practices in {time.perf_counter() - started:.0f} s")
        env = {
            **base_env,
            "DATABASE_URL": settings.database_url,
            "PORTICO_DATA_DIR": str(tmp / "data"),
            "PORTICO_MASTER_KEY": settings.master_key,
        }
        for label, (command, cwd) in commands.items():
            seconds = timed_runs([*command, "db", "upgrade"], env, args.cli_runs, cwd)
            upgrade = f"portico db upgrade{label} ({args.cli_practices} at head)"
            figures[label].append(line(upgrade, seconds, UPGRADE_GOAL))
    for lines in figures.values():
        for text in lines:
            print(text)
