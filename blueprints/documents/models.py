"""Documents on a client's record, and the practice's library of documents to share.

A `Document` is either a client-side upload (by the client, a guardian) or a file the practice
shared with this record (a one-off file, or an item of the library). Its bytes live in the storage
interface (`documents.storage`) under a generated key, sealed per practice; a document shared from the
library has no bytes of its own and is read from its library item. Nothing is ever served until its
scan status has passed ("clean", or "not_scanned" when the installation has no scanner).

The client's note is health information: it is sealed (`note_sealed`, tenants/encryption).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    LargeBinary,
    String,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tenants.database import TenantModel
from tenants.encryption import register_sealed_column

UPLOAD, SHARED, SIGNED = "upload", "shared", "signed"
# SIGNED: the PDF of a form the client side signed (onboarding makes it; nobody uploads one).
KINDS = (UPLOAD, SHARED, SIGNED)
# Who put a document on the record: the client's own login (or a profile-link session), a guardian,
# or staff (files the practice shares).
RELATIONSHIPS = ("client", "guardian", "staff")
PENDING, CLEAN, INFECTED, NOT_SCANNED = "pending", "clean", "infected", "not_scanned"
SCAN_STATUSES = (PENDING, CLEAN, INFECTED, NOT_SCANNED)
# What may be served: a file that passed the scan, or one stored where no scanner is configured.
SERVABLE = (CLEAN, NOT_SCANNED)


def _one_of(column: str, values: tuple[str, ...], name: str) -> CheckConstraint:
    listed = ", ".join(f"'{value}'" for value in values)
    return CheckConstraint(f"{column} IN ({listed})", name=name)


class LibraryItem(TenantModel):
    """A document of the practice's library (a policy, a worksheet) that staff share with clients."""

    __tablename__ = "document_library"
    __table_args__ = (_one_of("scan_status", SCAN_STATUSES, "scan_status"),)

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str | None] = mapped_column(String(500))
    scan_status: Mapped[str] = mapped_column(String(20))
    uploaded_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("tenant.users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    archived_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Document(TenantModel):
    __tablename__ = "documents"
    __table_args__ = (
        _one_of("kind", KINDS, "kind"),
        _one_of("uploader_relationship", RELATIONSHIPS, "uploader_relationship"),
        _one_of("scan_status", SCAN_STATUSES, "scan_status"),
        # A library item is shared with a record once (sharing it again un-archives that share).
        UniqueConstraint("client_id", "library_item_id"),
    )

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("tenant.clients.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    uploader_user_id: Mapped[int | None] = mapped_column(ForeignKey("tenant.users.id", ondelete="SET NULL"))
    uploader_relationship: Mapped[str] = mapped_column(String(10))
    library_item_id: Mapped[int | None] = mapped_column(
        ForeignKey("tenant.document_library.id", ondelete="RESTRICT")
    )
    name: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str | None] = mapped_column(String(500))  # None: the library item's bytes
    scan_status: Mapped[str] = mapped_column(String(20))
    note_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    reviewed_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("tenant.users.id", ondelete="SET NULL")
    )
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # When the client side first downloaded a document the practice shared (the portal's to-do).
    opened_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    archived_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    library_item: Mapped[LibraryItem | None] = relationship()

    @property
    def servable(self) -> bool:
        return self.scan_status in SERVABLE

    @property
    def is_new(self) -> bool:
        """An upload staff have not reviewed yet."""
        return self.kind == UPLOAD and self.reviewed_at is None


register_sealed_column(Document.__tablename__, "note_sealed")
