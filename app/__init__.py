"""The application package. The factory lives in `app.factory`; `app.create_app` imports it on first
use, so that importing a light module of this package (the `portico` command, `app.config`) does not
load Flask, SQLAlchemy, the job queue and every feature."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.factory import create_app

__all__ = ["create_app"]


def __getattr__(name: str):
    if name == "create_app":
        from app.factory import create_app

        return create_app
    raise AttributeError(f"module 'app' has no attribute {name!r}")
