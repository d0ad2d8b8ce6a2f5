"""Where document bytes live: one small interface over the data directory or S3-compatible storage,
every object encrypted for its practice before it leaves the process.

The practice always comes from the bound request, job or command context (`current_practice()`);
no caller passes a path or a practice. Keys are generated (`<practice id>/<random hex>`), never
made from a file name.

Encryption: each object gets a fresh 256-bit content key, sealed with the practice's envelope
helper (`tenants.encryption.seal`: its own data key, wrapped by the practice key; associated data
binding it to the practice, table "documents", the document's id and column "blob"). A blob
copied under another practice's prefix, or given to another document id, does not open: it reads
as missing (`ObjectUnavailable`, a 404). The content is AES-256-GCM in 1 MiB segments, each nonce
its segment number plus a last-segment flag (the STREAM construction), so a download is decrypted
and sent a segment at a time, every segment authenticated before it is released, and a
truncated, reordered or spliced object fails instead of being served short:

    b"PDOC1" | length of the sealed key (4 bytes) | sealed key | segment | segment | … (last flagged)

Backends, chosen by `STORAGE_URL`:
- unset: files under `PORTICO_DATA_DIR/files/<practice id>/…`, written atomically and fsynced;
- `s3://bucket/prefix?endpoint=https://host:port&region=…`: boto3 with path-style addressing
  (MinIO, Ceph, Garage, AWS); credentials from the usual AWS variables or instance roles.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import struct
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO
from urllib.parse import parse_qs, urlsplit

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import current_app

from app.refusals import NotFound, Refusal
from tenants.context import current_practice
from tenants.encryption import SealError, seal, unseal

log = logging.getLogger(__name__)

TABLE = "documents"
COLUMN = "blob"
SEGMENT = 1024 * 1024
_TAG = 16
_FORMAT = b"PDOC1"
_HEADER = struct.Struct(">5sI")
_MAX_SEALED_KEY = 1024
_KEY = re.compile(r"^([0-9]+)/([0-9a-f]{32})$")


class ObjectUnavailable(NotFound):
    """No object of this practice and document id is stored under that key (or it does not open here)."""


class StorageUnavailable(Refusal):
    """The storage backend did not answer: nothing was stored (503, try again later)."""

    status = 503

    def __init__(self, message: str = "File storage is unavailable just now; please try again shortly."):
        super().__init__(message)


# ---------------------------------------------------------------------------------------------
# The interface the rest of Portico uses
# ---------------------------------------------------------------------------------------------


def put_object(object_id: int, data: bytes) -> str:
    """Encrypt `data` for document `object_id` of the bound practice, store it, return its key."""
    practice_id = current_practice().id
    key = f"{practice_id}/{secrets.token_hex(16)}"
    content_key = AESGCM.generate_key(bit_length=256)
    sealed_key = seal(content_key, table=TABLE, row_id=object_id, column=COLUMN)
    header = _HEADER.pack(_FORMAT, len(sealed_key)) + sealed_key
    backend().write(key, [header, *_encrypted_segments(AESGCM(content_key), memoryview(data))])
    return key


def iter_object(object_id: int, key: str, chunk: int | None = None) -> Iterator[bytes]:
    """The plaintext of document `object_id` under `key` in the bound practice, a segment (1 MiB)
    at a time, for a streamed download. `chunk` is accepted for callers that pass one; segments
    are fixed when the object is written.

    The object is opened and its key unsealed here, before anything is returned, so a missing or
    foreign object raises ObjectUnavailable while a view can still answer 404. A segment that
    fails later (the stored bytes were altered) raises ObjectUnavailable mid-stream: the download
    breaks off rather than deliver forged bytes.
    """
    _check_key(key)
    try:
        stream = backend().open(key)
    except FileNotFoundError:
        raise ObjectUnavailable() from None
    try:
        aead = AESGCM(_content_key(object_id, key, stream))
    except BaseException:
        stream.close()
        raise
    return _decrypted_segments(aead, stream, object_id, key)


def get_object(object_id: int, key: str) -> bytes:
    """The whole plaintext of document `object_id` stored under `key` in the bound practice."""
    return b"".join(iter_object(object_id, key))


def delete_object(key: str) -> None:
    """Remove the object under `key` of the bound practice (no error when it is already gone)."""
    _check_key(key)
    backend().delete(key)


def delete_practice_objects(practice_id: int) -> int:
    """Remove every object stored for a practice (when the practice is deleted); returns how many."""
    return backend().delete_prefix(f"{int(practice_id)}/")


def _check_key(key: str) -> None:
    """Only keys this module made, of the bound practice: no path, no other practice's prefix."""
    match = _KEY.match(key or "")
    if match is None or int(match.group(1)) != current_practice().id:
        raise ObjectUnavailable()


def _nonce(number: int, last: bool) -> bytes:
    return number.to_bytes(11, "big") + (b"\x01" if last else b"\x00")


