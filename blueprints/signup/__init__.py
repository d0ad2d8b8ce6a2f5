"""Signup on the apex host: a new practice picks its portal address and its owner account."""

from flask import Blueprint

from tenants.middleware import apex_only

bp = apex_only(Blueprint("signup", __name__))

from blueprints.signup import routes  # noqa: E402,F401
