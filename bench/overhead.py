"""Tenancy overhead: requests per second of a logged-in practice page that reads the user's row
(and the settings row every staff page reads), against the same work with tenancy bypassed, on one
gunicorn server in one run; and against a bare Flask "ping" page (`bench.ping_app`) on a second
gunicorn server with the same settings, the floor of the whole stack.

Both pages come from `bench.bench_app`: `/bench/tenant` on the practice host (host -> practice,
SET LOCAL ROLE + search_path, schema_translate_map, Flask-Login) and `/bench/bypass` on the apex host
(the same session cookie decoded, the same user row read by fully qualified name, no SET ROLE). The
load is `--connections` Python threads with keep-alive connections. After a warm-up, the two pages
take turns for `--rounds` rounds of `--duration` seconds each (alternating which goes first), so a
busy neighbour on the machine slows both alike; the totals and the per-round ratios are printed.
The ratios that matter on a shared machine are the ones from CPU per request (gunicorn workers plus
the database backends): tenant/bypass (goal >= 0.95x) and tenant/ping (goal >= 0.5x).
"""

from __future__ import annotations

import os
import statistics

from bench.common import (
    BYPASS_PATH,
    PING_PATH,
    PING_TARGET,
    TENANT_PATH,
    BenchPractice,
    GunicornServer,
    HttpClient,
    LoadResult,
    ServerCpu,
    bench_environment,
    free_port,
    heading,
    local_app,
    log_in_owner,
    provision_practices,
    run_load,
)

TARGET_RATIO = 0.9  # req/s
CPU_TARGETS = {"bypass": 0.95, "ping": 0.5}  # CPU per request: the tenant page against each
PAGES = ("tenant", "bypass", "ping")


def add_arguments(parser) -> None:
    group = parser.add_argument_group("overhead")
    group.add_argument("--duration", type=float, default=3.0, help="seconds per page per round (default 3)")
    group.add_argument("--rounds", type=int, default=6, help="rounds, alternating page order (default 6)")
    group.add_argument("--connections", type=int, default=8, help="concurrent connections (default 8)")


def run(args) -> None:
    port, ping_port = free_port(), free_port()
    heading("Tenancy overhead: logged-in staff page reading its rows, with and without tenancy, and ping")
    with bench_environment(f"localhost:{port}") as (settings, tmp), local_app(settings) as app:
        [practice] = provision_practices(app, [1])
        with (
            GunicornServer(settings, port, tmp, args.workers, args.threads) as server,
            GunicornServer(settings, ping_port, tmp, args.workers, args.threads, target=PING_TARGET) as ping,
        ):
            print(f"server: {server.describe()}")
            print(f"ping:   {ping.describe()} (bench.ping_app, a bare Flask app)")
            print(
                f"load: {args.connections} keep-alive connections (Python threads), "
                f"{args.rounds} round(s) of {args.duration:g} s per page"
            )
            print(f"machine load average before: {_load_average()} (on {os.cpu_count()} CPU(s))")
            cpus = {
                "tenant": ServerCpu(server, settings.database_url),
                "bypass": ServerCpu(server, settings.database_url),
                "ping": ServerCpu(ping, settings.database_url),
            }
            results = _measure(app, port, ping_port, practice, cpus, args)
            print(f"machine load average after:  {_load_average()}")
        rates = {}
        for label, path, where in (
            ("tenant", TENANT_PATH, "practice host"),
            ("bypass", BYPASS_PATH, "apex"),
            ("ping", PING_PATH, "bare Flask"),
        ):
            done = sum(r.requests for r in results[label])
            seconds = sum(r.seconds for r in results[label])
            rates[label] = done / seconds
            print(f"  {label} {path + ' (' + where + ')':<34} {rates[label]:9.1f} req/s ({done} requests)")
        ratio = rates["tenant"] / rates["bypass"]
        per_round = [t.rate / b.rate for t, b in zip(results["tenant"], results["bypass"], strict=True)]
        verdict = "met" if ratio >= TARGET_RATIO else "not met"
        print(f"  ratio tenant/bypass by req/s: {ratio:.3f}x   target: >= {TARGET_RATIO}x -> {verdict}")
        print(
            f"  per-round ratios: median {statistics.median(per_round):.3f}x, "
            f"min {min(per_round):.3f}x, max {max(per_round):.3f}x"
        )
        print(f"  ratio tenant/ping by req/s: {rates['tenant'] / rates['ping']:.3f}x")
        _print_cpu(results)


