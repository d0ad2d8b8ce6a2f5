"""Scheduling: services, availability, slots, bookings and requests, calendar invites and feeds.

`operations/` holds the rules, one module per subject; `views/` the pages, one module per subject.
"""

from flask import Blueprint

from tenants.middleware import practice_only

bp = practice_only(Blueprint("scheduling", __name__))

from blueprints.scheduling import digest, models  # noqa: E402,F401
from blueprints.scheduling.views import (  # noqa: E402,F401
    availability,
    calendar,
    feeds,
    home,
    portal,
    requests,
    series,
    services,
)
