"""Settings: every knob an operator can turn, read once from the environment with safe defaults."""

from __future__ import annotations

import base64
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw else default


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    return float(raw) if raw else default


@dataclass
class Settings:
    database_url: str | None = None
    secret_key: str | None = None
    base_domain: str = "localhost:5000"
    data_dir: Path = field(default_factory=lambda: Path("portico-data"))
    smtp_url: str | None = None
    storage_url: str | None = None
    master_key: str | None = None  # base64 of 32 bytes; see tenants/encryption.py
    mail_from: str = "Portico <no-reply@localhost>"
    ratelimit_storage_uri: str = "memory://"
    session_idle_minutes: int = 30
    session_max_hours: int = 12
    practice_cache_seconds: int = 30
    trusted_proxies: int = 0
    # First wait before an email is tried again; each later wait doubles (about 1.5-3 h in all).
    mail_retry_base_seconds: float = 5.0

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ
        return cls(
            database_url=env.get("DATABASE_URL") or None,
            secret_key=env.get("SECRET_KEY") or None,
            base_domain=env.get("PORTICO_BASE_DOMAIN") or "localhost:5000",
            data_dir=Path(env.get("PORTICO_DATA_DIR") or "portico-data"),
            smtp_url=env.get("SMTP_URL") or None,
            storage_url=env.get("STORAGE_URL") or None,
            master_key=env.get("PORTICO_MASTER_KEY") or None,
            mail_from=env.get("PORTICO_MAIL_FROM") or "Portico <no-reply@localhost>",
            ratelimit_storage_uri=env.get("PORTICO_RATELIMIT_STORAGE_URI") or "memory://",
            session_idle_minutes=_env_int("PORTICO_SESSION_IDLE_MINUTES", 30),
            session_max_hours=_env_int("PORTICO_SESSION_MAX_HOURS", 12),
            practice_cache_seconds=_env_int("PORTICO_PRACTICE_CACHE_SECONDS", 30),
            trusted_proxies=_env_int("PORTICO_TRUSTED_PROXIES", 0),
            mail_retry_base_seconds=_env_float("PORTICO_MAIL_RETRY_BASE_SECONDS", 5.0),
        )

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
