"""A bare Flask application, the floor `bench overhead` compares the tenant page with.

`/ping` answers a short text, as `/bench/tenant` does, with nothing else: no database, no session,
no extensions. `/healthz` lets `bench.common.GunicornServer` see it is up. It is served by gunicorn
with the same settings as `bench.bench_app` (`GunicornServer(..., target=PING_TARGET)`).
"""

from __future__ import annotations

from flask import Flask, Response

from bench.common import PING_PATH

app = Flask(__name__)


@app.get(PING_PATH)
def ping() -> Response:
    return Response("Owner of Practice <owner@example.com>\n", mimetype="text/plain")


@app.get("/healthz")
def healthz() -> Response:
    return Response("ok\n", mimetype="text/plain")
