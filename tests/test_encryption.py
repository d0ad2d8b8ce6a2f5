"""Encryption at rest: a sealed value opens only in its own practice, table, row and column."""

from __future__ import annotations

import base64

import pytest
from click.testing import CliRunner
from sqlalchemy import select, text

from app.cli import main
from blueprints.notifications.models import OutboxEmail
from blueprints.notifications.service import queue_email
from tenants.database import db
from tenants.encryption import (
    MasterKeyError,
    PracticeKey,
    SealError,
    new_master_key,
    parse_master_key,
    rotate_practice_key,
    seal,
    seal_text,
    unseal,
    unseal_text,
)

PLACE = {"table": "outbox_emails", "row_id": 7, "column": "body_sealed"}


def test_round_trip_and_the_blob_hides_the_text(make_practice, in_practice):
    practice = make_practice()
    with in_practice(practice):
        blob = seal_text("reset link https://x.example/reset/SECRET", **PLACE)
        assert b"SECRET" not in blob
        assert unseal_text(blob, **PLACE) == "reset link https://x.example/reset/SECRET"
        assert unseal(seal(b"\x00\xff bytes", **PLACE), **PLACE) == b"\x00\xff bytes"
        # A fresh data key and nonce each time: the same text never seals to the same bytes.
        assert seal_text("same", **PLACE) != seal_text("same", **PLACE)
        [key] = db.session.scalars(select(PracticeKey)).all()  # made on first use, wrapped
        assert key.version == 1 and key.retired_at is None and len(key.wrapped_key) == 12 + 32 + 16


@pytest.mark.parametrize(
    "elsewhere",
    [
        {"row_id": 8},
        {"column": "attachment_sealed"},
        {"table": "messages"},
    ],
)
def test_a_blob_does_not_open_in_another_row_column_or_table(make_practice, in_practice, elsewhere):
    practice = make_practice()
    with in_practice(practice):
        blob = seal_text("step-up code 123456", **PLACE)
        with pytest.raises(SealError, match="was not sealed for"):
            unseal_text(blob, **{**PLACE, **elsewhere})


def test_a_blob_copied_into_another_practices_row_does_not_open(make_practice, in_practice):
    a, b = make_practice(), make_practice()
    with in_practice(a):
        queue_email("a@example.com", "A", "profile link for A: SECRET-A")
        db.session.commit()
    with in_practice(b):
        queue_email("b@example.com", "B", "profile link for B")
        db.session.commit()
    with in_practice(a):
        stolen = db.session.scalars(select(OutboxEmail.body_sealed)).one()
    # Same table, same row id (1), same column: only the practice differs.
    with in_practice(b):
        email = db.session.scalars(select(OutboxEmail)).one()
        assert email.id == 1
        with pytest.raises(SealError):
            unseal_text(stolen, table="outbox_emails", row_id=email.id, column="body_sealed")


def test_an_altered_blob_or_another_master_key_is_refused(app, make_practice, in_practice):
    practice = make_practice()
    with in_practice(practice):
        blob = bytearray(seal_text("secret", **PLACE))
        db.session.commit()
        blob[-1] ^= 1
        with pytest.raises(SealError):
            unseal(bytes(blob), **PLACE)
        with pytest.raises(SealError, match="not a sealed value"):
            unseal(b"plain text", **PLACE)
        blob[-1] ^= 1
        settings = app.config["PORTICO"]
        original, settings.master_key = settings.master_key, new_master_key()
        try:
            with pytest.raises(SealError, match="PORTICO_MASTER_KEY"):
                unseal(bytes(blob), **PLACE)
        finally:
            settings.master_key = original
        assert unseal_text(bytes(blob), **PLACE) == "secret"


