"""Fixtures and sample files for the documents tests (imported by tests/conftest.py).

- `clamd`: a real ClamAV daemon (Debian's clamav-daemon) on a temporary configuration and a
  signature database generated here (the MD5 of the EICAR test string), since signature downloads
  are not possible offline. Started once per session (about a tenth of a second); skipped only
  when the clamd binary is missing.
- `use_clamd`: the app scans with that daemon for one test (PORTICO_CLAMD).
- `s3_server`: moto's ThreadedMotoServer on 127.0.0.1 with a bucket; `use_s3`: the app stores
  files there for one test (STORAGE_URL), `use_local_storage`: in a fresh data directory.
- Sample makers: `pdf_bytes`, `png_bytes`, `jpeg_bytes`, `docx_bytes`, and `EICAR`;
  `open_export` opens an encrypted practice export.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import socket
import subprocess
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pytest

# The standard antivirus test file: harmless, and every scanner reports it.
EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
EICAR_SIGNATURE = "Portico.Test.EICAR"
CLAMD_BINARY = shutil.which("clamd") or ("/usr/sbin/clamd" if os.path.exists("/usr/sbin/clamd") else None)
S3_BUCKET = "portico-test"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running_clamd(folder: Path) -> Iterator[str]:
    """Start clamd in `folder` on a database of one generated signature (the MD5 of EICAR); yields
    the address of its socket. Also used by bench/documents.py."""
    from blueprints.documents.scanning import ping

    if CLAMD_BINARY is None:
        raise FileNotFoundError("clamd is not installed")
    database = folder / "db"
    database.mkdir(exist_ok=True)
    # A hash signature: md5:size:name. clamd loads it in milliseconds (no official database).
    (database / "portico-test.hdb").write_text(
        f"{hashlib.md5(EICAR).hexdigest()}:{len(EICAR)}:{EICAR_SIGNATURE}\n"
    )
    address = str(folder / "clamd.sock")
    config = folder / "clamd.conf"
    config.write_text(
        "\n".join(
            [
                "Foreground yes",
                f"LocalSocket {address}",
                f"DatabaseDirectory {database}",
                f"TemporaryDirectory {folder}",
                f"LogFile {folder / 'clamd.log'}",
                f"PidFile {folder / 'clamd.pid'}",
                # At least the largest upload a practice may allow (100 MB), or larger files fail
                # closed; clamd only takes the memory a stream needs.
                "StreamMaxLength 101M",
                "MaxFileSize 101M",
                "MaxScanSize 400M",
                "Bytecode no",
                "SelfCheck 0",
                "",
            ]
        )
    )
    process = subprocess.Popen(
        [CLAMD_BINARY, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 30
        while not ping(address):
            if process.poll() is not None or time.monotonic() > deadline:
                log = (folder / "clamd.log").read_text() if (folder / "clamd.log").exists() else ""
                raise RuntimeError(f"clamd did not start: {log}")
            time.sleep(0.02)
        yield address
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def clamd(tmp_path_factory):
    """The address (a Unix socket path) of a running clamd that knows only the EICAR signature."""
    if CLAMD_BINARY is None:
        pytest.skip("clamd is not installed (Debian: apt-get install clamav-daemon; see scripts/system-deps)")
    with running_clamd(tmp_path_factory.mktemp("clamd")) as address:
        yield address


def _swap_settings(app, **values):
    """Give the (session-wide) app other settings for one test; returns the undo."""
    original = app.config["PORTICO"]
    app.config["PORTICO"] = replace(original, **values)
    stored = app.extensions.pop("portico_storage", None)

    def undo():
        app.config["PORTICO"] = original
        app.extensions.pop("portico_storage", None)
        if stored is not None:
            app.extensions["portico_storage"] = stored

    return undo


@pytest.fixture
def use_clamd(app, clamd):
    undo = _swap_settings(app, clamd=clamd)
    yield clamd
    undo()


@pytest.fixture(scope="session")
def s3_server():
    """The endpoint URL of a local S3-compatible server (moto) holding an empty bucket."""
    from moto.server import ThreadedMotoServer

    credentials = {
        "AWS_ACCESS_KEY_ID": "portico-test",
        "AWS_SECRET_ACCESS_KEY": "portico-test-secret",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    saved = {name: os.environ.get(name) for name in credentials}
    os.environ.update(credentials)
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    import boto3

    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket=S3_BUCKET)
    yield endpoint
    server.stop()
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture
def use_s3(app, s3_server):
    """The app stores files in the moto bucket (under a prefix of this test's own); yields a boto3
    client and the prefix, to look at what was stored."""
    import boto3

    prefix = f"t{os.urandom(4).hex()}"
    undo = _swap_settings(app, storage_url=f"s3://{S3_BUCKET}/{prefix}?endpoint={s3_server}")
    yield boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1"), prefix
    undo()


@pytest.fixture
def use_local_storage(app, tmp_path):
    """The app stores files under a data directory of this test's own; yields its files folder."""
    undo = _swap_settings(app, data_dir=tmp_path, storage_url=None)
    yield Path(tmp_path) / "files"
    undo()


# ---------------------------------------------------------------------------------------------
# Sample files
# ---------------------------------------------------------------------------------------------


def pdf_bytes(text: str = "Hello from Portico", *, pages: int = 1, padding: int = 0) -> bytes:
    """A small, valid PDF with `text` on each page; `padding` adds an uncompressed stream of that
    many random bytes (to make large files)."""
    import pikepdf

    pdf = pikepdf.new()
    font = pdf.make_indirect(
        pikepdf.Dictionary(
            Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica
        )
    )
    for _ in range(pages):
        content = pikepdf.Stream(pdf, f"BT /F1 18 Tf 72 720 Td ({text}) Tj ET".encode())
        page = pikepdf.Page(
            pikepdf.Dictionary(
                Type=pikepdf.Name.Page,
                MediaBox=[0, 0, 612, 792],
                Contents=content,
                Resources=pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font)),
            )
        )
        pdf.pages.append(page)
    if padding:
        pdf.Root.PorticoPadding = pikepdf.Stream(pdf, os.urandom(padding))
    out = io.BytesIO()
    pdf.save(out, compress_streams=False)
    return out.getvalue()


def png_bytes(size: tuple[int, int] = (40, 30), *, exif: bytes | None = None) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", size, (200, 120, 40)).save(out, "PNG", **({"exif": exif} if exif else {}))
    return out.getvalue()


def jpeg_bytes(size: tuple[int, int] = (40, 30), *, exif=None) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", size, (40, 120, 200)).save(out, "JPEG", **({"exif": exif} if exif else {}))
    return out.getvalue()


def docx_bytes(extra: dict[str, bytes] | None = None, *, content_types: bytes | None = None) -> bytes:
    """A minimal Word document; `extra` adds parts (name -> bytes)."""
    types = content_types or (
        b'<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
        b'package/2006/content-types"><Override PartName="/word/document.xml" ContentType="application/'
        b'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>'
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", types)
        archive.writestr("_rels/.rels", b"<Relationships/>")
        archive.writestr(
            "word/document.xml",
            b'<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
            b"<w:body><w:p><w:r><w:t>Hello</w:t></w:r></w:p></w:body></w:document>",
        )
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return out.getvalue()


def open_export(path: Path, passphrase: str):
    """A `portico practices export` archive opened as an operator would with `age -d` (here pyrage,
    an independent implementation of age): the tar file inside."""
    import tarfile

    import pyrage

    return tarfile.open(fileobj=io.BytesIO(pyrage.passphrase.decrypt(Path(path).read_bytes(), passphrase)))
