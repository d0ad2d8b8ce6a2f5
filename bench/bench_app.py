"""The WSGI application the benchmarks serve with gunicorn (`bench.bench_app:build_app()`).

It is the real application (`app.create_app`) with two extra pages that do the same work for a
logged-in staff member, with and without tenancy:

- `/bench/tenant` on a practice host: the normal path. The host is resolved to the practice and
  bound, Flask-Login loads the user from the session cookie through `db.session` (PracticeSession:
  a transaction that begins with SET LOCAL ROLE + search_path, and the schema_translate_map), and
  staff are required as on real pages. The row read is that of the current user. Like every staff
  page, it also passes the application's staff two-factor gate (`blueprints.auth.mfa`), which
  reads the practice_settings row.
- `/bench/bypass` on the apex host (no practice bound): the session cookie is decoded the same way,
  and the same user row is read by its fully qualified name (`tenant_<id>.users`) through a plain
  ORM session on `db.engine`: no SET ROLE, no search_path, no schema_translate_map. It is hydrated
  into the same `User` class and checked the same way (practice id, active, session version, staff),
  and the practice_settings row is read the same way, standing in for the two-factor gate. So both
  pages read the same two rows, and the difference between them is the tenancy machinery.

Two more serve bench/documents.py's download comparison: `/bench/document/<id>?key=…` streams a
stored document decrypted (`storage.iter_object`, as the download view does, without its sign-in
and audit line), and `/bench/plain-file?name=…` streams an unencrypted file of the data directory
in the same 1 MiB pieces.

Rate limits are switched off for this app only (RATELIMIT_ENABLED=False), so that the provisioning
benchmark can sign up more practices than POST /signup allows one client per hour.
Settings come from environment variables set by `bench.common.GunicornServer`.
"""

from __future__ import annotations

import os
from pathlib import Path

from flask import Blueprint, Flask, Response, abort, current_app, g, request, session
from flask_login import current_user
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from app import create_app
from app.extensions import limiter
from app.web import staff_required
from bench.common import (
    BYPASS_PATH,
    DOCUMENT_PATH,
    ENV_BASE_DOMAIN,
    ENV_DATA_DIR,
    ENV_DATABASE_URL,
    ENV_MASTER_KEY,
    ENV_PRACTICE_CACHE_SECONDS,
    PLAIN_FILE_PATH,
    TENANT_PATH,
    bench_settings,
)
from blueprints.auth.models import User
from tenants.database import checked_schema_name, db
from tenants.features import PracticeSettings
from tenants.middleware import practice_required

bp = Blueprint("bench", __name__)


def _answer(user: User) -> Response:
    return Response(f"{user.name} <{user.email}>\n", mimetype="text/plain")


@bp.get(TENANT_PATH)
@practice_required
@staff_required()
def tenant_page():
    return _answer(current_user)


@bp.get(BYPASS_PATH)
def bypass_page():
    if not g.get("is_apex"):
        abort(404)
    user = _user_without_tenancy()
    if user is None or not user.is_staff:
        abort(403)
    return _answer(user)


@bp.get(f"{DOCUMENT_PATH}/<int:object_id>")
@practice_required
def document_download(object_id: int):
    from blueprints.documents.storage import iter_object

    pieces = iter_object(object_id, request.args.get("key", ""))
    return Response(pieces, mimetype="application/pdf", headers={"Content-Disposition": "attachment"})


@bp.get(PLAIN_FILE_PATH)
def plain_file():
    from blueprints.documents.storage import SEGMENT

    path = Path(current_app.config["PORTICO"].data_dir) / "files" / Path(request.args.get("name", "")).name

    def pieces():
        with open(path, "rb") as handle:
            while piece := handle.read(SEGMENT):
                yield piece

    return Response(pieces(), mimetype="application/pdf", headers={"Content-Disposition": "attachment"})


def _user_without_tenancy() -> User | None:
    """What `blueprints.auth.sessions.load_user` does, reading `tenant_<id>.users` by full name."""
    try:
        practice_id, user_id, version = (int(part) for part in session.get("_user_id", "").split(":"))
    except ValueError:
        return None
    if session.get("practice_id") != practice_id:
        return None
    schema = checked_schema_name(f"tenant_{practice_id}")
    users = select(User).from_statement(text(f"SELECT * FROM {schema}.users WHERE id = :id"))
    settings = select(PracticeSettings).from_statement(
        text(f"SELECT * FROM {schema}.practice_settings WHERE id = 1")
    )
    with Session(db.engine) as orm:
        user = orm.scalars(users, {"id": user_id}).first()
        if user is None or not user.is_active or user.session_version != version:
            return None
        orm.scalars(settings).first()  # what the staff two-factor gate reads on practice hosts
    return user


def build_app() -> Flask:
    settings = bench_settings(
        os.environ[ENV_DATABASE_URL],
        os.environ[ENV_BASE_DOMAIN],
        Path(os.environ[ENV_DATA_DIR]),
        int(os.environ[ENV_PRACTICE_CACHE_SECONDS]),
        os.environ.get(ENV_MASTER_KEY) or None,
    )
    app = create_app(settings)
    # Bench-only: Flask-Limiter reads RATELIMIT_ENABLED in init_app (already run by create_app)
    # and checks `limiter.enabled` on every request, so both are set.
    app.config["RATELIMIT_ENABLED"] = False
    limiter.enabled = False
    app.register_blueprint(bp)
    return app
