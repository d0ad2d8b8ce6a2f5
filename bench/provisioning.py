"""Provisioning: time from the signup POST to a usable practice, over many signups through HTTP.

For each signup a fresh client loads GET /signup on the apex host (untimed: it only fetches the CSRF
token and session cookie), then the clock starts and it:

1. POSTs the form to /signup and gets the 303 redirect to the new practice's hand-off URL
   ("POST alone");
2. follows it: GET /auth/handoff?token=... on the practice host logs the owner in (302 to /);
3. GETs / on the practice host, which must answer 200 and show the practice name
   ("POST + hand-off + home": the practice is usable).

The bench app has rate limits switched off (POST /signup allows 20 per hour per client otherwise).
"""

from __future__ import annotations

import re
import statistics
import time
from urllib.parse import urlsplit

from bench.common import (
    OWNER_PASSWORD,
    GunicornServer,
    HttpClient,
    bench_environment,
    free_port,
    heading,
    latency_line,
)

CSRF_FIELD = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
TARGET_MEDIAN_MS = 300


def add_arguments(parser) -> None:
    group = parser.add_argument_group("provisioning")
    group.add_argument("--signups", type=int, default=50, help="timed signups (default 50)")
    group.add_argument("--warmup", type=int, default=3, help="untimed signups first (default 3)")


def _signup(port: int, number: int) -> tuple[float, float]:
    """One signup, start to usable practice; returns (POST seconds, POST + hand-off + home seconds)."""
    apex = f"localhost:{port}"
    name = f"Bench Signup {number}"
    client = HttpClient(port)  # a new visitor: its own connection and cookies
    try:
        form_page = client.get(apex, "/signup")
        token = CSRF_FIELD.search(form_page.text)
        if form_page.status != 200 or token is None:
            raise RuntimeError(f"GET /signup answered {form_page.status} without a CSRF token")
        fields = {
            "csrf_token": token.group(1),
            "practice_name": name,
            "owner_name": f"Owner {number}",
            "email": f"owner{number}@example.com",
            "password": OWNER_PASSWORD,
            "subdomain": f"signup-{number}",
        }

        started = time.perf_counter()
        response = client.post_form(apex, "/signup", fields)
        posted = time.perf_counter() - started
        if response.status != 303:
            raise RuntimeError(f"POST /signup answered {response.status}: {response.text[:500]}")

        handoff = urlsplit(response.headers["Location"])
        host = handoff.netloc
        response = client.get(host, f"{handoff.path}?{handoff.query}")
        if response.status != 302:
            raise RuntimeError(f"the hand-off answered {response.status}")
        home = urlsplit(response.headers["Location"])
        host = home.netloc or host
        response = client.get(host, home.path or "/")
        usable = time.perf_counter() - started
        if response.status != 200 or name not in response.text:
            raise RuntimeError(f"the practice home answered {response.status} without the practice name")
        return posted, usable
    finally:
        client.close()


def run(args) -> None:
    port = free_port()
    heading(f"Provisioning: signup POST to a usable practice ({args.signups} signups)")
    with bench_environment(f"localhost:{port}") as (settings, tmp):
        with GunicornServer(settings, port, tmp, args.workers, args.threads) as server:
            print(f"server: {server.describe()}")
            print(
                "note: rate limits are disabled on the bench app (RATELIMIT_ENABLED=False); "
                "POST /signup is otherwise limited to 20 per hour per client"
            )
            print(f"{args.warmup} untimed warm-up signup(s), then {args.signups} timed, one at a time")
            for number in range(1, args.warmup + 1):
                _signup(port, number)
            posts, usable = [], []
            for number in range(args.warmup + 1, args.warmup + args.signups + 1):
                post_seconds, usable_seconds = _signup(port, number)
                posts.append(post_seconds)
                usable.append(usable_seconds)
        print(latency_line("POST /signup (303)", posts))
        print(latency_line("POST + hand-off + home (usable)", usable))
        median_ms = statistics.median(usable) * 1000
        print(
            f"  target: median to a usable practice < {TARGET_MEDIAN_MS} ms -> "
            f"{'met' if median_ms < TARGET_MEDIAN_MS else 'not met'}"
        )