def test_master_key_format():
    assert len(parse_master_key(new_master_key())) == 32
    urlsafe = base64.urlsafe_b64encode(bytes(range(200, 232))).decode().rstrip("=")
    assert parse_master_key(urlsafe) == bytes(range(200, 232))
    for wrong in (None, "", "short", base64.b64encode(b"x" * 16).decode()):
        with pytest.raises(MasterKeyError, match="PORTICO_MASTER_KEY"):
            parse_master_key(wrong)


def _blob_versions(admin_engine, practice_id: int) -> list[int]:
    with admin_engine.connect() as conn:
        blobs = conn.execute(
            text(f"SELECT body_sealed FROM tenant_{practice_id}.outbox_emails ORDER BY id")
        ).scalars()
        return [int.from_bytes(bytes(blob)[3:7], "big") for blob in blobs]


def test_rotation_rewraps_data_keys_and_retires_the_old_version(
    app, admin_engine, make_practice, in_practice
):
    practice, other = make_practice(), make_practice()
    with in_practice(practice):
        for n in range(3):
            queue_email(f"c{n}@example.com", f"Subject {n}", f"body {n}")
        db.session.commit()
        sealed_before = db.session.scalars(select(OutboxEmail.body_sealed).order_by(OutboxEmail.id)).all()
    with in_practice(other):
        queue_email("other@example.com", "Other", "other body")
        db.session.commit()
    with app.app_context():
        assert _blob_versions(admin_engine, practice.id) == [1, 1, 1]

    with in_practice(practice):
        assert rotate_practice_key() == (2, 3)
        db.session.commit()
    with in_practice(practice):
        emails = db.session.scalars(select(OutboxEmail).order_by(OutboxEmail.id)).all()
        for n, email in enumerate(emails):
            assert unseal_text(
                email.body_sealed, table="outbox_emails", row_id=email.id, column="body_sealed"
            ) == (f"body {n}")
        # Only the wrapped data keys changed: the ciphertext of each body is the same bytes.
        for before, email in zip(sealed_before, emails, strict=True):
            assert bytes(email.body_sealed)[67:] == bytes(before)[67:]
            assert bytes(email.body_sealed)[3:67] != bytes(before)[3:67]
        keys = {key.version: key for key in db.session.scalars(select(PracticeKey))}
        assert keys[1].retired_at is not None and keys[2].retired_at is None
        assert int.from_bytes(seal_text("new", **PLACE)[3:7], "big") == 2  # new values use version 2
    with app.app_context():
        assert _blob_versions(admin_engine, practice.id) == [2, 2, 2]
        assert _blob_versions(admin_engine, other.id) == [1]  # another practice is untouched


def test_keys_rotate_command(app, make_practice, in_practice, tmp_path):
    practice = make_practice()
    with in_practice(practice):
        queue_email("c@example.com", "Subject", "the body")
        db.session.commit()
    env = {
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "PORTICO_OWNER_DATABASE_URL": app.config["PORTICO"].owner_database_url,
        "PORTICO_DATA_DIR": str(tmp_path),
        "PORTICO_MASTER_KEY": app.config["PORTICO"].master_key,
    }
    result = CliRunner().invoke(main, ["keys", "rotate", practice.slug], env=env)
    assert result.exit_code == 0, result.output
    assert f"Practice {practice.id} ({practice.slug}) now uses key version 2; 1 value(s) re-wrapped." in (
        result.output
    )
    with in_practice(practice):
        email = db.session.scalars(select(OutboxEmail)).one()
        assert unseal_text(
            email.body_sealed, table="outbox_emails", row_id=email.id, column="body_sealed"
        ) == ("the body")
    wrong = CliRunner().invoke(main, ["keys", "rotate", practice.slug], env={**env, "PORTICO_MASTER_KEY": ""})
    assert wrong.exit_code == 2 and "PORTICO_MASTER_KEY is not set" in wrong.output
    other_key = CliRunner().invoke(
        main, ["keys", "rotate", practice.slug], env={**env, "PORTICO_MASTER_KEY": new_master_key()}
    )
    assert other_key.exit_code == 2 and "Nothing changed" in other_key.output
