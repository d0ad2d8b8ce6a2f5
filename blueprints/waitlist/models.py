"""The waitlist's tables: who waits for which times (`waitlist_entries`), and the offers of a freed
time (`waitlist_offers`), each with a link whose token is stored only as its SHA-256.

An offered time is held as an appointment row with status 'held' (`scheduling.operations.holds`),
which the no-double-booking constraint covers. The offer keeps its own copy of the time and the
clinician, so it still says what it was for after its hold lapsed (the held row is deleted then).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Integer,
    SmallInteger,
    String,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from blueprints.auth.models import User
from blueprints.people.models import Client
from blueprints.scheduling.models import Appointment, Service
from tenants.database import TenantModel

ENTRY_STATUSES = ("waiting", "booked", "left")
OFFER_STATUSES = ("open", "accepted", "declined", "taken", "lapsed")
# Parts of the day, as bits of `WaitlistEntry.parts`, with the local hours each covers.
PARTS = {"morning": (1, 0, 12), "afternoon": (2, 12, 17), "evening": (4, 17, 24)}
ALL_DAYS = 0b1111111  # bit d: weekday d suits (0 = Monday)


class WaitlistEntry(TenantModel):
    __tablename__ = "waitlist_entries"
    __table_args__ = (
        CheckConstraint("status IN ('waiting', 'booked', 'left')", name="status"),
        CheckConstraint("weekdays BETWEEN 1 AND 127", name="weekdays"),
        CheckConstraint("parts BETWEEN 1 AND 7", name="parts"),
        CheckConstraint("until_date >= from_date", name="dates"),
    )

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("tenant.clients.id", ondelete="CASCADE"), index=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("tenant.services.id", ondelete="CASCADE"))
    # None: any clinician the client may book with who offers the service.
    clinician_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("tenant.users.id", ondelete="CASCADE"), index=True
    )
    weekdays: Mapped[int] = mapped_column(SmallInteger)
    parts: Mapped[int] = mapped_column(SmallInteger)
    from_date: Mapped[date] = mapped_column(Date)
    until_date: Mapped[date] = mapped_column(Date)
    # "Move my existing appointment earlier": this appointment is cancelled when an offer is taken.
    move_appointment_id: Mapped[int | None] = mapped_column(
        ForeignKey("tenant.appointments.id", ondelete="SET NULL")
    )
    # Staff-chosen order (lower first); None: first come, first served, after those with one.
    priority: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(10), default="waiting", server_default="waiting")
    added_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("tenant.users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    booked_appointment_id: Mapped[int | None] = mapped_column(
        ForeignKey("tenant.appointments.id", ondelete="SET NULL")
    )

    client: Mapped[Client] = relationship()
    service: Mapped[Service] = relationship()
    clinician: Mapped[User | None] = relationship(foreign_keys=[clinician_user_id])
    move_appointment: Mapped[Appointment | None] = relationship(foreign_keys=[move_appointment_id])


class WaitlistOffer(TenantModel):
    __tablename__ = "waitlist_offers"
    __table_args__ = (
        CheckConstraint("status IN ('open', 'accepted', 'declined', 'taken', 'lapsed')", name="status"),
    )

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    entry_id: Mapped[int] = mapped_column(
        ForeignKey("tenant.waitlist_entries.id", ondelete="CASCADE"), index=True
    )
    # The held row while the hold lasts (deleted when it lapses, booked when taken).
    appointment_id: Mapped[int | None] = mapped_column(
        ForeignKey("tenant.appointments.id", ondelete="SET NULL"), index=True
    )
    clinician_user_id: Mapped[int] = mapped_column(ForeignKey("tenant.users.id", ondelete="CASCADE"))
    service_id: Mapped[int] = mapped_column(ForeignKey("tenant.services.id", ondelete="CASCADE"))
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    status: Mapped[str] = mapped_column(String(10), default="open", server_default="open")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    entry: Mapped[WaitlistEntry] = relationship()
    clinician: Mapped[User] = relationship()
    service: Mapped[Service] = relationship()
