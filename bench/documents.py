"""Documents: upload-to-available time of a 10 MB PDF, and download throughput against a plain read.

Upload: the steps a client upload goes through before the file can be served, each timed, over
`--documents-runs` runs (median and fastest): check (name, allow-list, sniffing, polyglot checks),
disarm (pikepdf opens the PDF, strips active content, writes it anew, opens it again to prove it),
scan (clamd INSTREAM, when a clamd is available: `PORTICO_CLAMD`, or one started here on the
generated test signature if Debian's clamd is installed), encrypt and store (seal with a fresh data
key under the practice key, write to the data directory with fsync) and commit.

Download: reading the stored object back and decrypting it a 1 MiB segment at a time
(`storage.iter_object`, what the download view streams), against reading the same plaintext from an
unencrypted file in the same directory in 1 MiB pieces (what serving a plain file does) and in one
`read_bytes()`, all warm in the page cache and interleaved: MB/s of each and the ratios.

The PDF is generated: `--documents-pages` (20) pages, each with an uncompressible image of about
half a megabyte and a line of text, about 10 MB in all. Goals: upload under 1 s; download at least
0.5x of the plain read.
"""

from __future__ import annotations

import io
import os
import statistics
import tempfile
import time
import zlib
from contextlib import ExitStack
from pathlib import Path

from bench.common import (
    DOCUMENT_PATH,
    PLAIN_FILE_PATH,
    GunicornServer,
    HttpClient,
    bench_environment,
    free_port,
    heading,
    local_app,
    provision_practices,
)

RUNS = 5
PAGES = 20


def add_arguments(parser) -> None:
    group = parser.add_argument_group("documents")
    group.add_argument("--documents-runs", type=int, default=RUNS, help=f"timed uploads (default {RUNS})")
    group.add_argument("--documents-pages", type=int, default=PAGES, help=f"PDF pages (default {PAGES})")


def ten_megabyte_pdf(pages: int) -> bytes:
    """A PDF of `pages` pages, each a 420 x 420 RGB image of noise (Flate, ~530 KB) and some text."""
    import pikepdf

    pdf = pikepdf.new()
    font = pdf.make_indirect(
        pikepdf.Dictionary(
            Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica
        )
    )
    side = 420
    for number in range(pages):
        image = pikepdf.Stream(
            pdf,
            zlib.compress(os.urandom(side * side * 3), 1),
            Type=pikepdf.Name.XObject,
            Subtype=pikepdf.Name.Image,
            Width=side,
            Height=side,
            ColorSpace=pikepdf.Name.DeviceRGB,
            BitsPerComponent=8,
            Filter=pikepdf.Name.FlateDecode,
        )
        content = f"q 400 0 0 400 100 300 cm /Im0 Do Q BT /F1 14 Tf 72 100 Td (Page {number + 1}) Tj ET"
        pdf.pages.append(
            pikepdf.Page(
                pikepdf.Dictionary(
                    Type=pikepdf.Name.Page,
                    MediaBox=[0, 0, 612, 792],
                    Contents=pikepdf.Stream(pdf, content.encode()),
                    Resources=pikepdf.Dictionary(
                        Font=pikepdf.Dictionary(F1=font), XObject=pikepdf.Dictionary(Im0=image)
                    ),
                )
            )
        )
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def _clamd_address(stack: ExitStack) -> tuple[str | None, str]:
    if os.environ.get("PORTICO_CLAMD"):
        return os.environ["PORTICO_CLAMD"], "PORTICO_CLAMD"
    try:
        from tests.fixtures_documents import running_clamd

        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="portico-bench-clamd-")))
        return stack.enter_context(running_clamd(folder)), "a clamd started here (1 test signature)"
    except (ImportError, FileNotFoundError):
        return None, "none (clamd not installed): not scanned"


def _line(label: str, seconds: list[float]) -> str:
    median, fastest = statistics.median(seconds) * 1000, min(seconds) * 1000
    return f"  {label:<38} median {median:7.1f} ms   fastest {fastest:7.1f} ms"


def run(args) -> None:
    from dataclasses import replace

    from tenants.database import practice_scope
    from tenants.registry import get_practice

    data = ten_megabyte_pdf(args.documents_pages)
    heading(
        f"Documents: a {len(data) / 1e6:.1f} MB PDF uploaded {args.documents_runs} times, then downloaded"
    )
    with ExitStack() as stack:
        address, scanner = _clamd_address(stack)
        port = free_port()
        settings, tmp = stack.enter_context(bench_environment(f"localhost:{port}"))
        settings = replace(settings, clamd=address)
        app = stack.enter_context(local_app(settings))
        [practice] = provision_practices(app, [1])
        print(f"scanner: {scanner}; storage: data directory {settings.data_dir / 'files'} (fsync on write)")
        with app.app_context(), practice_scope(get_practice(practice.id)):
            object_id, key, clean = _uploads(args, data)
            plain = settings.data_dir / "files" / "plain-copy.pdf"
            plain.write_bytes(clean)
            _local_downloads(args, object_id, key, plain)
        _http_downloads(args, settings, tmp, port, practice, object_id, key, len(clean))


