"""Session rooms: the practice's video service (one row), each clinician's permanent room and each
client's own room. Room tokens and pasted links are sealed (`tenants.encryption`): the room name is
the only thing between a stranger and a session when the Jitsi server has no token authentication."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Integer, LargeBinary, String, func
from sqlalchemy.orm import Mapped, mapped_column

from tenants.database import TenantModel
from tenants.encryption import register_sealed_column

# The video services a practice may pick, as the settings page names them.
SERVICES = {
    "none": "None",
    "jitsi": "Self-hosted Jitsi Meet",
    "per_clinician": "A link per clinician (Zoom, Doxy.me, Google Meet…)",
}


class VideoSettings(TenantModel):
    __tablename__ = "video_settings"
    __table_args__ = (
        CheckConstraint("id = 1", name="single_row"),
        CheckConstraint("service IN ('none', 'jitsi', 'per_clinician')", name="service_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, default=1, autoincrement=False)
    service: Mapped[str] = mapped_column(String(20), default="none", server_default="none")
    jitsi_base_url: Mapped[str | None] = mapped_column(String(300))
    # Token authentication (Jitsi's JWT): the app id in clear, the secret sealed.
    jitsi_app_id: Mapped[str | None] = mapped_column(String(100))
    jitsi_secret_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    # What in-person invites carry as their location.
    practice_address: Mapped[str | None] = mapped_column(String(500))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class ClinicianRoom(TenantModel):
    """A clinician's permanent room: a random token (Jitsi) or the link they pasted (per clinician)."""

    __tablename__ = "clinician_rooms"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("tenant.users.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    token_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    own_link_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class ClientRoom(TenantModel):
    """A client's own Jitsi room; regenerating replaces the token (and counts a generation)."""

    __tablename__ = "client_rooms"

    client_id: Mapped[int] = mapped_column(
        ForeignKey("tenant.clients.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    token_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    generation: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


register_sealed_column(VideoSettings.__tablename__, "jitsi_secret_sealed")
register_sealed_column(ClinicianRoom.__tablename__, "token_sealed", "user_id")
register_sealed_column(ClinicianRoom.__tablename__, "own_link_sealed", "user_id")
register_sealed_column(ClientRoom.__tablename__, "token_sealed", "client_id")
