"""Message bodies are encrypted at rest (issue 11, "Encrypted at rest"), and existing ones are migrated.

A message's text lives sealed in messages.body_sealed (bound to its practice and row); the plain column
stays empty. Bodies kept in clear before t0013 are sealed by `portico db upgrade`, which runs every
registered sealing step (message bodies, TOTP secrets) in each practice it migrates and records the
practice's revision only once that worked. Key rotation keeps every message readable.
"""

from __future__ import annotations

import base64
import os

import pyotp
import pytest
from click.testing import CliRunner
from sqlalchemy import select, text

from app.cli import main
from blueprints.messaging.models import Message
from blueprints.messaging.service import seal_plain_bodies
from tenants.database import db, enter_practice_sql, owner_engine
from tenants.encryption import SealError, unseal_text
from tenants.migrate import tenant_head
from tenants.registry import invalidate_cache
from tests.test_messaging import set_settings, staff_post, write

SECRET_TEXT = "My panic attacks came back on Sunday"


def raw_messages(admin_engine, practice):
    """The messages rows as a database dump would show them."""
    with admin_engine.connect() as conn:
        return conn.execute(
            text(f"SELECT id, body, body_sealed FROM tenant_{practice.id}.messages ORDER BY id")
        ).all()


def assert_no_plaintext(admin_engine, practice, *secrets: str) -> None:
    for row in raw_messages(admin_engine, practice):
        assert row.body == "" and row.body_sealed is not None
        for secret in secrets:
            for form in (secret, secret.lower(), secret.upper()):
                assert form.encode() not in bytes(row.body_sealed)
                assert form.encode("utf-16-le") not in bytes(row.body_sealed)


def staff_page(visit, practice, client_id: int) -> str:
    owner = visit(practice)
    owner.login(practice.owner_email)
    response = owner.get(f"/clients/{client_id}/messages")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def revision_of(admin_engine, practice) -> str | None:
    with admin_engine.connect() as conn:
        return conn.execute(
            text("SELECT schema_revision FROM public.practices WHERE id = :id"), {"id": practice.id}
        ).scalar()


@pytest.fixture
def open_practice(make_practice, in_practice):
    """A practice with its portal (and so messaging) on."""

    def make():
        practice = make_practice()
        set_settings(in_practice, practice, portal_enabled=True)
        return practice

    return make


@pytest.fixture
def portico(app, tmp_path):
    """Run a `portico` command in-process with the test run's database (and master key)."""

    def run(*args, expect=0, **env):
        environment = {
            "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
            "PORTICO_OWNER_DATABASE_URL": app.config["PORTICO"].owner_database_url,
            "PORTICO_DATA_DIR": str(tmp_path),
            "PORTICO_BASE_DOMAIN": "localhost",
            "PORTICO_MIGRATION_JOBS": "1",
            **env,
        }
        result = CliRunner().invoke(main, list(args), env=environment)
        assert result.exit_code == expect, result.output
        invalidate_cache()
        return result.output

    return run


def test_a_new_message_is_stored_sealed_and_still_reads(
    open_practice, make_practice, make_client, visit, in_practice, admin_engine
):
    practice = open_practice()
    client = make_client(practice, first="Robin", email=f"robin@{practice.slug}.example.com")
    owner = visit(practice)
    owner.login(practice.owner_email)
    response = staff_post(owner, f"/clients/{client.id}/messages", {"thread": "client", "body": SECRET_TEXT})
    assert response.status_code == 302

    assert_no_plaintext(admin_engine, practice, SECRET_TEXT, "panic")
    [row] = raw_messages(admin_engine, practice)
    assert SECRET_TEXT in staff_page(visit, practice, client.id)
    with in_practice(practice):
        assert (
            unseal_text(row.body_sealed, table="messages", row_id=row.id, column="body_sealed") == SECRET_TEXT
        )
        with pytest.raises(SealError):  # bound to its row: moved to another message it does not open
            unseal_text(row.body_sealed, table="messages", row_id=row.id + 1, column="body_sealed")
    other = make_practice()
    with in_practice(other), pytest.raises(SealError):  # nor in another practice, under the same id
        unseal_text(row.body_sealed, table="messages", row_id=row.id, column="body_sealed")


def test_a_client_writes_and_reads_a_sealed_message_in_the_portal(
    open_practice, make_client, visit, in_practice, admin_engine
):
    practice = open_practice()
    client = make_client(practice, first="Sky", email=f"sky@{practice.slug}.example.com", login=True)
    person = visit(practice)
    person.login(client.email)
    person.get("/portal/choose")  # one record: opened at once
    assert write(person, SECRET_TEXT).status_code == 302
    assert SECRET_TEXT in person.get("/portal/messages").get_data(as_text=True)
    assert_no_plaintext(admin_engine, practice, SECRET_TEXT)
    assert SECRET_TEXT in staff_page(visit, practice, client.id)


def test_a_plain_row_of_the_previous_release_is_shown_then_sealed_by_the_step(
    open_practice, make_client, visit, in_practice, admin_engine
):
    """During a rollout, code of the previous release still writes `body` in clear: it is read as it is,
    and the sealing step seals it (and empties the plain copy); a second run finds nothing."""
    practice = open_practice()
    client = make_client(practice)
    with admin_engine.begin() as conn:
        conn.execute(
            text(
                f"INSERT INTO tenant_{practice.id}.messages"
                " (client_id, thread, author_kind, author_name, body)"
                " VALUES (:client, 'client', 'client', 'Casey', :body)"
            ),
            {"client": client.id, "body": SECRET_TEXT},
        )
    assert SECRET_TEXT in staff_page(visit, practice, client.id)
    with in_practice(practice):
        assert seal_plain_bodies(batch=1) == 1
        db.session.commit()
        assert seal_plain_bodies() == 0
        assert [m.body for m in db.session.scalars(select(Message))] == [SECRET_TEXT]
    assert_no_plaintext(admin_engine, practice, SECRET_TEXT)
    assert SECRET_TEXT in staff_page(visit, practice, client.id)


