"""Services, availability, appointments, appointment requests and calendar feeds.

Double booking is impossible in the database: each booked appointment carries `block_key`, an
int8range of (clinician id * 10^11 + epoch seconds) over its time *including buffers*, kept by a
trigger, and an exclusion constraint refuses two active rows whose keys overlap (`ACTIVE`: booked,
or held for a waitlist offer while it waits for an answer, `operations.holds`). The key folds the
clinician into the range so the constraint needs only PostgreSQL's built-in range GiST support
(btree_gist is not shipped with the embedded server). A group appointment is one row per client
sharing a `group_id`; only the group's primary row holds the time.

The key can only tell clinicians apart while the seconds stay within 0..10^11: a block that starts
before 1970 or ends after 5138-11-16 09:46:40 UTC would run into a neighbouring clinician's range and
block them. A CHECK (`block_within_key_window`) refuses such a row whatever the application does; the
dates people may enter are far narrower (`app.dates`).
"""

from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import (
    DDL,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    Time,
    event,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import INT8RANGE, ExcludeConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from blueprints.auth.models import User
from blueprints.people.models import Client
from tenants.database import TenantModel

# The statuses that hold a clinician's time: the exclusion constraint and free slots count these.
ACTIVE = ("booked", "held")
ACTIVE_SQL = "status IN ('booked', 'held')"

# Clinician ids stay below this so the folded key cannot overflow a bigint.
MAX_CLINICIAN_ID = 92_000_000
# The seconds each clinician has in the key, and the instants they stand for: 0 is the epoch and
# 10^11 seconds after it is 5138-11-16 09:46:40 UTC. A block [start, end) folds into
# [id * 10^11 + floor(start), id * 10^11 + ceil(end)); it stays inside its clinician's own part of
# the key (and clear of id - 1 and id + 1) exactly when start >= the epoch and end <= epoch + 10^11
# (the range's upper bound is exclusive, so ending on the last second is still safe).
KEY_WINDOW = ("1970-01-01 00:00:00+00", "5138-11-16 09:46:40+00")
BLOCK_WITHIN_KEY_WINDOW = (
    f"block_starts_at >= '{KEY_WINDOW[0]}'::timestamptz AND block_ends_at <= '{KEY_WINDOW[1]}'::timestamptz"
)

BLOCK_KEY_FUNCTION = """
CREATE OR REPLACE FUNCTION appointments_block_key() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.group_id IS NOT NULL AND NOT NEW.is_group_primary THEN
    NEW.block_key := NULL;  -- a group holds its time once, on its primary row
  ELSE
    NEW.block_key := int8range(
      NEW.clinician_user_id * 100000000000 + floor(extract(epoch FROM NEW.block_starts_at))::bigint,
      NEW.clinician_user_id * 100000000000 + ceil(extract(epoch FROM NEW.block_ends_at))::bigint);
  END IF;
  RETURN NEW;
END $$"""
BLOCK_KEY_TRIGGER = (
    "CREATE TRIGGER appointments_block_key BEFORE INSERT OR UPDATE ON appointments "
    "FOR EACH ROW EXECUTE FUNCTION appointments_block_key()"
)


# Where a service takes place: its invites carry the practice's address, a room link, or both.
DELIVERIES = {"in_person": "In person", "online": "Online", "either": "In person or online"}


class Service(TenantModel):
    __tablename__ = "services"
    __table_args__ = (
        CheckConstraint("delivery IN ('in_person', 'online', 'either')", name="delivery_known"),
    )

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    duration_minutes: Mapped[int] = mapped_column(Integer)
    service_code: Mapped[str | None] = mapped_column(String(20))
    # The price in the practice's currency's smallest unit (app.money); None: no price.
    price_minor: Mapped[int | None] = mapped_column(Integer)
    # The previous release's column (0 meant no price), kept in step with price_minor until the
    # contract migration drops it: read price_minor, write both (catalog.set_price).
    price_cents: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    bookable_online: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    # Clients may book it as a recurring series (where the practice allows series at all).
    series_bookable: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    delivery: Mapped[str] = mapped_column(String(10), default="in_person", server_default="in_person")

    clinicians: Mapped[list[User]] = relationship(secondary="tenant.service_clinicians", order_by=User.name)


class ServiceClinician(TenantModel):
    __tablename__ = "service_clinicians"

    service_id: Mapped[int] = mapped_column(
        ForeignKey("tenant.services.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("tenant.users.id", ondelete="CASCADE"), primary_key=True)


class ClinicianSchedule(TenantModel):
    """A clinician's overrides of the practice's scheduling defaults (None = practice default)."""

    __tablename__ = "clinician_schedules"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("tenant.users.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    uses_own_hours: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    buffer_before_minutes: Mapped[int | None] = mapped_column(Integer)
    buffer_after_minutes: Mapped[int | None] = mapped_column(Integer)
    min_notice_hours: Mapped[int | None] = mapped_column(Integer)
    horizon_days: Mapped[int | None] = mapped_column(Integer)


class AvailabilityRule(TenantModel):
    """Weekly hours: the practice's (no clinician) or one clinician's own."""

    __tablename__ = "availability_rules"
    __table_args__ = (
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday"),
        CheckConstraint("end_time > start_time OR end_time = '00:00'", name="ordered"),
    )

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    clinician_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("tenant.users.id", ondelete="CASCADE"), index=True
    )
    weekday: Mapped[int] = mapped_column(SmallInteger)
    start_time: Mapped[time] = mapped_column(Time)
    end_time: Mapped[time] = mapped_column(Time)


class AvailabilityException(TenantModel):
    __tablename__ = "availability_exceptions"
    __table_args__ = (CheckConstraint("kind IN ('off', 'extra')", name="kind"),)

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    clinician_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("tenant.users.id", ondelete="CASCADE"), index=True
    )
    on_date: Mapped[date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(10))
    start_time: Mapped[time | None] = mapped_column(Time)
    end_time: Mapped[time | None] = mapped_column(Time)


class AppointmentSeries(TenantModel):
    """A recurring series: every `interval_weeks` weeks at `local_time` (the practice's zone), either
    `occurrence_count` times or until `until_date`. Each occurrence is an appointment of its own
    carrying the series' id; the series row only records how it was asked for."""

    __tablename__ = "appointment_series"
    __table_args__ = (
        CheckConstraint("interval_weeks BETWEEN 1 AND 4", name="interval"),
        CheckConstraint("(occurrence_count IS NULL) <> (until_date IS NULL)", name="count_or_until"),
    )

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("tenant.clients.id", ondelete="CASCADE"), index=True)
    clinician_user_id: Mapped[int] = mapped_column(ForeignKey("tenant.users.id"))
    service_id: Mapped[int] = mapped_column(ForeignKey("tenant.services.id"))
    interval_weeks: Mapped[int] = mapped_column(SmallInteger)
    occurrence_count: Mapped[int | None] = mapped_column(Integer)
    until_date: Mapped[date | None] = mapped_column(Date)
    local_time: Mapped[time] = mapped_column(Time)
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("tenant.users.id", ondelete="SET NULL"))
    created_by_client: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    client: Mapped[Client] = relationship()
    clinician: Mapped[User] = relationship(foreign_keys=[clinician_user_id])
    service: Mapped[Service] = relationship()


