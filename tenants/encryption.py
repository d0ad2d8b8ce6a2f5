"""Encryption at rest: envelope encryption with AES-GCM, one key per practice.

`PORTICO_MASTER_KEY` (base64 of 32 bytes) wraps each practice's key. The practice key lives wrapped
and versioned in the practice's own schema (`practice_keys`), made on first use. Every sealed value
gets a fresh data key, wrapped by the current practice key. Associated data binds the value to its
place (practice, table, row, column) and its wrapped data key to that place and the practice key
version, so a blob copied to another row, column or practice does not open (`SealError`).

    blob = seal_text("a reset link", table="outbox_emails", row_id=email.id, column="body_sealed")
    unseal_text(blob, table="outbox_emails", row_id=email.id, column="body_sealed")

A feature that keeps sealed values registers its column (`register_sealed_column`) so that
`rotate_practice_key` can re-wrap their data keys under a new practice key version; the values
themselves are not re-encrypted. Retired versions wrap nothing new but still open what they wrapped
(a value sealed by a transaction that raced the rotation stays readable).

A feature that kept values in clear before sealing them registers a sealing step
(`register_sealing_step`): `portico db upgrade` runs every step in each practice it migrated, with
the practice's key, so nothing stays in clear after an upgrade (migrations themselves have no key).

Deleting a practice destroys its keys (`destroy_practice_keys`): every value sealed for it, in
its schema, in stored files and in any backup taken since, can no longer be opened.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import secrets
import struct
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import current_app
from sqlalchemy import DateTime, Integer, LargeBinary, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Mapped, mapped_column

from tenants.context import current_practice
from tenants.database import TenantModel, db, enter_practice_sql, owner_engine

MASTER_KEY_VARIABLE = "PORTICO_MASTER_KEY"
KEY_BYTES = 32
NONCE_BYTES = 12
# blob = MAGIC | practice key version (4 bytes) | nonce + wrapped data key | nonce + ciphertext
MAGIC = b"ps1"
_HEADER = struct.Struct(">3sI")
_WRAPPED_DATA_KEY_BYTES = NONCE_BYTES + KEY_BYTES + 16


class SealError(ValueError):
    """A sealed value that cannot be opened here (moved, altered, or sealed under another key)."""


class MasterKeyError(RuntimeError):
    """PORTICO_MASTER_KEY is missing or malformed."""


class PracticeKey(TenantModel):
    """One version of a practice's key, wrapped by the master key. Only the newest unretired wraps."""

    __tablename__ = "practice_keys"

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


# ---------------------------------------------------------------------------------------------
# The master key
# ---------------------------------------------------------------------------------------------


def new_master_key() -> str:
    """A fresh master key in the form PORTICO_MASTER_KEY takes."""
    return base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()


def parse_master_key(value: str | None) -> bytes:
    """The 32 key bytes of a PORTICO_MASTER_KEY value, or MasterKeyError saying what is wrong."""
    if not value:
        raise MasterKeyError(
            f"{MASTER_KEY_VARIABLE} is not set. It encrypts data at rest; generate one with "
            "`python -c 'import base64, os; print(base64.b64encode(os.urandom(32)).decode())'` "
            "and keep it safe: without it encrypted data cannot be read."
        )
    raw = value.strip().replace("-", "+").replace("_", "/")  # the URL-safe alphabet too
    try:
        key = base64.b64decode(raw + "=" * (-len(raw) % 4), validate=True)
    except binascii.Error:
        key = b""
    if len(key) != KEY_BYTES:
        raise MasterKeyError(f"{MASTER_KEY_VARIABLE} must be the base64 encoding of 32 random bytes.")
    return key


def _master_key() -> bytes:
    return parse_master_key(current_app.config["PORTICO"].master_key)


# ---------------------------------------------------------------------------------------------
# Practice keys
# ---------------------------------------------------------------------------------------------


def _practice_key_aad(practice_id: int, version: int) -> bytes:
    return b"portico/practice-key\x00" + json.dumps([practice_id, version]).encode()


def _wrap(key: bytes, wrapping_key: bytes, aad: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(wrapping_key).encrypt(nonce, key, aad)


def _unwrap(wrapped: bytes, wrapping_key: bytes, aad: bytes) -> bytes:
    return AESGCM(wrapping_key).decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], aad)


def _new_practice_key_row(version: int) -> dict:
    key = AESGCM.generate_key(bit_length=KEY_BYTES * 8)
    wrapped = _wrap(key, _master_key(), _practice_key_aad(current_practice().id, version))
    return {"version": version, "wrapped_key": wrapped}


