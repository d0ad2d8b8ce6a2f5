"""Settings: every knob an operator can turn, read once from the environment with safe defaults.

`Settings.from_env()` checks every value as it reads it: a value Portico cannot use is refused with a
`SettingsError` naming the variable (the CLI prints it and exits non-zero), never discovered later.
"""

from __future__ import annotations

import base64
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import parseaddr
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

_HOST_AND_PORT = re.compile(
    r"^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*(?::([0-9]{1,5}))?$"
)


class SettingsError(ValueError):
    """A setting Portico cannot start with; the message names the variable and says what it takes."""


@dataclass
class Settings:
    database_url: str | None = None
    owner_database_url: str | None = None
    # The job worker's own URL (PORTICO_WORKER_DATABASE_URL): straight to PostgreSQL when DATABASE_URL
    # goes through PgBouncer, since the worker waits for jobs with LISTEN/NOTIFY. Unset: DATABASE_URL.
    worker_database_url: str | None = None
    # PORTICO_PGBOUNCER: DATABASE_URL (and the owner's) go through PgBouncer in transaction pooling, so
    # no connection may rely on session state: no automatic prepared statements, no startup options.
    pgbouncer: bool = False
    secret_key: str | None = None
    base_domain: str = "localhost:5000"
    data_dir: Path = field(default_factory=lambda: Path("portico-data"))
    smtp_url: str | None = None
    # Uploaded files: the data directory when unset, else s3://bucket/prefix?endpoint=… (see
    # blueprints/documents/storage.py). PORTICO_CLAMD: a clamd socket path or host:port to scan with.
    storage_url: str | None = None
    clamd: str | None = None
    master_key: str | None = None  # base64 of 32 bytes; see tenants/encryption.py
    mail_from: str = "Portico <no-reply@localhost>"
    ratelimit_storage_uri: str = "memory://"
    session_idle_minutes: int = 30
    session_max_hours: int = 12
    practice_cache_seconds: int = 30
    practice_cache_size: int = 0  # host lookups kept per process; 0: sized for the installation
    # Pooled database connections (deploy/OPERATIONS.md, "Connection recycling").
    db_recycle_seconds: int = 1800
    db_recycle_uses: int = 0  # off: each recycle makes the next practices touched reload their catalog
    db_ping_idle_seconds: int = 10
    trusted_proxies: int = 0
    migration_jobs: int = 4
    # First wait before an email is tried again; each later wait doubles (about 1.5-3 h in all).
    mail_retry_base_seconds: float = 5.0
    # How long booking, reschedule and cancellation messages wait, so an immediate undo sends nothing.
    message_hold_seconds: int = 180
    # Where the Twilio client sends its API calls (None: Twilio itself; tests use a local fake).
    twilio_base_url: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        read = _Reader(env)
        settings = cls(
            database_url=read.database_url("DATABASE_URL"),
            owner_database_url=read.database_url("PORTICO_OWNER_DATABASE_URL"),
            worker_database_url=read.database_url("PORTICO_WORKER_DATABASE_URL"),
            pgbouncer=read.flag("PORTICO_PGBOUNCER"),
            secret_key=read.text("SECRET_KEY"),
            base_domain=read.base_domain("PORTICO_BASE_DOMAIN", "localhost:5000"),
            data_dir=Path(read.text("PORTICO_DATA_DIR") or "portico-data"),
            smtp_url=read.url("SMTP_URL", schemes=("smtp", "smtps"), needs_host=True),
            storage_url=read.storage_url("STORAGE_URL"),
            clamd=read.clamd("PORTICO_CLAMD"),
            master_key=read.text("PORTICO_MASTER_KEY"),
            mail_from=read.mail_from("PORTICO_MAIL_FROM", "Portico <no-reply@localhost>"),
            ratelimit_storage_uri=read.url("PORTICO_RATELIMIT_STORAGE_URI") or "memory://",
            session_idle_minutes=read.whole("PORTICO_SESSION_IDLE_MINUTES", 30, "minutes", minimum=1),
            session_max_hours=read.whole("PORTICO_SESSION_MAX_HOURS", 12, "hours", minimum=1),
            practice_cache_seconds=read.whole("PORTICO_PRACTICE_CACHE_SECONDS", 30, "seconds", minimum=0),
            practice_cache_size=read.whole("PORTICO_PRACTICE_CACHE_SIZE", 0, "entries", minimum=0),
            db_recycle_seconds=read.whole("PORTICO_DB_RECYCLE_SECONDS", 1800, "seconds", minimum=0),
            db_recycle_uses=read.whole("PORTICO_DB_RECYCLE_USES", 0, "uses", minimum=0),
            db_ping_idle_seconds=read.whole("PORTICO_DB_PING_IDLE_SECONDS", 10, "seconds", minimum=0),
            trusted_proxies=read.whole("PORTICO_TRUSTED_PROXIES", 0, "proxies", minimum=0),
            migration_jobs=read.whole("PORTICO_MIGRATION_JOBS", 4, "processes", minimum=1),
            mail_retry_base_seconds=read.seconds("PORTICO_MAIL_RETRY_BASE_SECONDS", 5.0),
            message_hold_seconds=read.whole("PORTICO_MESSAGE_HOLD_SECONDS", 180, "seconds", minimum=0),
            twilio_base_url=read.url("PORTICO_TWILIO_BASE_URL"),
        )
        if settings.owner_database_url and not settings.database_url:
            raise SettingsError(
                "PORTICO_OWNER_DATABASE_URL is set but DATABASE_URL is not: set both, or neither "
                "(the embedded database)."
            )
        if settings.worker_database_url and not settings.database_url:
            raise SettingsError(
                "PORTICO_WORKER_DATABASE_URL is set but DATABASE_URL is not: set both, or neither "
                "(the embedded database)."
            )
        return settings

    @property
    def scheme(self) -> str:
        """https unless the installation runs on localhost (development)."""
        host = self.base_host
        return "http" if host == "localhost" or host.endswith(".localhost") else "https"

    @property
    def base_host(self) -> str:
        """The apex host name, lowercased, without a port."""
        return self.base_domain.lower().split(":", 1)[0]

    @property
    def base_port_suffix(self) -> str:
        return ":" + self.base_domain.split(":", 1)[1] if ":" in self.base_domain else ""

    def ensure_data_dir(self) -> Path:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return self.data_dir

    def resolved_secret_key(self) -> str:
        """SECRET_KEY from the environment, else one generated once and kept in the data directory."""
        if self.secret_key:
            return self.secret_key
        key_file = self.ensure_data_dir() / "secret_key"
        if not key_file.exists():
            key_file.write_text(secrets.token_urlsafe(48))
            key_file.chmod(0o600)
        return key_file.read_text().strip()

    def resolved_master_key(self) -> str:
        """PORTICO_MASTER_KEY from the environment, else one generated once into the data directory.

        Only `portico run` (development) falls back to the file; `serve` and `worker` require the
        variable, so that production never depends on a key file it might lose.
        """
        if self.master_key:
            return self.master_key
        key_file = self.ensure_data_dir() / "master_key"
        if not key_file.exists():
            key_file.touch(mode=0o600)
            key_file.write_text(base64.b64encode(secrets.token_bytes(32)).decode())
        return key_file.read_text().strip()


