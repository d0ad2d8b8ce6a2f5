"""Waitlist: clients wait for a service on days and parts of the day that suit them; when a time
frees (scheduling's `time_freed` signal) it is held and offered to the first few of them, and the
first to confirm gets it.

Above scheduling and automations: scheduling announces freed times without knowing this package;
automations runs its periodic work (lapsing holds) from the practice's due time.
`operations/` holds the rules (entries, matching, offers); `views/` the pages (portal, staff, offers).
"""

from flask import Blueprint

from tenants.middleware import practice_only

bp = practice_only(Blueprint("waitlist", __name__))

from blueprints.automations.reminders import register_periodic  # noqa: E402
from blueprints.scheduling.signals import time_freed  # noqa: E402
from blueprints.waitlist import models  # noqa: E402,F401
from blueprints.waitlist.operations import offers  # noqa: E402
from blueprints.waitlist.views import offers as offer_views  # noqa: E402,F401
from blueprints.waitlist.views import portal, staff  # noqa: E402,F401

time_freed.connect(offers.on_time_freed)
# Holds lapse even while the feature is off (nobody could answer them); nothing new is offered then.
register_periodic(offers.run_due, offers.next_due)
