"""Flask extensions, created once and initialised by the application factory."""

from flask import request
from flask_bootstrap import Bootstrap5
from flask_limiter import Limiter
from flask_login import LoginManager
from flask_wtf import CSRFProtect

from tenants.context import bound_practice
from tenants.database import db


def _rate_limit_key() -> str:
    # Buckets always carry the practice: one practice's traffic never throttles another's.
    practice = bound_practice()
    return f"{practice.id if practice else 'apex'}:{request.remote_addr}"


login_manager = LoginManager()
csrf = CSRFProtect()
limiter = Limiter(key_func=_rate_limit_key, default_limits=[], headers_enabled=True)
bootstrap = Bootstrap5()

__all__ = ["db", "login_manager", "csrf", "limiter", "bootstrap"]
