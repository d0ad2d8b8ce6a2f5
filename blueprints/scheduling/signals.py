"""What scheduling announces to the features above it (which subscribe; scheduling imports none).

`time_freed` ("a time freed"): a clinician's time may have become free — an appointment was
cancelled or moved away from it, or availability was added. Sent inside the transaction of the
change, with `clinician_id` (None: any clinician, the practice's own hours changed) and the window
`starts_at`..`ends_at` (None for both: anywhere in the booking horizon). A receiver works in that same
transaction, so what it does commits or rolls back with the change; it must not refuse the change.
"""

from __future__ import annotations

from datetime import datetime

from blinker import Namespace

_signals = Namespace()
time_freed = _signals.signal("a time freed")


def announce_time_freed(
    clinician_id: int | None, starts_at: datetime | None = None, ends_at: datetime | None = None
) -> None:
    time_freed.send("scheduling", clinician_id=clinician_id, starts_at=starts_at, ends_at=ends_at)