def _back_to_t0012_with_plain_data(app, admin_engine, practice, client_id: int, bodies: list[str], staff):
    """The practice as the previous release left it: schema at t0012, bodies and `staff`'s TOTP
    secret (returned) in clear."""
    from alembic import command

    from tenants.migrate import alembic_config

    schema = f"tenant_{practice.id}"
    secret = pyotp.random_base32()
    with app.app_context(), owner_engine().begin() as conn:
        conn.exec_driver_sql(enter_practice_sql(schema))
        config = alembic_config()
        config.attributes.update(connection=conn, branch="tenant", schema=schema)
        command.downgrade(config, "t0012")
        for body in bodies:
            conn.execute(
                text(
                    "INSERT INTO messages (client_id, thread, author_kind, author_name, body)"
                    " VALUES (:client, 'client', 'staff', 'Dr Old', :body)"
                ),
                {"client": client_id, "body": body},
            )
    with admin_engine.begin() as conn:
        conn.execute(
            text(
                f"UPDATE {schema}.users SET totp_secret = :secret, totp_enabled_at = now()"
                " WHERE email = :email"
            ),
            {"secret": secret, "email": staff},
        )
        conn.execute(
            text("UPDATE public.practices SET schema_revision = 't0012' WHERE id = :id"), {"id": practice.id}
        )
    return secret


def test_db_upgrade_seals_existing_bodies_and_totp_secrets(
    app, open_practice, make_client, make_staff, visit, in_practice, admin_engine, portico
):
    practice = open_practice()
    client = make_client(practice)
    staff = make_staff(practice, "admin")
    bodies = [SECRET_TEXT, "Second old message about my medication"]
    secret = _back_to_t0012_with_plain_data(app, admin_engine, practice, client.id, bodies, staff)

    # Without the master key nothing can be sealed: the practice is reported, and its revision is not
    # recorded, so the next upgrade (with the key) tries it again.
    output = portico("db", "upgrade", expect=1, PORTICO_MASTER_KEY=None)
    assert (
        f"practice {practice.id} ({practice.slug}): FAILED data kept in clear could not be sealed: "
        "MasterKeyError" in output
    )
    assert revision_of(admin_engine, practice) == "t0012"
    assert [row.body for row in raw_messages(admin_engine, practice)] == bodies

    output = portico("db", "upgrade", PORTICO_MASTER_KEY=os.environ["PORTICO_MASTER_KEY"])
    assert (
        f"practice {practice.id} ({practice.slug}): upgraded; sealed 1 TOTP secrets, 2 message bodies"
        in output
    )
    assert revision_of(admin_engine, practice) == tenant_head()
    assert_no_plaintext(admin_engine, practice, *bodies, "medication")
    with admin_engine.connect() as conn:
        plain, sealed = conn.execute(
            text(
                f"SELECT totp_secret, totp_secret_sealed FROM tenant_{practice.id}.users WHERE email = :email"
            ),
            {"email": staff},
        ).one()
    assert plain is None and secret.encode() not in bytes(sealed)
    assert base64.b32decode(secret) not in bytes(sealed)
    with in_practice(practice):
        staff_id = db.session.scalar(text("SELECT id FROM users WHERE email = :email"), {"email": staff})
        opened = unseal_text(bytes(sealed), table="users", row_id=staff_id, column="totp_secret_sealed")
    assert opened == secret
    page = staff_page(visit, practice, client.id)
    assert all(body in page for body in bodies)

    assert "sealed" not in portico("db", "upgrade")  # nothing behind: nothing to do


def test_key_rotation_keeps_messages_readable(
    open_practice, make_client, visit, in_practice, admin_engine, portico
):
    practice = open_practice()
    client = make_client(practice)
    owner = visit(practice)
    owner.login(practice.owner_email)
    for body in (SECRET_TEXT, "and a second one"):
        staff_post(owner, f"/clients/{client.id}/messages", {"thread": "client", "body": body})
    before = [bytes(row.body_sealed) for row in raw_messages(admin_engine, practice)]

    output = portico("keys", "rotate", practice.slug)
    assert "now uses key version 2" in output
    after = [bytes(row.body_sealed) for row in raw_messages(admin_engine, practice)]
    assert all(old[:7] != new[:7] for old, new in zip(before, after, strict=True))  # re-wrapped, version 2
    page = staff_page(visit, practice, client.id)
    assert SECRET_TEXT in page and "and a second one" in page
    assert_no_plaintext(admin_engine, practice, SECRET_TEXT)


def test_downgrade_below_t0013_is_refused_while_bodies_are_sealed(app, open_practice, make_client, visit):
    from alembic import command

    from tenants.migrate import alembic_config

    practice = open_practice()
    client = make_client(practice)
    owner = visit(practice)
    owner.login(practice.owner_email)
    staff_post(owner, f"/clients/{client.id}/messages", {"thread": "client", "body": SECRET_TEXT})
    schema = f"tenant_{practice.id}"
    # The refusal leaves the transaction, so the later revisions' downgrades (which ran before t0013
    # refused) are rolled back with it; caught inside, they were committed and the schema lost them.
    with pytest.raises(RuntimeError, match="1 message bodies are sealed"):
        with app.app_context(), owner_engine().begin() as conn:
            conn.exec_driver_sql(enter_practice_sql(schema))
            config = alembic_config()
            config.attributes.update(connection=conn, branch="tenant", schema=schema)
            command.downgrade(config, "t0012")
    assert SECRET_TEXT in staff_page(visit, practice, client.id)
