"""What the portal home shows, from the features that know it.

The portal sits below scheduling and messaging, so it never imports them: each registers a section
(`register_home_section`) that the home asks for the open record (full, with its actions) and for
each other record this login may open (a one-line summary on that record's card). Features that
give a client something to do (forms to complete, documents to read) register a to-do source.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from blueprints.people.models import Client
from blueprints.portal.service import Permissions
from blueprints.portal.viewer import Viewer

# build(viewer, client, permissions, current) -> the section's template context, or None to hide it.
# `current` is True for the record the viewer has open, False for another record's card.
SectionBuilder = Callable[[Viewer, Client, Permissions, bool], dict | None]


@dataclass(frozen=True)
class HomeSection:
    name: str
    template: str  # shown for the open record, with the builder's context as `section`
    build: SectionBuilder
    summary_template: str | None = None  # shown on another record's card, if given
    order: int = 50


@dataclass(frozen=True)
class Todo:
    """Something the viewer should do: a label, where to do it, and optionally when by."""

    label: str
    url: str
    detail: str | None = None


_sections: list[HomeSection] = []
_todo_sources: list[Callable[[Viewer], list[Todo]]] = []


def register_home_section(
    name: str,
    template: str,
    build: SectionBuilder,
    summary_template: str | None = None,
    order: int = 50,
) -> None:
    if not any(section.name == name for section in _sections):
        _sections.append(HomeSection(name, template, build, summary_template, order))


def register_todo_source(source: Callable[[Viewer], list[Todo]]) -> None:
    """`source(viewer)` lists what the viewer has to do on the open record (empty: nothing)."""
    if source not in _todo_sources:
        _todo_sources.append(source)


def _ordered() -> list[HomeSection]:
    return sorted(_sections, key=lambda section: (section.order, section.name))


def open_record_sections(viewer: Viewer) -> list[tuple[HomeSection, dict]]:
    """The sections shown for the open record, each with its context."""
    shown = []
    for section in _ordered():
        context = section.build(viewer, viewer.client, viewer.permissions, True)
        if context is not None:
            shown.append((section, context))
    return shown


def record_summaries(
    viewer: Viewer, client: Client, permissions: Permissions
) -> list[tuple[HomeSection, dict]]:
    """The summaries shown on the card of another record the viewer may open."""
    shown = []
    for section in _ordered():
        if section.summary_template is None:
            continue
        context = section.build(viewer, client, permissions, False)
        if context is not None:
            shown.append((section, context))
    return shown


def todos(viewer: Viewer) -> list[Todo]:
    return [todo for source in _todo_sources for todo in source(viewer)]
