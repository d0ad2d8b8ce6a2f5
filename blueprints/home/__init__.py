"""The front page of each host: the platform landing page on the apex; on a practice host, the
practice home (who the practice is, and the owner's "Get started" step)."""

from flask import Blueprint

bp = Blueprint("home", __name__)

from blueprints.home import routes  # noqa: E402,F401
