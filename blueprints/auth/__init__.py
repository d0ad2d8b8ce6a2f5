"""Auth: staff (and later client) accounts, login and logout, the signup hand-off, password reset."""

from flask import Blueprint

from tenants.middleware import practice_only

bp = practice_only(Blueprint("auth", __name__))

from blueprints.auth import routes, sessions  # noqa: E402,F401
