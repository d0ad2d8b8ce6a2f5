"""Profile links: passwordless `/l/<token>` links into one client's portal, and the step-up that
guards messages, documents and forms in such a session."""

from flask import Blueprint

from tenants.middleware import practice_only

bp = practice_only(Blueprint("profile_links", __name__))

from blueprints.profile_links import models, routes, sessions  # noqa: E402,F401