def _encrypted_segments(aead: AESGCM, data: memoryview) -> Iterator[bytes]:
    # An empty file is one empty last segment; a multiple of SEGMENT ends on a full last segment.
    count = max(1, -(-len(data) // SEGMENT))
    for number in range(count):
        piece = data[number * SEGMENT : (number + 1) * SEGMENT]
        yield aead.encrypt(_nonce(number, number == count - 1), piece, None)


def _read_exactly(stream: BinaryIO, size: int) -> bytes:
    """`size` bytes, or fewer only at the end of the stream (a network stream may return less)."""
    data = stream.read(size)
    while data and len(data) < size and (more := stream.read(size - len(data))):
        data += more
    return data


def _unavailable(object_id: int, key: str, why: str) -> ObjectUnavailable:
    # Moved, altered or another practice's blob: never served, and worth an operator's look.
    log.warning("stored object %s of document %s does not open: %s", key, object_id, why)
    return ObjectUnavailable()


def _content_key(object_id: int, key: str, stream: BinaryIO) -> bytes:
    header = _read_exactly(stream, _HEADER.size)
    if len(header) != _HEADER.size:
        raise _unavailable(object_id, key, "too short")
    form, sealed_length = _HEADER.unpack(header)
    if form != _FORMAT or sealed_length > _MAX_SEALED_KEY:
        raise _unavailable(object_id, key, "not a stored document")
    try:
        return unseal(_read_exactly(stream, sealed_length), table=TABLE, row_id=object_id, column=COLUMN)
    except SealError as error:
        raise _unavailable(object_id, key, str(error)) from None


def _decrypted_segments(aead: AESGCM, stream: BinaryIO, object_id: int, key: str) -> Iterator[bytes]:
    try:
        number = 0
        current = _read_exactly(stream, SEGMENT + _TAG)
        while True:
            following = _read_exactly(stream, SEGMENT + _TAG)  # none: `current` must be the last
            try:
                yield aead.decrypt(_nonce(number, not following), current, None)
            except InvalidTag:
                raise _unavailable(object_id, key, f"segment {number} does not authenticate") from None
            if not following:
                return
            current, number = following, number + 1
    finally:
        stream.close()


def backend():
    """The storage backend of this application (made once from its settings)."""
    stored = current_app.extensions.get("portico_storage")
    if stored is None:
        settings = current_app.config["PORTICO"]
        if settings.storage_url:
            stored = S3Storage.from_url(settings.storage_url)
        else:
            stored = LocalStorage(Path(settings.data_dir) / "files")
        current_app.extensions["portico_storage"] = stored
    return stored


# ---------------------------------------------------------------------------------------------
# Backends: bytes in, bytes out, keys already checked
# ---------------------------------------------------------------------------------------------


class LocalStorage:
    def __init__(self, root: Path):
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        return self.root / key

    def write(self, key: str, chunks: Iterable[bytes]) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            with open(temporary, "xb") as handle:
                os.fchmod(handle.fileno(), 0o600)
                handle.writelines(chunks)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, path)
        except OSError as error:
            temporary.unlink(missing_ok=True)
            log.error("could not store %s: %s", key, error)
            raise StorageUnavailable() from None

    def open(self, key: str) -> BinaryIO:
        return open(self._path(key), "rb")  # closed by the segment reader

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def delete_prefix(self, prefix: str) -> int:
        folder = self.root / prefix.rstrip("/")
        if not folder.is_dir():
            return 0
        count = 0
        for path in folder.iterdir():
            path.unlink(missing_ok=True)
            count += 1
        folder.rmdir()
        return count


class S3Storage:
    def __init__(self, bucket: str, prefix: str, endpoint: str | None, region: str | None):
        import boto3  # only installations that use S3 pay for importing it
        from botocore.config import Config

        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name=region or "us-east-1",
            config=Config(
                s3={"addressing_style": "path"},
                retries={"max_attempts": 3, "mode": "standard"},
                connect_timeout=5,
                read_timeout=60,
            ),
        )

    @classmethod
    def from_url(cls, url: str) -> S3Storage:
        parts = urlsplit(url)
        query = parse_qs(parts.query)
        return cls(
            bucket=parts.hostname,
            prefix=parts.path,
            endpoint=query.get("endpoint", [None])[0],
            region=query.get("region", [None])[0],
        )

    def _name(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def write(self, key: str, chunks: Iterable[bytes]) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.put_object(Bucket=self.bucket, Key=self._name(key), Body=b"".join(chunks))
        except (BotoCoreError, ClientError) as error:
            log.error("could not store %s in S3: %s", key, error)
            raise StorageUnavailable() from None

    def open(self, key: str) -> BinaryIO:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._name(key))["Body"]
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
                raise FileNotFoundError(key) from None
            log.error("could not read %s from S3: %s", key, error)
            raise StorageUnavailable() from None
        except BotoCoreError as error:
            log.error("could not read %s from S3: %s", key, error)
            raise StorageUnavailable() from None

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._name(key))

    def delete_prefix(self, prefix: str) -> int:
        count = 0
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self._name(prefix)
        )
        for page in pages:
            keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if keys:
                self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": keys, "Quiet": True})
                count += len(keys)
        return count