def _print_cpu(results: dict[str, list[LoadResult]]) -> None:
    """CPU per request, which other work on the machine does not change as it changes req/s."""
    per_request = {}
    for label in PAGES:
        done = sum(r.requests for r in results[label])
        app_cpu = [r.server_cpu_seconds for r in results[label]]
        db_cpu = [r.database_cpu_seconds for r in results[label]]
        if None in app_cpu:
            print("  (CPU per request not measured: needs Linux /proc)")
            return
        app_ms = sum(app_cpu) / done * 1000
        db_ms = sum(db_cpu) / done * 1000 if None not in db_cpu else None
        per_request[label] = app_ms + (db_ms or 0)
        db_part = f" + database {db_ms:.3f} ms" if db_ms is not None else " (database not on this machine)"
        print(f"  {label} CPU per request: gunicorn {app_ms:.3f} ms{db_part} = {per_request[label]:.3f} ms")
    for other, target in CPU_TARGETS.items():
        ratio = per_request[other] / per_request["tenant"]
        verdict = "met" if ratio >= target else "not met"
        print(
            f"  ratio tenant/{other} from CPU per request ({other} CPU / tenant CPU; the req/s ratio on "
            f"an otherwise idle machine): {ratio:.3f}x   target: >= {target}x -> {verdict}"
        )


def _load_average() -> str:
    try:
        return " ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        return "unknown"


def _measure(
    app, port: int, ping_port: int, practice: BenchPractice, cpus: dict[str, ServerCpu], args
) -> dict[str, list[LoadResult]]:
    client = HttpClient(port)
    log_in_owner(app, client, practice)
    practice_host, apex = practice.host(port), f"localhost:{port}"
    cookies = dict(client.cookies[practice_host])
    client.cookies[apex] = dict(cookies)  # the same session cookie, presented on the apex host
    pages = {
        "tenant": (port, practice_host, TENANT_PATH),
        "bypass": (port, apex, BYPASS_PATH),
        "ping": (ping_port, f"localhost:{ping_port}", PING_PATH),
    }
    bodies = {}
    for label, (page_port, host, path) in pages.items():
        page_client = client if page_port == port else HttpClient(page_port)
        response = page_client.get(host, path)
        if response.status != 200:
            raise RuntimeError(f"{path} on {host} answered {response.status}")
        bodies[label] = response.body
        if page_client is not client:
            page_client.close()
    client.close()
    if bodies["tenant"] != bodies["bypass"]:
        raise RuntimeError(f"the two pages differ: {bodies}")

    def load(label: str, seconds: float) -> LoadResult:
        page_port, host, path = pages[label]
        page_cookies = cookies if page_port == port else {}
        result = cpus[label].measure(
            lambda: run_load(page_port, host, path, page_cookies, args.connections, seconds)
        )
        if result.errors:
            raise RuntimeError(f"{result.errors} of {result.requests} requests to {path} failed")
        return result

    for label in PAGES:  # warm-up: connections, pools, compiled statements, caches
        load(label, min(2.0, args.duration))
    results: dict[str, list[LoadResult]] = {label: [] for label in PAGES}
    for number in range(1, args.rounds + 1):
        shift = (number - 1) % len(PAGES)
        order = PAGES[shift:] + PAGES[:shift]  # each page goes first in turn
        line = []
        for label in order:
            result = load(label, args.duration)
            results[label].append(result)
            line.append(f"{label} {result.rate:7.1f} req/s")
        client_cpu = sum(
            results[label][-1].client_cpu_seconds / results[label][-1].seconds for label in PAGES
        ) / len(PAGES)
        ratio = results["tenant"][-1].rate / results["bypass"][-1].rate
        print(
            f"  round {number}: " + ", ".join(line) + f"  tenant/bypass {ratio:.3f}x"
            f"  (load generator: {client_cpu:.0%} of a core)"
        )
    return results
