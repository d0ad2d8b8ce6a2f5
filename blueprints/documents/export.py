"""A practice's documents in its export: each file decrypted into the (encrypted) export archive.

The documents feature says which files a practice has by registering a source
(`register_export_source`): a function, run inside the practice's scope, that yields
`ExportedFile`s. Until one is registered, a `documents` table with `id` and `storage_key` columns
is read directly if the practice has one, so the export works whichever lands first.
"""

from __future__ import annotations

import io
import json
import tarfile
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass

from sqlalchemy import text

from blueprints.documents.names import BadName, safe_name, split_name
from blueprints.documents.storage import ObjectUnavailable, get_object
from tenants.database import db


@dataclass(frozen=True)
class ExportedFile:
    object_id: int  # the document id its blob was sealed for
    key: str  # the storage key
    name: str  # the name shown to people
    content_type: str = ""
    folder: str = ""  # e.g. "uploads" or "shared"


_sources: list[Callable[[], Iterable[ExportedFile]]] = []


def register_export_source(source: Callable[[], Iterable[ExportedFile]]) -> None:
    if source not in _sources:
        _sources.append(source)


def _files_from_the_documents_table() -> list[ExportedFile]:
    columns = set(
        db.session.scalars(
            text(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND table_name = 'documents'"
            )
        )
    )
    if not {"id", "storage_key"} <= columns:
        return []
    name = "name" if "name" in columns else "NULL"
    rows = db.session.execute(
        text(f"SELECT id, storage_key, {name} FROM documents WHERE storage_key IS NOT NULL ORDER BY id")
    )
    return [ExportedFile(row[0], row[1], row[2] or f"document-{row[0]}") for row in rows]


def practice_files() -> list[ExportedFile]:
    """The bound practice's stored files, from the registered sources (or the documents table)."""
    if not _sources:
        return _files_from_the_documents_table()
    return [found for source in _sources for found in source()]


def add_practice_files(archive: tarfile.TarFile) -> tuple[int, list[str]]:
    """Add every file of the bound practice, decrypted, under files/, and files/manifest.json.

    Returns (files added, problems): a file that cannot be read is listed, not fatal, so that
    one damaged blob does not stop the export of everything else.
    """
    manifest, problems = [], []
    now = time.time()
    for found in practice_files():
        try:
            data = get_object(found.object_id, found.key)
        except ObjectUnavailable:
            problems.append(f"document {found.object_id}: stored file missing or does not decrypt")
            continue
        try:
            stem, extension = split_name(found.name)
        except BadName:
            stem, extension = "document", ""
        folder = f"files/{found.folder.strip('/')}/" if found.folder else "files/"
        path = f"{folder}{found.object_id}-{safe_name(stem, extension)}"
        _add_bytes(archive, path, data, now)
        manifest.append({**asdict(found), "path": path, "size": len(data)})
    _add_bytes(archive, "files/manifest.json", json.dumps(manifest, indent=2).encode(), now)
    return len(manifest), problems


def _add_bytes(archive: tarfile.TarFile, path: str, data: bytes, mtime: float) -> None:
    info = tarfile.TarInfo(path)
    info.size, info.mtime, info.mode = len(data), int(mtime), 0o600
    archive.addfile(info, io.BytesIO(data))
