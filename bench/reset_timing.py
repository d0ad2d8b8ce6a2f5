"""Reset timing: how long POST /forgot-password takes for an address with an account and for one
without. The answer must not tell them apart (issue 8): both requests queue one job and nothing else,
so the two timings should be alike; a gap of several milliseconds would say which addresses exist.

One practice (its owner is the existing address), served by gunicorn. A client loads the form once
(untimed: the CSRF token and session cookie), then POSTs, alternating the existing and the missing
address (which goes first alternates too, so whatever else the machine does slows both alike), after
`--reset-warmup` untimed pairs. No worker runs: the queued jobs just wait in the scratch database.
"""

from __future__ import annotations

import re
import statistics
import time

from bench.common import (
    GunicornServer,
    HttpClient,
    bench_environment,
    free_port,
    heading,
    latency_line,
    local_app,
    percentile,
    provision_practices,
)

CSRF_FIELD = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
MISSING_ADDRESS = "nobody-here@example.com"
SENT_PAGE_TEXT = "If an account here uses that address"


def add_arguments(parser) -> None:
    group = parser.add_argument_group("reset_timing")
    group.add_argument(
        "--reset-tries", type=int, default=200, help="timed requests per address (default 200)"
    )
    group.add_argument("--reset-warmup", type=int, default=10, help="untimed pairs first (default 10)")


def _ask(client: HttpClient, host: str, token: str, email: str) -> float:
    started = time.perf_counter()
    response = client.post_form(host, "/forgot-password", {"csrf_token": token, "email": email})
    seconds = time.perf_counter() - started
    if response.status != 200 or SENT_PAGE_TEXT not in response.text:
        raise RuntimeError(f"POST /forgot-password answered {response.status}: {response.text[:300]}")
    return seconds


def run(args) -> None:
    port = free_port()
    heading(f"Reset timing: POST /forgot-password, existing vs missing address ({args.reset_tries} each)")
    with bench_environment(f"localhost:{port}") as (settings, tmp):
        with local_app(settings) as app:
            [practice] = provision_practices(app, [1])
        with GunicornServer(settings, port, tmp, args.workers, args.threads) as server:
            print(f"server: {server.describe()}")
            print("note: rate limits are disabled on the bench app (RATELIMIT_ENABLED=False)")
            host = practice.host(port)
            client = HttpClient(port)
            try:
                form = client.get(host, "/forgot-password")
                token = CSRF_FIELD.search(form.text)
                if form.status != 200 or token is None:
                    raise RuntimeError(f"GET /forgot-password answered {form.status} without a CSRF token")
                addresses = {"existing": practice.owner_email, "missing": MISSING_ADDRESS}
                timings: dict[str, list[float]] = {"existing": [], "missing": []}
                for number in range(args.reset_warmup + args.reset_tries):
                    order = ("existing", "missing") if number % 2 == 0 else ("missing", "existing")
                    for which in order:
                        seconds = _ask(client, host, token.group(1), addresses[which])
                        if number >= args.reset_warmup:
                            timings[which].append(seconds)
            finally:
                client.close()
    print(latency_line("existing address", timings["existing"]))
    print(latency_line("missing address", timings["missing"]))
    medians = {which: statistics.median(values) * 1000 for which, values in timings.items()}
    p95s = {which: percentile(values, 0.95) * 1000 for which, values in timings.items()}
    print(
        f"  existing - missing: median {medians['existing'] - medians['missing']:+.2f} ms, "
        f"p95 {p95s['existing'] - p95s['missing']:+.2f} ms "
        "(before issue 8 the existing address was 10-28 ms slower at the median)"
    )