def normalize_url(url: str) -> str:
    """A PostgreSQL URL as SQLAlchemy takes it: with the psycopg (3) driver named."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def libpq_url(url: str) -> str:
    """A PostgreSQL URL as libpq (psycopg.connect) takes it."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


class _Reader:
    """Reads one variable at a time; an empty variable counts as unset (the default applies)."""

    def __init__(self, env: Mapping[str, str]):
        self.env = env

    def text(self, name: str) -> str | None:
        return (self.env.get(name) or "").strip() or None

    def flag(self, name: str) -> bool:
        raw = self.text(name)
        if raw is None or raw.lower() in ("0", "false", "no", "off"):
            return False
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        raise SettingsError(f"{name} must be 1 (on) or 0 (off), not {raw!r}.")

    def whole(self, name: str, default: int, unit: str, minimum: int) -> int:
        raw = self.text(name)
        if raw is None:
            return default
        if not raw.isascii() or not raw.isdigit() or int(raw) < minimum:
            least = "a positive" if minimum == 1 else "a"
            raise SettingsError(f"{name} must be {least} whole number of {unit}, not {raw!r}.")
        return int(raw)

    def seconds(self, name: str, default: float) -> float:
        raw = self.text(name)
        if raw is None:
            return default
        try:
            value = float(raw)
        except ValueError:
            value = -1.0
        if not 0 < value < 86400:
            raise SettingsError(f"{name} must be a number of seconds above 0 and below a day, not {raw!r}.")
        return value

    def database_url(self, name: str) -> str | None:
        raw = self.text(name)
        if raw is None:
            return None
        # The value is never repeated in the message: it may hold a password.
        try:
            parts = urlsplit(raw)
            parts.port  # noqa: B018  (raises ValueError on a port that is not a number)
        except ValueError:
            parts = None
        driverless = parts.scheme.split("+", 1)[0] if parts else ""
        if "://" not in raw or driverless not in ("postgres", "postgresql"):
            raise SettingsError(
                f"{name} must be a PostgreSQL URL such as postgresql://user:password@host:5432/portico."
            )
        return raw

    def url(self, name: str, schemes: tuple[str, ...] = (), needs_host: bool = False) -> str | None:
        raw = self.text(name)
        if raw is None:
            return None
        try:
            parts = urlsplit(raw)
            parts.port  # noqa: B018  (raises ValueError on a port that is not a number)
        except ValueError:
            parts = None
        if (
            parts is None
            or not parts.scheme
            or "://" not in raw
            or (schemes and parts.scheme not in schemes)
            or (needs_host and not parts.hostname)
        ):
            shape = " or ".join(f"{scheme}://…" for scheme in schemes) if schemes else "scheme://…"
            raise SettingsError(f"{name} must be a URL of the form {shape}.")
        return raw

    def storage_url(self, name: str) -> str | None:
        """s3://bucket[/prefix][?endpoint=http(s)://host[:port]&region=…]; credentials come from the
        usual AWS variables (AWS_ACCESS_KEY_ID …), never from the URL."""
        raw = self.url(name, schemes=("s3",), needs_host=True)
        if raw is None:
            return None
        parts = urlsplit(raw)
        query = parse_qs(parts.query, keep_blank_values=True)
        unknown = set(query) - {"endpoint", "region"}
        endpoint = query.get("endpoint", ["https://s3.amazonaws.com"])
        endpoint_parts = urlsplit(endpoint[-1])
        if (
            unknown
            or parts.username
            or parts.password
            or parts.fragment
            or len(endpoint) != 1
            or len(query.get("region", [""])) != 1
            or endpoint_parts.scheme not in ("http", "https")
            or not endpoint_parts.hostname
        ):
            raise SettingsError(
                f"{name} must look like s3://bucket/prefix?endpoint=https://host:port (optionally "
                "&region=…); credentials go in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY."
            )
        return raw

    def clamd(self, name: str) -> str | None:
        """An absolute path to clamd's local socket, or host:port of its TCP socket."""
        raw = self.text(name)
        if raw is None:
            return None
        if raw.startswith("/"):
            return raw
        host, _, port = raw.rpartition(":")
        if not host or not port.isascii() or not port.isdigit() or not 0 < int(port) < 65536:
            raise SettingsError(
                f"{name} must be the path of clamd's socket (/run/clamav/clamd.ctl) or host:port "
                f"(127.0.0.1:3310), not {raw!r}."
            )
        return raw

    def base_domain(self, name: str, default: str) -> str:
        raw = self.text(name)
        if raw is None:
            return default
        match = _HOST_AND_PORT.match(raw.lower())
        if match is None or (match.group(1) and not 0 < int(match.group(1)) < 65536):
            raise SettingsError(
                f"{name} must be a host name with an optional port, such as portal.example.com or "
                f"localhost:5000, not {raw!r}."
            )
        return raw

    def mail_from(self, name: str, default: str) -> str:
        raw = self.text(name)
        if raw is None:
            return default
        _, address = parseaddr(raw)
        if "@" not in address:
            raise SettingsError(f"{name} must be an email address such as Portico <no-reply@example.com>.")
        return raw