def _open_practice_key(row: PracticeKey) -> bytes:
    try:
        return _unwrap(row.wrapped_key, _master_key(), _practice_key_aad(current_practice().id, row.version))
    except InvalidTag:
        raise SealError(
            f"practice key version {row.version} does not open with this {MASTER_KEY_VARIABLE}"
        ) from None


def _current_practice_key() -> tuple[int, bytes]:
    """The version and key that wrap new data keys; the first version is made on first use.

    FOR SHARE holds off a rotation until this transaction ends, so that nothing is sealed under a
    version the rotation has already re-wrapped past.
    """
    # Read once per transaction (a batch seals many values): the share lock taken by the first read
    # holds until the transaction ends, so the version cannot change under it. The cache names the
    # transaction object itself, so a later transaction, or another practice's, never reuses it.
    transaction = db.session().get_transaction()
    cached = db.session.info.get("portico_current_key")
    if (
        cached is not None
        and transaction is not None
        and cached[0] is transaction
        and cached[1] == current_practice().id
    ):
        return cached[2], cached[3]
    current = (
        select(PracticeKey)
        .where(PracticeKey.retired_at.is_(None))
        .order_by(PracticeKey.version.desc())
        .limit(1)
        .with_for_update(read=True)
    )
    row = db.session.scalars(current).first()
    if row is None:
        db.session.execute(insert(PracticeKey).values(**_new_practice_key_row(1)).on_conflict_do_nothing())
        row = db.session.scalars(current).first()
    key = _open_practice_key(row)
    db.session.info["portico_current_key"] = (transaction, current_practice().id, row.version, key)
    return row.version, key


def _practice_key(version: int) -> bytes:
    row = db.session.get(PracticeKey, version)
    if row is None:
        raise SealError(f"practice key version {version} does not exist in this practice")
    # The session's identity map holds rows weakly: kept here, the row is read once per transaction
    # (it expires at commit and rollback like any row), not once per value opened (a page of messages).
    db.session.info.setdefault("portico_practice_key_rows", set()).add(row)
    return _open_practice_key(row)


# ---------------------------------------------------------------------------------------------
# Sealing
# ---------------------------------------------------------------------------------------------


def _place(table: str, row_id: int | str, column: str) -> bytes:
    return json.dumps([current_practice().id, table, str(row_id), column]).encode()


def _data_key_aad(place: bytes, version: int) -> bytes:
    return b"portico/data-key\x00" + place + b"\x00" + str(version).encode()


def _data_aad(place: bytes) -> bytes:
    return b"portico/data\x00" + place


@dataclass(frozen=True)
class _Blob:
    version: int
    wrapped_data_key: bytes
    sealed: bytes

    @classmethod
    def parse(cls, blob: bytes) -> _Blob:
        blob = bytes(blob)
        if len(blob) < _HEADER.size + _WRAPPED_DATA_KEY_BYTES + NONCE_BYTES + 16:
            raise SealError("not a sealed value")
        magic, version = _HEADER.unpack_from(blob)
        if magic != MAGIC:
            raise SealError("not a sealed value")
        start = _HEADER.size
        end = start + _WRAPPED_DATA_KEY_BYTES
        return cls(version, blob[start:end], blob[end:])

    def __bytes__(self) -> bytes:
        return _HEADER.pack(MAGIC, self.version) + self.wrapped_data_key + self.sealed


def seal(plaintext: bytes, *, table: str, row_id: int | str, column: str) -> bytes:
    """Encrypt `plaintext` for the bound practice, to be stored at table/row_id/column only."""
    place = _place(table, row_id, column)
    version, practice_key = _current_practice_key()
    data_key = AESGCM.generate_key(bit_length=KEY_BYTES * 8)
    nonce = os.urandom(NONCE_BYTES)
    sealed = nonce + AESGCM(data_key).encrypt(nonce, plaintext, _data_aad(place))
    return bytes(_Blob(version, _wrap(data_key, practice_key, _data_key_aad(place, version)), sealed))


def unseal(blob: bytes, *, table: str, row_id: int | str, column: str) -> bytes:
    """The plaintext of a blob `seal` made for this practice and exactly this table/row_id/column."""
    parsed = _Blob.parse(blob)
    place = _place(table, row_id, column)
    try:
        data_key = _unwrap(
            parsed.wrapped_data_key, _practice_key(parsed.version), _data_key_aad(place, parsed.version)
        )
        return AESGCM(data_key).decrypt(
            parsed.sealed[:NONCE_BYTES], parsed.sealed[NONCE_BYTES:], _data_aad(place)
        )
    except InvalidTag:
        raise SealError(
            f"this value was not sealed for {table}.{column} of row {row_id} in this practice"
        ) from None


