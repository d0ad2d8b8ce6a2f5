"""`python -m bench [NAME ...] [options]`: run the benchmarks (all by default; names in BENCHMARKS).

Each benchmark prints its figures; none of them asserts anything about timings.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time

from bench import (
    booking_picker,
    cli,
    documents,
    load,
    overhead,
    provisioning,
    reminders,
    reset_timing,
    scale,
    scheduling,
)

BENCHMARKS = {
    "provisioning": provisioning,
    "overhead": overhead,
    "scale": scale,
    "scheduling": scheduling,
    "reset_timing": reset_timing,
    "booking_picker": booking_picker,
    "documents": documents,
    "reminders": reminders,
    "cli": cli,
    "load": load,
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Portico benchmarks. With no names, runs " + ", ".join(BENCHMARKS) + ".",
    )
    parser.add_argument("benchmarks", nargs="*", metavar="BENCHMARK", help=" | ".join(BENCHMARKS))
    server = parser.add_argument_group("gunicorn (the same for every page measured)")
    server.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    server.add_argument("--threads", type=int, default=4, help="gthread threads per worker (default 4)")
    for module in BENCHMARKS.values():
        module.add_arguments(parser)
    args = parser.parse_args(argv)
    unknown = [name for name in args.benchmarks if name not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)} (choose from {', '.join(BENCHMARKS)})")
    args.benchmarks = args.benchmarks or list(BENCHMARKS)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # The application logs at INFO; a benchmark's output is its figures.
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger().setLevel(logging.WARNING)
    for name in args.benchmarks:
        started = time.perf_counter()
        BENCHMARKS[name].run(args)
        print(f"({name} took {time.perf_counter() - started:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
