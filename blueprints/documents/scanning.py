"""Malware scanning through a ClamAV daemon (clamd), over its INSTREAM protocol.

`PORTICO_CLAMD` is the path of clamd's local socket or host:port of its TCP socket. The file is
sent in chunks, each prefixed by its length as a 4-byte big-endian number, ended by a zero length;
clamd answers `stream: OK`, `stream: <signature> FOUND` or `… ERROR`. clamd refuses a stream
longer than its `StreamMaxLength` (default 25 MB): set it at least to the upload limit, or every
larger file fails closed as "could not be scanned".

Fail closed: with a scanner configured, anything but a clear OK is not "clean". An unreachable or
erroring scanner raises `ScannerUnavailable` (the caller keeps the file pending and tries again).
"""

from __future__ import annotations

import socket
import struct

CLEAN = "clean"
INFECTED = "infected"
NOT_SCANNED = "not_scanned"

CHUNK = 256 * 1024
CONNECT_TIMEOUT = 3.0
# clamd reads the whole stream before it answers; a large file on a loaded scanner takes a while.
ANSWER_TIMEOUT = 60.0


class ScannerUnavailable(RuntimeError):
    """clamd is configured but could not give an answer (down, refused the stream, or errored)."""


def _connect(address: str) -> socket.socket:
    try:
        if address.startswith("/"):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(CONNECT_TIMEOUT)
            sock.connect(address)
        else:
            host, _, port = address.rpartition(":")
            sock = socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT)
    except OSError as error:
        raise ScannerUnavailable(f"cannot reach the virus scanner at {address}: {error}") from None
    sock.settimeout(ANSWER_TIMEOUT)
    return sock


def _answer(sock: socket.socket) -> str:
    parts = []
    while True:
        data = sock.recv(4096)
        if not data:
            break
        parts.append(data)
        if data.endswith(b"\0"):
            break
    return b"".join(parts).rstrip(b"\0").decode("utf-8", "replace").strip()


def scan_bytes(data: bytes, address: str) -> tuple[str, str | None]:
    """(CLEAN, None) or (INFECTED, signature name); ScannerUnavailable when no clear answer came."""
    try:
        with _connect(address) as sock:
            sock.sendall(b"zINSTREAM\0")
            view = memoryview(data)
            for start in range(0, len(view), CHUNK):
                chunk = view[start : start + CHUNK]
                sock.sendall(struct.pack(">I", len(chunk)))
                sock.sendall(chunk)
            sock.sendall(struct.pack(">I", 0))
            answer = _answer(sock)
    except ScannerUnavailable:
        raise
    except OSError as error:
        # clamd closes the connection on a stream over StreamMaxLength: the send fails.
        raise ScannerUnavailable(f"the virus scanner at {address} did not answer: {error}") from None
    if answer.endswith(" FOUND"):
        signature = answer.removeprefix("stream:").removesuffix(" FOUND").strip()
        return INFECTED, signature or "unknown"
    if answer == "stream: OK":
        return CLEAN, None
    raise ScannerUnavailable(f"the virus scanner at {address} answered {answer[:200]!r}")


def ping(address: str) -> bool:
    """Whether clamd answers PING with PONG (for health checks and test set-up)."""
    try:
        with _connect(address) as sock:
            sock.sendall(b"zPING\0")
            return _answer(sock) == "PONG"
    except (ScannerUnavailable, OSError):
        return False
