"""Staff views of recurring series: booking one from the staff appointment form (check every date,
show the conflicts date by date, book the free ones or give the others another time), a series'
page listing its occurrences, and cancelling one occurrence or it and all following."""

from __future__ import annotations

from datetime import date, time

from flask import abort, redirect, render_template, request, url_for
from flask_login import current_user

from app.web import carry_out, staff_required
from blueprints.scheduling import bp
from blueprints.scheduling.forms import ActionForm
from blueprints.scheduling.operations import series as series_ops
from blueprints.scheduling.operations.series import INTERVALS, Pattern
from blueprints.scheduling.operations.visibility import appointment_for_staff
from blueprints.scheduling.portal_forms import SeriesForm
from tenants.features import practice_zone

MAX_INDEX = 99


def _indexes(raw: str | None) -> set[int]:
    """The occurrence indexes of a hidden field ("3,7"); anything else is 400."""
    found = set()
    for part in (raw or "").split(","):
        part = part.strip()
        if not part:
            continue
        if not part.isdigit() or int(part) > MAX_INDEX:
            abort(400)
        found.add(int(part))
    return found


def _moves(conflicts: set[int]) -> tuple[dict[int, tuple[date, time]], dict[str, str]]:
    """Another date and time given for some of the conflicting occurrences (`move-<n>-date` and
    `move-<n>-time`, both or neither); returns the moves and the problems of half-filled pairs."""
    moves, problems = {}, {}
    for index in sorted(conflicts):
        raw_date = request.form.get(f"move-{index}-date", "").strip()
        raw_time = request.form.get(f"move-{index}-time", "").strip()
        if not raw_date and not raw_time:
            continue
        try:
            moves[index] = (date.fromisoformat(raw_date), time.fromisoformat(raw_time[:5]))
        except ValueError:
            problems[f"move-{index}"] = f"Date {index}: enter both another date and another time, or neither."
    return moves, problems


def pattern_of(form) -> Pattern:
    return Pattern(
        first_date=form.on_date.data,
        at_time=form.at_time.data,
        interval_weeks=form.repeat.data,
        count=form.repeat_count.data,
        until=form.repeat_until.data,
    )


def book_from_form(form, client, clinician, chosen, page):
    """The series half of "New appointment": check every date; when some conflict and the person has
    not chosen what to do with each, the form again with the dates (409); else book them all."""
    if form.repeat.data not in INTERVALS:
        form.repeat.errors = ["Choose how often it repeats."]
        return page(form)
    seen = _indexes(form.skip.data)  # the conflicts shown last time
    moves, move_problems = _moves(seen)
    if move_problems:
        form.form_errors.extend(move_problems.values())
        return page(form)
    pattern = pattern_of(form)
    checked = carry_out(
        lambda: series_ops.check_series(
            client, clinician, chosen, pattern, duration_minutes=form.duration_minutes.data, moves=moves
        ),
        form=form,
        invalid=lambda: page(form),
    )
    if not isinstance(checked, list):
        return checked  # the form with the problems of its values
    conflicts = {o.index for o in checked if o.problem}
    wants_booking = request.form.get("action") == "book"
    unresolved = conflicts - (seen - set(moves))
    if unresolved or (conflicts and not wants_booking):
        form.skip.data = ",".join(str(index) for index in sorted(conflicts))
        return page(form, occurrences=checked, status=409)
    free = sum(1 for o in checked if not o.problem)
    return carry_out(
        lambda: series_ops.book_series(
            current_user,
            client,
            clinician,
            chosen,
            pattern,
            duration_minutes=form.duration_minutes.data,
            alert=form.alert.data,
            skip=conflicts,
            moves=moves,
        ),
        success=f"Booked {free} appointments: {client.display_name} with {clinician.name}. "
        "Invites were sent.",
        then=lambda booked: redirect(url_for("scheduling.series", series_id=booked.id)),
        form=form,
        invalid=lambda: page(form, occurrences=checked),
        back=url_for("scheduling.new_appointment"),
    )


