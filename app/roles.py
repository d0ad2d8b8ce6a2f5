"""Staff roles and the named groups that rules check against.

A rule names the group that expresses its intent (`SEES_ALL_CLIENTS`), never a literal tuple, so a
new role is added in one place.
"""

from __future__ import annotations

STAFF_ROLES = ("owner", "admin", "scheduler", "clinician", "intern")

OWNER_ONLY = ("owner",)
# Practice administration: settings, services, practice hours, staff, test clients, portal preview.
MANAGES_PRACTICE = ("owner", "admin")
# Front desk and up: every client of the practice, assignments, previews of the portal.
SEES_ALL_CLIENTS = ("owner", "admin", "scheduler")
# Those who can offer services, keep hours, be booked and be assigned to clients.
OFFERS_SERVICES = ("owner", "admin", "clinician", "intern")
# Care team: may archive clients and grant portal access (clinicians only for their own clients).
CARE_TEAM = ("owner", "admin", "scheduler", "clinician")
