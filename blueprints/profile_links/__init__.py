"""Profile links: passwordless `/l/<token>` links into one client's portal, and the step-up that
guards messages, documents and forms in such a session.

service (the links), sessions (the session a link opens, registered with the portal), step_up (the
password or emailed code that unlocks more), routes (the views).
"""

from flask import Blueprint

from tenants.middleware import practice_only

bp = practice_only(Blueprint("profile_links", __name__))

from blueprints.profile_links import models, routes, sessions  # noqa: E402,F401