def seal_text(plaintext: str, *, table: str, row_id: int | str, column: str) -> bytes:
    return seal(plaintext.encode(), table=table, row_id=row_id, column=column)


def unseal_text(blob: bytes, *, table: str, row_id: int | str, column: str) -> str:
    return unseal(blob, table=table, row_id=row_id, column=column).decode()


# ---------------------------------------------------------------------------------------------
# Rotation
# ---------------------------------------------------------------------------------------------

_sealed_columns: list[tuple[str, str, str]] = []
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")


def register_sealed_column(table: str, column: str, id_column: str = "id") -> None:
    """Declare that `table.column` holds blobs sealed with row_id = `id_column` (for rotation)."""
    for name in (table, column, id_column):
        if not _IDENTIFIER.match(name):  # interpolated into the rotation's SQL
            raise ValueError(f"not a plain column or table name: {name!r}")
    if (table, column, id_column) not in _sealed_columns:
        _sealed_columns.append((table, column, id_column))


def sealed_columns() -> list[tuple[str, str, str]]:
    return list(_sealed_columns)


def rotate_practice_key() -> tuple[int, int]:
    """Make a new key version for the bound practice and re-wrap every registered value's data key
    under it; older versions are retired. Runs in the caller's transaction.

    Returns (new version, number of values re-wrapped).
    """
    # Retiring first takes the row locks that sealers hold FOR SHARE: in-flight seals finish first.
    db.session.execute(
        update(PracticeKey).where(PracticeKey.retired_at.is_(None)).values(retired_at=func.now())
    )
    version = (db.session.scalar(select(func.max(PracticeKey.version))) or 0) + 1
    db.session.execute(insert(PracticeKey).values(**_new_practice_key_row(version)))
    new_key = _open_practice_key(db.session.get(PracticeKey, version))
    old_keys: dict[int, bytes] = {}
    rewrapped_count = 0
    for table, column, id_column in _sealed_columns:
        rows = db.session.execute(
            text(f"SELECT {id_column}, {column} FROM {table} WHERE {column} IS NOT NULL FOR UPDATE")
        ).all()
        for row_id, blob in rows:
            parsed = _Blob.parse(blob)
            if parsed.version not in old_keys:
                old_keys[parsed.version] = _practice_key(parsed.version)
            place = _place(table, row_id, column)
            try:
                data_key = _unwrap(
                    parsed.wrapped_data_key, old_keys[parsed.version], _data_key_aad(place, parsed.version)
                )
            except InvalidTag:
                raise SealError(f"{table}.{column} of row {row_id} does not open: rotation stopped") from None
            rewrapped = _Blob(version, _wrap(data_key, new_key, _data_key_aad(place, version)), parsed.sealed)
            db.session.execute(
                text(f"UPDATE {table} SET {column} = :blob WHERE {id_column} = :id"),
                {"blob": bytes(rewrapped), "id": row_id},
            )
            rewrapped_count += 1
    return version, rewrapped_count


# ---------------------------------------------------------------------------------------------
# Sealing what was kept in clear before
# ---------------------------------------------------------------------------------------------

_sealing_steps: dict[str, Callable[[], int]] = {}


def register_sealing_step(name: str, step: Callable[[], int]) -> None:
    """Declare `step()`: seals whatever the bound practice still keeps in clear of one kind (and
    empties the plain copy), in the caller's transaction; returns how many values it sealed. It must
    cost one query when there is nothing to seal, and may be run any number of times."""
    _sealing_steps[name] = step


def seal_plain_data() -> dict[str, int]:
    """Run every registered sealing step in the bound practice (in the caller's transaction): what
    each sealed, by name. The master key is needed only when a step finds something to seal."""
    return {name: step() for name, step in _sealing_steps.items()}


# ---------------------------------------------------------------------------------------------
# Destruction
# ---------------------------------------------------------------------------------------------


def destroy_practice_keys(practice_id: int) -> int:
    """Delete every key version of a practice (when the practice is deleted), as the owner role;
    returns how many were destroyed. Irreversible: what they wrapped is unreadable from then on."""
    with owner_engine().begin() as connection:
        # As the practice's own role, which owns its schema (the owner role has no rights inside).
        connection.exec_driver_sql(enter_practice_sql(f"tenant_{int(practice_id)}"))
        return connection.execute(text("DELETE FROM practice_keys")).rowcount
