"""Scheduling: services, availability, slots, bookings and requests, calendar invites and feeds."""

from flask import Blueprint

from tenants.middleware import practice_only

bp = practice_only(Blueprint("scheduling", __name__))

from blueprints.scheduling import models, portal_routes, staff_routes  # noqa: E402,F401
