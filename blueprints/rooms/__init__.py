"""Session rooms: the practice's video service, each clinician's permanent room link, each client's
own room, the room link in every online appointment's invite, and the portal's audited Join.

Above scheduling and people; scheduling never imports it: this package registers where an
appointment takes place (`scheduling.places.register_place_provider`, read by the invite builder)
and the Join action (`register_appointment_action`, shown on the portal's and staff's pages).
`operations/` holds the rules, `views/` the pages."""

from flask import Blueprint

from tenants.middleware import practice_only

bp = practice_only(Blueprint("rooms", __name__))

from blueprints.rooms import hooks, models  # noqa: E402,F401
from blueprints.rooms.views import account, join, settings  # noqa: E402,F401
