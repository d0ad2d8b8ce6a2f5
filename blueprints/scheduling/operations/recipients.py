"""Who is told about an appointment or a request, each with their address and their own time zone.

`client_recipients` is the one answer for every client-side scheduling email and invite (booking,
move, cancellation, a request's decision):

- an adult (or a record without a date of birth): the address on the record, as always;
- a minor: the guardians whose grant covers appointments today (unrevoked, guardian access on, the
  minor not of age: `portal.service.permissions_for`), and the minor's own login when they have one
  and the portal is open. Nobody else: not the address on the record (often a parent's, who may be a
  guardian without the appointments grant), not a guardian whose grant was revoked or does not cover
  appointments.

Zones: a client's own `time_zone`, else the practice's; a guardian sees the zone of the record they
act for (logins have no zone of their own); a clinician sees the practice's zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from blueprints.auth.models import User
from blueprints.people.models import Client
from blueprints.people.operations.access import live_grants
from blueprints.portal.service import is_minor, permissions_for
from tenants.features import is_enabled, practice_settings, practice_today, practice_zone


@dataclass(frozen=True)
class Recipient:
    address: str
    zone: ZoneInfo
    kind: str  # "client" (the record's own address or login), "guardian" or "clinician"
    name: str = ""
    access_id: int | None = None  # a guardian's grant (their own profile link is issued for it)


def client_recipients(client: Client, grant: str = "appointments") -> list[Recipient]:
    """Who gets the client-side copy of `client`'s scheduling emails and invites (see the module);
    for a minor, `grant` names what a guardian's grant must cover ("appointments", "forms",
    "documents": the messages of other features go by their own part of the grant)."""
    zone = practice_zone(client.time_zone)
    settings, today = practice_settings(), practice_today()
    if not is_minor(client, settings, today):
        address = (client.email or "").strip()
        return [Recipient(address, zone, "client", client.display_name)] if address else []
    found: list[Recipient] = []
    grants = live_grants(client, "guardian")
    if is_enabled("portal"):  # the minor's own login counts only while the portal is open to them
        grants = live_grants(client, "self") + grants
    for access, user in grants:
        permissions = permissions_for(access, client, settings, today)
        if permissions is None or not getattr(permissions, grant):
            continue
        kind = "client" if access.relationship_kind == "self" else "guardian"
        access_id = access.id if kind == "guardian" else None
        found.append(Recipient((user.email or "").strip(), zone, kind, user.name, access_id))
    return unique(found)


def clinician_recipient(clinician: User) -> list[Recipient]:
    """The clinician's copy (none without an address), in the practice's zone."""
    address = (clinician.email or "").strip()
    return [Recipient(address, practice_zone(), "clinician", clinician.name)] if address else []


def unique(recipients: list[Recipient]) -> list[Recipient]:
    """`recipients` without blank addresses, each address once (the first wins), in order."""
    seen: set[str] = set()
    kept = []
    for recipient in recipients:
        key = recipient.address.lower()
        if key and key not in seen:
            seen.add(key)
            kept.append(recipient)
    return kept
