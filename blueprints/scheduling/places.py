"""Where an appointment takes place, and what can be done with it besides moving and cancelling,
told to scheduling by the features above it (session rooms) through registration, never imported.

- `register_place_provider(fn)`: `fn(appointment, discreet)` -> a `Place` (what a calendar invite
  puts in LOCATION, URL and DESCRIPTION) or None (scheduling's own default: the practice's name).
- `register_appointment_action(fn)`: `fn(appointment, side, now)` -> an `Action` or None; `side` is
  "portal" (the client's appointments page) or "staff" (the staff appointment page). The pages show
  each action a provider returns, so a provider returns one only when it works.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True)
class Place:
    location: str
    url: str | None = None
    description: str | None = None


@dataclass(frozen=True)
class Action:
    label: str
    url: str
    css_id: str  # an id prefix: the page adds the appointment's id


_place_providers: list[Callable] = []
_action_providers: list[Callable] = []


def register_place_provider(provider: Callable) -> None:
    if provider not in _place_providers:
        _place_providers.append(provider)


def register_appointment_action(provider: Callable) -> None:
    if provider not in _action_providers:
        _action_providers.append(provider)


def place_of(appointment, discreet: bool = False) -> Place | None:
    for provider in _place_providers:
        place = provider(appointment, discreet)
        if place is not None:
            return place
    return None


def appointment_actions(appointment, side: str, now: datetime | None = None) -> list[Action]:
    now = now or datetime.now(UTC)
    return [action for provider in _action_providers if (action := provider(appointment, side, now))]
