"""Probe routes for the isolation tests: what a practice transaction sees on its connection."""

from __future__ import annotations

from flask import Blueprint, jsonify
from sqlalchemy import select, text

from blueprints.auth.models import User
from tenants.context import current_practice
from tenants.database import db


def practice_probe(name: str) -> Blueprint:
    """`/_probe/state`: the role, search_path, users and practice of the request's transaction;
    `/_probe/boom`: an error in the middle of a practice transaction."""
    probe = Blueprint(name, __name__)

    @probe.get("/_probe/state")
    def state():
        role, path = db.session.execute(text("SELECT current_user, current_setting('search_path')")).one()
        names = db.session.scalars(select(User.name)).all()
        return jsonify(role=role, search_path=path, users=names, practice=current_practice().id)

    @probe.get("/_probe/boom")
    def boom():
        db.session.execute(select(User)).all()
        raise RuntimeError("boom in the middle of a practice transaction")

    return probe
