"""A client's assessment scores over time, laid out for a server-rendered SVG chart (one per
instrument): no script, readable without colour (each point is labelled), printable."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from blueprints.onboarding.models import Form, FormResponse
from blueprints.onboarding.operations.instruments import INSTRUMENTS, Instrument
from tenants.database import db

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 40, 16, 12, 36


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    score: int
    band: str
    label: str  # the date, in the practice's zone


@dataclass(frozen=True)
class Chart:
    instrument: Instrument
    points: list[Point]
    gridlines: list[tuple[float, int]]  # (y, score) at each band's lower bound
    width: int = WIDTH
    height: int = HEIGHT

    @property
    def polyline(self) -> str:
        return " ".join(f"{p.x:.1f},{p.y:.1f}" for p in self.points)

    @property
    def summary(self) -> str:
        scores = ", ".join(f"{p.label}: {p.score} ({p.band})" for p in self.points)
        return f"{self.instrument.title} scores over time: {scores}"


def _y(score: int, maximum: int) -> float:
    return TOP + (HEIGHT - TOP - BOTTOM) * (1 - score / maximum)


def charts_for(client_id: int, zone) -> list[Chart]:
    charts = []
    for key, instrument in INSTRUMENTS.items():
        rows = db.session.scalars(
            select(FormResponse)
            .join(Form, Form.id == FormResponse.form_id)
            .where(
                FormResponse.client_id == client_id,
                FormResponse.status == "completed",
                FormResponse.score.is_not(None),
                Form.instrument == key,
            )
            .order_by(FormResponse.completed_at)
        ).all()
        if not rows:
            continue
        span = WIDTH - LEFT - RIGHT
        step = span / (len(rows) - 1) if len(rows) > 1 else 0
        points = [
            Point(
                x=LEFT + (step * index if len(rows) > 1 else span / 2),
                y=_y(row.score, instrument.maximum),
                score=row.score,
                band=row.severity or "",
                label=row.completed_at.astimezone(zone).strftime("%Y-%m-%d"),
            )
            for index, row in enumerate(rows)
        ]
        gridlines = [(_y(low, instrument.maximum), low) for low, _ in instrument.bands]
        gridlines.append((_y(instrument.maximum, instrument.maximum), instrument.maximum))
        charts.append(Chart(instrument, points, gridlines))
    return charts
