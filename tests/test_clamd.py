"""Virus scanning through a real clamd (started by the `clamd` fixture on a generated EICAR
signature): a clean file passes, the EICAR test file is a hit, an unreachable scanner fails closed,
and without PORTICO_CLAMD files are "not scanned"."""

from __future__ import annotations

import socket
import threading

import pytest

from blueprints.documents.files import CleanFile, ScannerUnavailable, check_upload, scan, scan_with_signature
from blueprints.documents.scanning import CLEAN, INFECTED, NOT_SCANNED, ping, scan_bytes
from tests.fixtures_documents import EICAR, EICAR_SIGNATURE, pdf_bytes


def _as_clean_file(data: bytes) -> CleanFile:
    return CleanFile(name="x.txt", content_type="text/plain", data=data, size=len(data), sha256="")


def test_clean_and_infected_files_get_clamds_verdict(clamd):
    assert ping(clamd)
    assert scan_bytes(b"an ordinary letter", clamd) == (CLEAN, None)
    verdict, signature = scan_bytes(EICAR, clamd)
    # clamd adds ".UNOFFICIAL" to the names of signatures that are not from ClamAV itself.
    assert verdict == INFECTED and signature.startswith(EICAR_SIGNATURE)


def test_the_eicar_text_passes_the_file_checks_and_is_caught_by_the_scanner(app, use_clamd):
    # EICAR is printable ASCII: as a .txt upload it passes every structural check; only the
    # scanner can know it, which is why the scan runs on what is about to be stored.
    clean = check_upload(EICAR, "notes.txt", max_bytes=1024)
    with app.app_context():
        assert scan(clean) == INFECTED
        verdict, signature = scan_with_signature(clean)
        assert verdict == INFECTED and signature.startswith(EICAR_SIGNATURE)
        assert scan(check_upload(pdf_bytes(), "letter.pdf", max_bytes=1 << 20)) == CLEAN


def test_a_large_file_within_the_limit_is_scanned_in_chunks(clamd):
    data = b"A" * (20 * 1024 * 1024) + EICAR
    assert scan_bytes(data, clamd)[0] == CLEAN  # a hash signature matches the whole file only
    assert scan_bytes(b"B" * (20 * 1024 * 1024), clamd) == (CLEAN, None)


def test_without_a_scanner_files_are_not_scanned(app):
    assert app.config["PORTICO"].clamd is None
    with app.app_context():
        assert scan(_as_clean_file(EICAR)) == NOT_SCANNED


def test_an_unreachable_or_broken_scanner_fails_closed(tmp_path):
    with pytest.raises(ScannerUnavailable):
        scan_bytes(b"x", str(tmp_path / "no-such.sock"))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ScannerUnavailable):
        scan_bytes(b"x", f"127.0.0.1:{port}")
    # Something listening that answers nonsense is not a "clean".
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)

    def answer_badly():
        connection, _ = server.accept()
        with connection:
            connection.recv(65536)
            connection.sendall(b"INSTREAM size limit exceeded. ERROR\0")

    thread = threading.Thread(target=answer_badly)
    thread.start()
    try:
        with pytest.raises(ScannerUnavailable):
            scan_bytes(b"x", f"127.0.0.1:{server.getsockname()[1]}")
    finally:
        thread.join(5)
        server.close()
