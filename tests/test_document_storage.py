"""Document storage: encrypted per practice, on disk or in S3, the practice taken from the context.

Proves: what is on disk and in the bucket holds no plaintext of an upload; a blob copied under
another practice's prefix (or given to another document id) does not decrypt and reads as missing;
keys are generated and prefixed by the practice id; a key outside the bound practice is refused.
"""

from __future__ import annotations

import os
import shutil

import pytest

from blueprints.documents import storage
from blueprints.documents.storage import ObjectUnavailable, delete_object, get_object, iter_object, put_object
from tenants.database import db

SECRET = b"Session notes: the client's private words " + os.urandom(16).hex().encode()


def _upload(in_practice, practice, object_id: int, data: bytes = SECRET) -> str:
    with in_practice(practice):
        key = put_object(object_id, data)
        db.session.commit()  # the practice key is made on first use
    return key


def test_local_files_hold_no_plaintext_and_read_back(use_local_storage, make_practice, in_practice):
    practice = make_practice()
    key = _upload(in_practice, practice, 7)
    assert key.startswith(f"{practice.id}/") and "notes" not in key
    stored = use_local_storage / key
    assert stored.is_file() and stored.parent == use_local_storage / str(practice.id)
    assert oct(stored.stat().st_mode & 0o777) == "0o600"
    raw = stored.read_bytes()
    assert SECRET not in raw and b"Session notes" not in raw and len(raw) > len(SECRET)
    with in_practice(practice):
        assert get_object(7, key) == SECRET
        assert b"".join(iter_object(7, key, chunk=10)) == SECRET
        with pytest.raises(ObjectUnavailable):
            get_object(8, key)  # the same blob for another document id
        delete_object(key)
        assert not stored.exists()
        with pytest.raises(ObjectUnavailable):
            get_object(7, key)


def test_a_blob_copied_under_another_practice_does_not_decrypt(use_local_storage, make_practice, in_practice):
    mine, theirs = make_practice(), make_practice()
    key = _upload(in_practice, theirs, 5)
    _upload(in_practice, mine, 1, b"make my key")  # so that mine has a practice key of its own
    # Someone with access to the disk copies their blob into my prefix, same document id.
    copied_key = f"{mine.id}/{key.split('/')[1]}"
    (use_local_storage / str(mine.id)).mkdir(exist_ok=True)
    shutil.copy(use_local_storage / key, use_local_storage / copied_key)
    with in_practice(mine):
        with pytest.raises(ObjectUnavailable):
            get_object(5, copied_key)
        # And their key itself is not even looked up from my practice: wrong prefix.
        with pytest.raises(ObjectUnavailable):
            get_object(5, key)
        for bad in ("../etc/passwd", f"{mine.id}/../{theirs.id}/x", f"{mine.id}/x.pdf", ""):
            with pytest.raises(ObjectUnavailable):
                get_object(5, bad)


def test_s3_objects_hold_no_plaintext_and_are_isolated(use_s3, make_practice, in_practice):
    client, prefix = use_s3
    mine, theirs = make_practice(), make_practice()
    key = _upload(in_practice, theirs, 3)
    _upload(in_practice, mine, 1, b"make my key")
    name = f"{prefix}/{key}"
    raw = client.get_object(Bucket="portico-test", Key=name)["Body"].read()
    assert SECRET not in raw and b"Session notes" not in raw
    with in_practice(theirs):
        assert get_object(3, key) == SECRET
    copied = f"{mine.id}/{key.split('/')[1]}"
    client.copy_object(Bucket="portico-test", Key=f"{prefix}/{copied}", CopySource=f"portico-test/{name}")
    with in_practice(mine):
        with pytest.raises(ObjectUnavailable):
            get_object(3, copied)
    with in_practice(theirs):
        big = os.urandom(storage.SEGMENT + 5)  # more than one segment, read back from a network stream
        big_key = put_object(4, big)
        assert get_object(4, big_key) == big
        delete_object(key)
        with pytest.raises(ObjectUnavailable):
            get_object(3, key)

    def names() -> set[str]:
        listed = client.list_objects_v2(Bucket="portico-test", Prefix=f"{prefix}/")
        return {item["Key"] for item in listed.get("Contents", [])}

    with in_practice(mine):
        assert storage.delete_practice_objects(mine.id) == 2  # its own object and the planted copy
    assert names() == {f"{prefix}/{big_key}"}


