"""Scheduling: services, availability, slots, bookings and requests, calendar invites."""
