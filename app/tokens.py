"""Secret tokens in links (activation, reset, profile links, calendar feeds): made here, stored only
as a hash, compared only by hash."""

from __future__ import annotations

import hashlib
import secrets

TOKEN_BYTES = 32  # 256 bits


def new_token(nbytes: int = TOKEN_BYTES) -> str:
    return secrets.token_urlsafe(nbytes)


def token_hash(raw_token: str) -> str:
    """What the database keeps of a token: its SHA-256, hex."""
    return hashlib.sha256(raw_token.encode()).hexdigest()
