"""gunicorn settings for `portico serve` (gunicorn -c deploy/gunicorn.conf.py app.wsgi:app).

Everything an operator may want to change comes from the environment:

    PORTICO_BIND          address to listen on             default 127.0.0.1:8000 (behind nginx)
    WEB_CONCURRENCY       worker processes                 default 2 * CPU cores + 1
    PORTICO_THREADS       threads per worker (gthread)     default 4
    PORTICO_TIMEOUT       seconds before a stuck worker is restarted   default 60
    PORTICO_KEEPALIVE     seconds an idle kept-alive connection stays open  default 75 (see below)
    FORWARDED_ALLOW_IPS   proxies whose X-Forwarded-Proto gunicorn trusts  default 127.0.0.1,::1

Any other gunicorn option can be given with GUNICORN_CMD_ARGS (for example "--log-level debug").
The application itself trusts X-Forwarded-For/Proto only when PORTICO_TRUSTED_PROXIES is set
(see deploy/OPERATIONS.md).

Database connections: every worker process has its own SQLAlchemy pool, and a worker serves at most
PORTICO_THREADS requests at once, so keep WEB_CONCURRENCY * (PORTICO_THREADS + 1) comfortably below
PostgreSQL's max_connections (the job workers and migrations need connections too).
"""

import os


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))  # honours CPU pinning (containers, taskset)
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else default


bind = [os.environ.get("PORTICO_BIND") or "127.0.0.1:8000"]
workers = _env_int("WEB_CONCURRENCY", 2 * _cores() + 1)
worker_class = "gthread"
threads = _env_int("PORTICO_THREADS", 4)

# Restart each worker after about this many requests, so pooled database connections (and the
# per-table metadata every PostgreSQL backend caches for every practice schema it touched) are
# recycled. The jitter keeps workers from restarting all at once. Each restart can reset a request a
# client sends on one of the worker's other kept-alive connections just as the worker closes it (a
# stopping worker answers what arrives in its first 2 s with "Connection: close", then closes the
# rest), so restarts are kept rare: connections are recycled by age too (pool_recycle, 30 min).
max_requests = 5000
max_requests_jitter = 1000

timeout = _env_int("PORTICO_TIMEOUT", 60)
graceful_timeout = 30
# An idle kept-alive connection must be closed by the client side first: a proxy that reuses one just
# as gunicorn closes it gets a reset (nginx answers 502, or retries only idempotent requests). So
# gunicorn waits longer than nginx's upstream keepalive_timeout (60 s, deploy/nginx/portico.conf);
# behind another proxy or load balancer set PORTICO_KEEPALIVE above its idle timeout. An idle
# connection costs a gthread worker no thread, only a file descriptor.
keepalive = _env_int("PORTICO_KEEPALIVE", 75)

# Do not preload: the app must not open database connections before the fork.
preload_app = False
proc_name = "portico"

# The heartbeat file lives in memory, not on a disk that may be slow or read-only.
if os.path.isdir("/dev/shm"):
    worker_tmp_dir = "/dev/shm"

# gunicorn >= 25.1 opens a control socket under $HOME by default; the portico service user's home is
# read-only under systemd's ProtectSystem=strict. Reload with `systemctl reload` (SIGHUP) instead.
control_socket_disable = True

# gunicorn sets the request scheme from X-Forwarded-Proto only for these peers (nginx on the same
# host by default). Comma-separated addresses or networks, or "*" inside a private container network.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS") or "127.0.0.1,::1"


# --- logging -----------------------------------------------------------------------------------
#
# URLs carry secrets: profile links (/l/<token>), password resets (/reset-password/<token>),
# invitations (/activate/<token>) and the signup hand-off (/auth/handoff?token=...). The access log
# records the path without its query string (%(U)s) and no Referer, and a filter on every handler
# rewrites token path segments and token-like query values in any log line (access log, gunicorn's
# "Error handling request <uri>", Flask's "Exception on <path>").

from app.log_redaction import RedactTokens  # noqa: E402  (one filter for gunicorn and the dev server)

accesslog = "-"  # stdout; journald or the container runtime collects it
errorlog = "-"  # stderr
loglevel = "info"
access_log_format = (
    '%(h)s %({x-forwarded-for}i)s %({host}i)s %(u)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms "%(a)s"'
)

# Applied on top of gunicorn's own logging defaults: the same handlers, each with the filter.
# The root logger (the application's own loggers) goes through the filtered stdout handler too.
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact_tokens": {"()": RedactTokens}},
    "root": {"level": "INFO", "handlers": ["console"]},
    "loggers": {
        "gunicorn.error": {"level": "INFO", "handlers": ["error_console"], "propagate": False},
        "gunicorn.access": {"level": "INFO", "handlers": ["access_console"], "propagate": False},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "generic",
            "filters": ["redact_tokens"],
            "stream": "ext://sys.stdout",
        },
        "error_console": {
            "class": "logging.StreamHandler",
            "formatter": "generic",
            "filters": ["redact_tokens"],
            "stream": "ext://sys.stderr",
        },
        "access_console": {
            "class": "logging.StreamHandler",
            "formatter": "access",
            "filters": ["redact_tokens"],
            "stream": "ext://sys.stdout",
        },
    },
    "formatters": {
        "generic": {
            "format": "%(asctime)s [%(process)d] [%(levelname)s] %(name)s: %(message)s",
            "datefmt": "[%Y-%m-%d %H:%M:%S %z]",
        },
        "access": {"format": "%(message)s"},
    },
}