class Appointment(TenantModel):
    __tablename__ = "appointments"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="ordered"),
        CheckConstraint(f"clinician_user_id < {MAX_CLINICIAN_ID}", name="clinician_id_range"),
        CheckConstraint(BLOCK_WITHIN_KEY_WINDOW, name="block_within_key_window"),
        ExcludeConstraint(("block_key", "&&"), using="gist", where=ACTIVE_SQL, name="no_double_booking"),
    )

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("tenant.clients.id", ondelete="CASCADE"), index=True)
    clinician_user_id: Mapped[int] = mapped_column(ForeignKey("tenant.users.id"), index=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("tenant.services.id"))
    service_code: Mapped[str | None] = mapped_column(String(20))
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    block_starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    block_ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    block_key: Mapped[object | None] = mapped_column(INT8RANGE)
    status: Mapped[str] = mapped_column(String(20), default="booked", server_default="booked")
    # What staff marked afterwards (billing's rule): attended, no_show, late_cancelled; None: not marked.
    attendance: Mapped[str | None] = mapped_column(String(20))
    duration_overridden: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    group_id: Mapped[int | None] = mapped_column()
    is_group_primary: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    series_id: Mapped[int | None] = mapped_column(
        ForeignKey("tenant.appointment_series.id", ondelete="SET NULL"), index=True
    )
    alert: Mapped[str | None] = mapped_column(Text)
    ics_uid: Mapped[str] = mapped_column(String(100), unique=True)
    ics_sequence: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # When the current time was set (booked or last moved): reminders due before then are skipped.
    time_set_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __mapper_args__ = {"version_id_col": version}

    client: Mapped[Client] = relationship()
    clinician: Mapped[User] = relationship()
    service: Mapped[Service] = relationship()


class AppointmentRequest(TenantModel):
    __tablename__ = "appointment_requests"
    __table_args__ = (
        CheckConstraint("kind IN ('new', 'reschedule', 'cancellation')", name="kind"),
        CheckConstraint(
            "status IN ('pending', 'approved', 'declined', 'withdrawn', 'expired')", name="status"
        ),
        # At most one pending request per appointment, even when a client double-submits.
        Index(
            "uq_appointment_requests_pending",
            "appointment_id",
            unique=True,
            postgresql_where=text("status = 'pending'"),
        ),
    )

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default="pending", server_default="pending", index=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("tenant.clients.id", ondelete="CASCADE"), index=True)
    clinician_user_id: Mapped[int] = mapped_column(ForeignKey("tenant.users.id"), index=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("tenant.services.id"))
    requested_starts_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    requested_ends_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    appointment_id: Mapped[int | None] = mapped_column(ForeignKey("tenant.appointments.id"))
    new_client: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    requested_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("tenant.users.id", ondelete="SET NULL")
    )
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decided_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("tenant.users.id", ondelete="SET NULL"))
    decline_message: Mapped[str | None] = mapped_column(Text)

    client: Mapped[Client] = relationship()
    clinician: Mapped[User] = relationship(foreign_keys=[clinician_user_id])
    service: Mapped[Service] = relationship()
    appointment: Mapped[Appointment | None] = relationship()


class CalendarFeed(TenantModel):
    """A private, revocable iCalendar feed URL (token stored as SHA-256)."""

    __tablename__ = "calendar_feeds"

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("tenant.users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


event.listen(Appointment.__table__, "after_create", DDL(BLOCK_KEY_FUNCTION))
event.listen(Appointment.__table__, "after_create", DDL(BLOCK_KEY_TRIGGER))
