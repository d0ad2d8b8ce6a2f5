"""Browser test fixtures: a live Portico server on a free port, and headless Chromium via Playwright.

The live server is a second app instance on the same test database as the root `app` fixture (which
has already upgraded `public` and moved the practice id sequence). Chromium resolves `*.localhost`
to the loopback address by itself, so practice hosts (`acme.localhost:<port>`) work without DNS.
Screenshots and other artefacts go to `test-results/<test name>/` at the repository root.
"""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from app import create_app
from app.config import Settings
from tenants.database import db
from tenants.models import Practice
from tests.conftest import TEST_MASTER_KEY, _created_roles, free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
RESULTS_DIR = REPO_ROOT / "test-results"
CHROMIUM = os.environ.get("PORTICO_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
HERE = Path(__file__).resolve().parent


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: end-to-end test in a real browser (Chromium)")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.browser)


@dataclass
class LiveServer:
    app: object
    port: int
    base_url: str
    practice_ids: list[int] = field(default_factory=list)

    def practice_url(self, slug: str, path: str = "/") -> str:
        return f"http://{slug}.localhost:{self.port}{path}"

    def practice_id(self, slug: str) -> int | None:
        """The id of the practice at `slug`, straight from the registry (no cache)."""
        with self.app.app_context():
            with db.engine.connect() as conn:
                return conn.execute(select(Practice.id).where(Practice.slug == slug)).scalar()

    def track(self, slug: str) -> int:
        """Remember a practice created through the browser, so its role is dropped after the run."""
        practice_id = self.practice_id(slug)
        assert practice_id is not None, f"no practice at {slug!r}"
        _created_roles.add(f"tenant_{practice_id}")
        return practice_id


@pytest.fixture(scope="session")
def live_server(app, database_url, smtp_server, tmp_path_factory):
    controller, _ = smtp_server
    port = free_port()
    settings = Settings(
        database_url=database_url,
        owner_database_url=app.config["PORTICO"].owner_database_url,
        secret_key="browser-test-secret-key",
        base_domain=f"localhost:{port}",
        data_dir=tmp_path_factory.mktemp("portico-live-data"),
        smtp_url=f"smtp://127.0.0.1:{controller.port}",
        practice_cache_seconds=0,
        master_key=TEST_MASTER_KEY,
    )
    live_app = create_app(settings)
    server = make_server("127.0.0.1", port, live_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="portico-live-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(app=live_app, port=port, base_url=f"http://localhost:{port}")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: install it (apt-get install chromium) "
            "or set PORTICO_CHROMIUM to its path. Browser tests are not skipped.",
            pytrace=False,
        )
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()
    finally:
        playwright.stop()


@pytest.fixture
def page(browser):
    context = browser.new_context()
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def console_errors(page):
    """Console messages of type "error" (CSP violations among them) and uncaught page errors.

    Each entry is "<text> [<url>]". The 404 of Chromium's own /favicon.ico request is left out: the
    browser makes it by itself, no page asks for it.
    """
    errors: list[str] = []

    def on_console(message):
        if message.type != "error":
            return
        url = (message.location or {}).get("url", "")
        if url.endswith("/favicon.ico") and "404" in message.text:
            return
        errors.append(f"{message.text} [{url}]")

    page.on("console", on_console)
    page.on("pageerror", lambda error: errors.append(f"uncaught: {error}"))
    return errors


@pytest.fixture
def output_dir(request) -> Path:
    """`test-results/<test name>/` at the repository root, created empty-or-existing."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    folder = RESULTS_DIR / name
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def open_menu(page) -> None:
    """Open the folded menu (a phone's): nothing to do on a desktop or when it is open already."""
    toggle = page.locator(".site-menu-toggle")
    toggle.wait_for(state="attached")  # a page with a menu (not the login page a click is leaving)
    page.wait_for_load_state("load")  # and its script, which opens it
    if toggle.is_visible() and toggle.get_attribute("aria-expanded") != "true":
        toggle.click()


# What a sideways scroll would show: how far the page is wider than the window (0 when it fits).
OVERFLOW = "document.documentElement.scrollWidth - window.innerWidth"


def assert_no_sideways_scroll(page) -> None:
    page.wait_for_load_state("load")
    assert page.evaluate(OVERFLOW) <= 0, f"{page.url} scrolls sideways by {page.evaluate(OVERFLOW)} px"
