"""Passphrase-encrypted files in the age format (https://age-encryption.org/v1), written as a stream.

Operator exports (`portico practices export`) hold a practice's data in clear inside, so the file
itself is encrypted with a passphrase the operator gives. age is a small, documented, widely
implemented format: the file opens with the standard tools (`age -d export.tar.age > export.tar`,
Debian/Ubuntu package `age`; or `rage`), and its passphrase mode derives the key with scrypt, which
makes guessing passphrases expensive (unlike the PBKDF2-SHA1 of AES zip files).

Only the writing side is here, on `cryptography`'s primitives, following the specification:
- a random 16-byte file key, wrapped by ChaCha20-Poly1305 under scrypt(passphrase,
  "age-encryption.org/v1/scrypt" + salt, N = 2**log_n, r = 8, p = 1) in one `scrypt` stanza;
- the header authenticated by HMAC-SHA256 under HKDF(file key, info "header");
- the payload in 64 KiB chunks of ChaCha20-Poly1305 under HKDF(file key, salt = 16-byte nonce,
  info "payload"), chunk nonces = 11-byte big-endian counter + a last-chunk flag (STREAM).
The tests decrypt what this writes with an independent implementation (pyrage, Rust's rage).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from typing import BinaryIO

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

VERSION_LINE = b"age-encryption.org/v1"
SCRYPT_LABEL = b"age-encryption.org/v1/scrypt"
CHUNK = 64 * 1024
# age's own default: about a second and 256 MB of memory per guess.
DEFAULT_LOG_N = 18
MIN_PASSPHRASE = 12


def _b64(data: bytes) -> bytes:
    return base64.b64encode(data).rstrip(b"=")


def _hkdf(key: bytes, salt: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(key)


class AgeWriter:
    """A write-only binary stream that encrypts everything written to it into `sink`.

    Close it (or use it in a `with`) to write the final chunk: an age file without its final
    chunk does not decrypt, so a cut-off export is detected, never half-read.
    """

    def __init__(self, sink: BinaryIO, passphrase: str, *, log_n: int = DEFAULT_LOG_N):
        if len(passphrase) < MIN_PASSPHRASE:
            raise ValueError(f"The passphrase must be at least {MIN_PASSPHRASE} characters long.")
        self._sink = sink
        file_key = os.urandom(16)
        salt = os.urandom(16)
        wrapping_key = Scrypt(salt=SCRYPT_LABEL + salt, length=32, n=2**log_n, r=8, p=1).derive(
            passphrase.encode("utf-8")
        )
        wrapped = ChaCha20Poly1305(wrapping_key).encrypt(b"\x00" * 12, file_key, None)
        # One stanza; a body of 32 bytes is 43 base64 characters: one line, shorter than 64.
        header = b"%s\n-> scrypt %s %d\n%s\n---" % (VERSION_LINE, _b64(salt), log_n, _b64(wrapped))
        mac = hmac.new(_hkdf(file_key, b"", b"header"), header, hashlib.sha256).digest()
        nonce = os.urandom(16)
        sink.write(header + b" " + _b64(mac) + b"\n" + nonce)
        self._aead = ChaCha20Poly1305(_hkdf(file_key, nonce, b"payload"))
        self._counter = 0
        self._buffer = bytearray()
        self.closed = False

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        if self.closed:
            raise ValueError("write to a closed age stream")
        self._buffer += data
        # A chunk goes out only once more follows it: the last chunk must carry the last flag.
        while len(self._buffer) > CHUNK:
            self._emit(bytes(self._buffer[:CHUNK]), last=False)
            del self._buffer[:CHUNK]
        return len(data)

    def flush(self) -> None:
        self._sink.flush()

    def close(self) -> None:
        if not self.closed:
            self._emit(bytes(self._buffer), last=True)
            self._buffer.clear()
            self.closed = True
            self._sink.flush()

    def _emit(self, chunk: bytes, *, last: bool) -> None:
        nonce = self._counter.to_bytes(11, "big") + (b"\x01" if last else b"\x00")
        self._sink.write(self._aead.encrypt(nonce, chunk, None))
        self._counter += 1

    def __enter__(self) -> AgeWriter:
        return self

    def __exit__(self, kind, error, traceback) -> None:
        if kind is None:
            self.close()