@pytest.mark.parametrize("size", [0, 1, storage.SEGMENT, 2 * storage.SEGMENT + 12345])
def test_objects_of_any_size_round_trip_a_segment_at_a_time(
    use_local_storage, make_practice, in_practice, size
):
    practice = make_practice()
    data = os.urandom(size)
    key = _upload(in_practice, practice, 4, data)
    with in_practice(practice):
        pieces = list(iter_object(4, key))
    assert b"".join(pieces) == data
    assert len(pieces) == max(1, -(-size // storage.SEGMENT)) and all(
        len(p) <= storage.SEGMENT for p in pieces
    )


def test_altered_truncated_or_reordered_objects_are_never_served(
    use_local_storage, make_practice, in_practice
):
    practice = make_practice()
    data = os.urandom(3 * storage.SEGMENT)
    key = _upload(in_practice, practice, 9, data)
    path = use_local_storage / key
    stored = path.read_bytes()
    segment = storage.SEGMENT + 16
    body_start = len(stored) - 3 * segment
    header, segments = stored[:body_start], [stored[body_start + i * segment :][:segment] for i in range(3)]
    altered = bytearray(stored)
    altered[-100] ^= 1
    variants = {
        "one bit flipped in the last segment": bytes(altered),
        "last segment cut off": header + segments[0] + segments[1],
        "segments swapped": header + segments[1] + segments[0] + segments[2],
        "only the header": header,
        "not an object at all": b"PDOC1",
    }
    for why, variant in variants.items():
        path.write_bytes(variant)
        with in_practice(practice):
            with pytest.raises(ObjectUnavailable):
                get_object(9, key)
            if why == "one bit flipped in the last segment":
                # Streaming: the intact segments before it are served, then the download breaks off.
                pieces = iter_object(9, key)
                assert next(pieces) == data[: storage.SEGMENT]
                next(pieces)
                with pytest.raises(ObjectUnavailable):
                    next(pieces)


def test_export_holds_the_practices_files_decrypted_and_delete_removes_them(
    use_local_storage, make_practice, in_practice, portico, tmp_path, monkeypatch
):
    import io
    import json
    import tarfile

    import pyrage

    from blueprints.documents import export
    from tests.fixtures_documents import pdf_bytes

    mine, theirs = make_practice(), make_practice()
    letter = pdf_bytes("Discharge letter")
    stored = {
        mine.id: [(11, _upload(in_practice, mine, 11, letter), "Letter.pdf"), (12, None, "notes.txt")],
        theirs.id: [(21, _upload(in_practice, theirs, 21, b"their words"), "theirs.txt")],
    }
    with in_practice(mine):
        stored[mine.id][1] = (12, put_object(12, SECRET), "../notes.txt")
        db.session.commit()
    # Mine also lists a document whose blob is gone: reported, and the rest is exported.
    stored[mine.id].append((13, f"{mine.id}/{'0' * 32}", "lost.pdf"))

    def source():
        from tenants.context import current_practice

        for object_id, key, name in stored.get(current_practice().id, []):
            yield export.ExportedFile(object_id, key, name, folder="uploads")

    monkeypatch.setattr(export, "_sources", [source])
    passphrase = tmp_path / "passphrase"
    passphrase.write_text("export passphrase for the test\n")
    target = tmp_path / "mine.tar.age"
    output = portico(
        "practices", "export", mine.slug, "-o", str(target), "--passphrase-file", str(passphrase)
    )
    assert "the database and 2 file(s)" in output and "not exported: document 13" in output
    raw = target.read_bytes()
    assert b"Discharge letter" not in raw and SECRET not in raw
    clear = pyrage.passphrase.decrypt(raw, "export passphrase for the test")
    with tarfile.open(fileobj=io.BytesIO(clear)) as archive:
        names = archive.getnames()
        assert names == [
            "database.sql",
            "files/uploads/11-Letter.pdf",
            "files/uploads/12-notes.txt",
            "files/manifest.json",
        ]
        assert archive.extractfile("files/uploads/11-Letter.pdf").read() == letter
        assert archive.extractfile("files/uploads/12-notes.txt").read() == SECRET
        manifest = json.loads(archive.extractfile("files/manifest.json").read())
    assert [entry["object_id"] for entry in manifest] == [11, 12]
    assert b"their words" not in clear

    output = portico("practices", "delete", mine.slug, "--yes")
    assert "removed 2 stored file(s)" in output
    assert not (use_local_storage / str(mine.id)).exists()
    assert (use_local_storage / str(theirs.id)).is_dir()
    with in_practice(theirs):
        assert get_object(21, stored[theirs.id][0][1]) == b"their words"