def portal_book(viewer, clinician, chosen, starts_at, slot_form):
    """The series half of the portal's booking: the picked time repeated (in the practice's zone),
    every date checked as a single booking would be; conflicts shown (409) until the client books
    the free ones (or gives some another free time)."""
    form = SeriesForm()
    if not series_ops.client_series_allowed(chosen):
        abort(404)
    if not form.validate() or form.repeat.data not in INTERVALS:
        abort(400)
    local = starts_at.astimezone(practice_zone())
    pattern = Pattern(
        local.date(), local.time(), form.repeat.data, form.repeat_count.data, form.repeat_until.data
    )
    seen = _indexes(form.skip.data)
    moves, move_problems = _moves(seen)

    def page(occurrences=None, status=400):
        return render_template(
            "scheduling/portal_series.html",
            viewer=viewer,
            form=form,
            slot=slot_form,
            chosen=chosen,
            clinician=clinician,
            starts_at=starts_at,
            interval=INTERVALS[form.repeat.data],
            occurrences=occurrences,
            zone=practice_zone().key,
        ), status

    if move_problems:
        form.form_errors.extend(move_problems.values())
        return page()
    checked = carry_out(
        lambda: series_ops.check_series(viewer.client, clinician, chosen, pattern, moves=moves, by="client"),
        form=form,
        invalid=page,
    )
    if not isinstance(checked, list):
        return checked
    conflicts = {o.index for o in checked if o.problem}
    if conflicts - (seen - set(moves)) or (conflicts and request.form.get("action") != "book"):
        form.skip.data = ",".join(str(index) for index in sorted(conflicts))
        return page(checked, 409)
    free = sum(1 for o in checked if not o.problem)
    return carry_out(
        lambda: series_ops.client_book_series(
            viewer.audit_actor, viewer.client, clinician, chosen, pattern, skip=conflicts, moves=moves
        ),
        success=f"Your {free} appointments are booked. Calendar invites are on their way.",
        then=lambda _: redirect(url_for("scheduling.portal_appointments")),
        form=form,
        invalid=lambda: page(checked),
        back=url_for("scheduling.book_start", service=chosen.id, clinician=clinician.id),
    )


def _series_or_404(series_id: int):
    found = series_ops.series_for_staff(current_user, series_id)
    if found is None:
        abort(404)  # another practice's, or a client this person may not see
    return found


def _series_page(found, status: int = 200):
    zone = practice_zone()
    rows = series_ops.occurrences_of(found)
    return (
        render_template(
            "scheduling/staff_series.html",
            series=found,
            rows=[(row, row.starts_at.astimezone(zone)) for row in rows],
            visible={row.id for row in rows if appointment_for_staff(current_user, row.id) is not None},
            interval=INTERVALS[found.interval_weeks],
            zone=zone.key,
            form=ActionForm(),
        ),
        status,
    )


@bp.get("/calendar/series/<int:series_id>")
@staff_required()
def series(series_id: int):
    return _series_page(_series_or_404(series_id))


@bp.post("/calendar/series/<int:series_id>/cancel")
@staff_required()
def cancel_series_occurrences(series_id: int):
    """Cancel one occurrence (`scope=one`) or it and all following (`scope=following`)."""
    found = _series_or_404(series_id)
    form = ActionForm()
    raw = request.form.get("appointment_id", "")
    scope = request.form.get("scope")
    if (
        not form.validate_on_submit()
        or not raw.isdigit()
        or len(raw) > 18
        or scope not in ("one", "following")
    ):
        abort(400)
    back = url_for("scheduling.series", series_id=series_id)
    return carry_out(
        lambda: series_ops.cancel_occurrences(current_user, found, int(raw), following=scope == "following"),
        success="Cancelled. Cancellations were sent to the client and the clinician.",
        then=back,
        back=back,
    )
