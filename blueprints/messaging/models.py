"""Secure messages between a practice and a client's record.

Each client record has two threads: "client" (the client's own conversation; for a minor, their
private one) and "guardian" (guardians writing on the minor's behalf).

A message's text is sealed at rest (`tenants.encryption`, messages.body_sealed, bound to the
message's row); the plain column `body` is left empty. Rows from before t0013 keep their text in
`body` until `seal_plain_bodies` (run by `portico db upgrade`) seals it. Read the text as
`message.body`, which opens whichever holds it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Identity, LargeBinary, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from tenants.database import TenantModel
from tenants.encryption import register_sealed_column, seal_text, unseal_text

THREADS = ("client", "guardian")
SEALED_BODY = {"table": "messages", "column": "body_sealed"}


class Message(TenantModel):
    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("tenant.clients.id", ondelete="CASCADE"), index=True)
    thread: Mapped[str] = mapped_column(String(20), default="client", server_default="client")
    author_kind: Mapped[str] = mapped_column(String(20))  # staff, client, guardian
    author_user_id: Mapped[int | None] = mapped_column(ForeignKey("tenant.users.id", ondelete="SET NULL"))
    author_name: Mapped[str] = mapped_column(String(200))
    # The text in clear: only rows from before t0013 (until sealed) have it; sealed rows keep "".
    plain_body: Mapped[str] = mapped_column("body", Text, default="")
    body_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    @property
    def body(self) -> str:
        """The message's text (opened with the bound practice's key; once per loaded row)."""
        if self.body_sealed is None:
            return self.plain_body
        opened = self.__dict__.get("_opened_body")
        if opened is None or opened[0] is not self.body_sealed:
            opened = (self.body_sealed, unseal_text(self.body_sealed, row_id=self.id, **SEALED_BODY))
            self.__dict__["_opened_body"] = opened
        return opened[1]

    def seal_body(self, text: str) -> None:
        """Keep `text` sealed and the plain column empty (the row must have its id: flush first)."""
        self.body_sealed = seal_text(text, row_id=self.id, **SEALED_BODY)
        self.plain_body = ""


register_sealed_column(Message.__tablename__, "body_sealed")


class MessageRead(TenantModel):
    """How far a login has read a client record's messages: the newest message id it has seen
    (the portal home counts the practice's messages after it as unread)."""

    __tablename__ = "message_reads"

    user_id: Mapped[int] = mapped_column(ForeignKey("tenant.users.id", ondelete="CASCADE"), primary_key=True)
    client_id: Mapped[int] = mapped_column(
        ForeignKey("tenant.clients.id", ondelete="CASCADE"), primary_key=True
    )
    last_read_message_id: Mapped[int] = mapped_column(default=0, server_default="0")
    read_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
