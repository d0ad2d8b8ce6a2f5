"""The application factory: settings, extensions, tenancy, blueprints, error pages, health check.

Imported through `app.create_app` on first use (see app/__init__.py)."""

from __future__ import annotations

import io
import logging
from datetime import timedelta
from pathlib import Path

from flask import Flask, Request, jsonify, request
from flask.sessions import SecureCookieSessionInterface
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from werkzeug.middleware.proxy_fix import ProxyFix

from app import jobs
from app.config import Settings
from app.database_options import engine_options
from app.embedded_db import DatabaseUrls, database_urls, normalize_url
from app.errors import install_error_pages
from app.extensions import bootstrap, csrf, db, limiter, login_manager
from app.log_redaction import install_redaction
from app.nav import nav_groups, nav_links
from app.security import install_security_headers
from app.timefmt import local_span, local_time
from app.web import IdConverter, apply_body_limit, reject_nul_bytes
from tenants.context import bound_practice
from tenants.database import EMPTY_SCHEMA, OWNER_BIND, install_pool_hygiene
from tenants.middleware import install_tenant_middleware
from tenants.roles import app_role_warnings

ROOT = Path(__file__).resolve().parent.parent
MAX_UPLOAD_BYTES = 25 * 1024 * 1024


class _Request(Request):
    """Uploaded files stay in memory. Werkzeug writes any upload over 500 KB to a temporary file,
    in clear, before a view sees it: a client's document (health information) would rest unencrypted
    on the web host's disk. The body limits (MAX_CONTENT_LENGTH and each practice's own, checked
    before the body is read) bound what memory one request can take."""

    def _get_file_stream(self, total_content_length, content_type, filename=None, content_length=None):
        return io.BytesIO()


class _SessionInterface(SecureCookieSessionInterface):
    """The session cookie is Secure on an https installation, and on any request that arrived over
    https (behind a TLS-terminating proxy, as PORTICO_TRUSTED_PROXIES' X-Forwarded-Proto says)."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return super().get_cookie_secure(app) or request.is_secure


def create_app(settings: Settings | None = None, db_url: str | None = None) -> Flask:
    """The application; `db_url` overrides the application role's URL (DATABASE_URL)."""
    settings = settings or Settings.from_env()
    app = Flask(__name__, template_folder=str(ROOT / "templates"), static_folder="static")
    https = settings.scheme == "https"
    if db_url is None:
        urls = database_urls(settings)
    else:
        urls = DatabaseUrls(db_url, normalize_url(settings.owner_database_url or db_url))
    options = engine_options(settings)
    owner_bind = {OWNER_BIND: {"url": urls.owner, **options}} if urls.owner != urls.app else {}
    app.config.update(
        PORTICO=settings,
        SECRET_KEY=settings.resolved_secret_key(),
        SQLALCHEMY_DATABASE_URI=urls.app,
        SQLALCHEMY_ENGINE_OPTIONS=options,
        # The owner role's engine (migrations, provisioning, registry changes): see tenants.roles.
        SQLALCHEMY_BINDS=owner_bind,
        # Host-only cookie (no Domain attribute): a practice's cookie never reaches another host.
        SESSION_COOKIE_NAME="__Host-portico" if https else "portico_session",
        SESSION_COOKIE_DOMAIN=None,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=https,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=settings.session_max_hours),
        # The cookie is re-signed only when the session changes (blueprints.auth.sessions rewrites
        # seen_at at most every 30 s), not on every request: the idle and absolute lifetimes are
        # checked on the server from the session itself, not from the cookie's expiry.
        SESSION_REFRESH_EACH_REQUEST=False,
        MAX_CONTENT_LENGTH=MAX_UPLOAD_BYTES,
        RATELIMIT_STORAGE_URI=settings.ratelimit_storage_uri,
        RATELIMIT_HEADERS_ENABLED=True,
        BOOTSTRAP_SERVE_LOCAL=True,
        BOOTSTRAP_BOOTSWATCH_THEME=None,
    )
    app.request_class = _Request
    app.session_interface = _SessionInterface()
    if settings.trusted_proxies:
        app.wsgi_app = ProxyFix(
            app.wsgi_app, x_for=settings.trusted_proxies, x_proto=settings.trusted_proxies
        )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for chatty in ("alembic", "procrastinate.blueprints"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    install_redaction()

    app.url_map.converters["int"] = IdConverter
    db.init_app(app)
    with app.app_context():
        for engine in db.engines.values():
            install_pool_hygiene(
                engine,
                recycle_uses=settings.db_recycle_uses,
                ping_after_idle_seconds=settings.db_ping_idle_seconds,
            )
    limiter.init_app(app)
    bootstrap.init_app(app)
    login_manager.init_app(app)
    install_tenant_middleware(app)
    # Only once the practice is bound is a request's body read (its NUL check, the CSRF check): an
    # upload view's limit depends on its practice, and is checked before the body is read.
    app.before_request(apply_body_limit)
    app.before_request(reject_nul_bytes)
    csrf.init_app(app)
    install_security_headers(app)
    install_error_pages(app)
    _register_blueprints(app)
    jobs.init_app(app)
    _check_database_role(app)

    @app.get("/healthz")
    def healthz():
        try:
            with db.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception:
            return jsonify(status="unavailable", database="unreachable"), 503
        return jsonify(status="ok", database="ok")

    app.add_template_filter(local_time, "local_time")
    app.add_template_filter(local_span, "local_span")

    @app.context_processor
    def practice_in_templates():
        return {"practice": bound_practice(), "nav_links": nav_links, "nav_groups": nav_groups}

    return app


def _check_database_role(app: Flask) -> None:
    """Say in the log when DATABASE_URL's role could read practices outside their transactions."""
    log = logging.getLogger("portico.db")
    with app.app_context():
        try:
            for warning in app_role_warnings(db.engine):
                log.warning(warning)
            if app.config["PORTICO"].pgbouncer:
                _check_search_path(log)
        except OperationalError as error:  # the database is not up yet: /healthz will say so
            log.warning("could not check the database role: %s", str(error).splitlines()[0])


def _check_search_path(log: logging.Logger) -> None:
    """Behind PgBouncer the empty search_path comes from the role, not the connection: say if not."""
    with db.engine.connect() as conn:
        path = conn.execute(text("SHOW search_path")).scalar()
    if path != EMPTY_SCHEMA:
        log.warning(
            "PORTICO_PGBOUNCER is set and the application role's search_path is %s, not %s: unqualified "
            "SQL could find tables. Run ALTER ROLE <role> SET search_path = %s (deploy/OPERATIONS.md).",
            path,
            EMPTY_SCHEMA,
            EMPTY_SCHEMA,
        )


def _register_blueprints(app: Flask) -> None:
    # Here and not at the top: the factory is the one place in app/ that names features (each
    # feature imports app/, so a module-level import would tie the packages in a circle).
    from blueprints import (
        audit,
        auth,
        automations,
        billing,
        branding,
        documents,
        home,
        messaging,
        notifications,
        onboarding,
        people,
        portal,
        profile_links,
        rooms,
        scheduling,
        signup,
        sso,
        staff_notifications,
        waitlist,
    )
    from blueprints import settings as settings_bp

    for feature in (
        signup,
        auth,
        sso,
        home,
        notifications,
        people,
        staff_notifications,
        portal,
        profile_links,
        messaging,
        documents,
        settings_bp,
        branding,
        audit,
        scheduling,
        rooms,
        onboarding,
        automations,
        waitlist,
        billing,
    ):
        app.register_blueprint(feature.bp)