def _uploads(args, data: bytes) -> tuple[int, str, bytes]:
    from blueprints.documents import files, storage
    from tenants.database import db

    steps = {
        "check + disarm (files.check_upload)": [],
        "scan (files.scan)": [],
        "encrypt + store + commit": [],
        "upload to available (total)": [],
    }
    storage.put_object(0, b"warm-up: the practice key is made on first use")
    db.session.commit()
    for object_id in range(1, args.documents_runs + 1):
        started = time.perf_counter()
        clean = files.check_upload(data, "Discharge letter.pdf", max_bytes=25 * 1024 * 1024)
        checked = time.perf_counter()
        verdict = files.scan(clean)
        scanned = time.perf_counter()
        key = storage.put_object(object_id, clean.data)
        db.session.commit()
        stored = time.perf_counter()
        for name, seconds in zip(
            steps, (checked - started, scanned - checked, stored - scanned, stored - started), strict=True
        ):
            steps[name].append(seconds)
    print(f"scan verdict: {verdict}; stored {clean.size / 1e6:.1f} MB under {key.split('/')[0]}/…")
    for name, seconds in steps.items():
        print(_line(name, seconds))
    total = statistics.median(steps["upload to available (total)"])
    print(f"  goal: under 1 s -> {'met' if total < 1 else 'NOT met'} ({total:.2f} s)")
    return object_id, key, clean.data


def _rates(ways: dict, size: int, reads: int, warmup: int = 2) -> dict[str, tuple[float, float]]:
    """(median, best) MB/s of each way of getting `size` bytes; interleaved, so that other load
    on the machine slows them alike."""
    timings = {name: [] for name in ways}
    for attempt in range(warmup + reads):
        for name, way in ways.items():
            started = time.perf_counter()
            got = way()
            if got != size:
                raise RuntimeError(f"{name} gave {got} bytes, not {size}")
            if attempt >= warmup:
                timings[name].append(time.perf_counter() - started)
    return {name: (size / 1e6 / statistics.median(t), size / 1e6 / min(t)) for name, t in timings.items()}


def _print_rates(title: str, rates: dict[str, tuple[float, float]]) -> None:
    print(title)
    for name, (median, best) in rates.items():
        print(f"  {name:<38} median {median:7.0f} MB/s   best {best:7.0f} MB/s")
    (ours, ours_best), (plain, plain_best) = list(rates.values())[:2]
    ratio = ours / plain
    print(
        f"  ratio {ratio:.2f}x at the median, {ours_best / plain_best:.2f}x at the best "
        f"(goal at least 0.5x -> {'met' if ratio >= 0.5 else 'NOT met'})"
    )


def _local_downloads(args, object_id: int, key: str, plain: Path) -> None:
    """The object read back and decrypted segment by segment, as the download view streams it, vs
    the plaintext read from a file in the same 1 MiB pieces, and in one read_bytes()."""
    from blueprints.documents import storage

    def pieces(iterable) -> int:
        return sum(len(piece) for piece in iterable)

    def plain_pieces() -> int:
        with open(plain, "rb") as handle:
            return pieces(iter(lambda: handle.read(storage.SEGMENT), b""))

    ways = {
        "read + decrypt (storage.iter_object)": lambda: pieces(storage.iter_object(object_id, key)),
        "plain file read, 1 MiB pieces": plain_pieces,
        "plain file read, whole (read_bytes)": lambda: len(plain.read_bytes()),
    }
    reads = max(20, args.documents_runs * 6)
    size = plain.stat().st_size
    _print_rates(f"download in process, warm page cache ({reads} reads each):", _rates(ways, size, reads))


def _http_downloads(args, settings, tmp, port, practice, object_id: int, key: str, size: int) -> None:
    """The same comparison end to end: each file fetched over HTTP from gunicorn on 127.0.0.1 on
    one keep-alive connection (bench.bench_app's two download pages)."""
    with GunicornServer(settings, port, tmp, args.workers, args.threads) as server:
        client = HttpClient(port)
        host = practice.host(port)

        def fetch(path: str) -> int:
            response = client.get(host, path)
            if response.status != 200:
                raise RuntimeError(f"{path} answered {response.status}: {response.text[:200]}")
            return len(response.body)

        ways = {
            "decrypted document (iter_object)": lambda: fetch(f"{DOCUMENT_PATH}/{object_id}?key={key}"),
            "plain file, 1 MiB pieces": lambda: fetch(f"{PLAIN_FILE_PATH}?name=plain-copy.pdf"),
        }
        try:
            _print_rates(f"download over HTTP ({server.describe()}; 20 each):", _rates(ways, size, 20))
        finally:
            client.close()
