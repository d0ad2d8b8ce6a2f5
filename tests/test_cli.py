"""Operator commands: practices create, list, rename, suspend, resume, delete; demo."""

from __future__ import annotations

import re
import uuid

import pytest
from click.testing import CliRunner

from app.cli import main
from tests.fixtures_documents import open_export


def test_create_list_rename_suspend_resume(portico, visit, make_practice):
    slug = f"cli-{uuid.uuid4().hex[:6]}"
    output = portico(
        "practices",
        "create",
        "--name",
        "CLI Practice",
        "--subdomain",
        slug,
        "--owner-email",
        f"boss@{slug}.example.com",
        "--owner-name",
        "Boss",
        "--owner-password",
        "cli-owner-password",
    )
    assert f"owner  http://{slug}.localhost/  boss@{slug}.example.com  cli-owner-password" in output
    assert re.search(rf"^\d+\t{slug}\tactive\tt\d+\tCLI Practice$", portico("practices", "list"), re.M)
    owner = visit(f"{slug}.localhost")
    assert owner.login(f"boss@{slug}.example.com", "cli-owner-password").status_code == 302

    new_slug = f"{slug}-new"
    assert f"Renamed {slug} -> {new_slug}" in portico("practices", "rename", slug, new_slug)
    old = visit(f"{slug}.localhost").get("/login?next=/x")
    assert old.status_code == 301
    assert old.headers["Location"] == f"http://{new_slug}.localhost/login?next=/x"
    assert "CLI Practice" in visit(f"{new_slug}.localhost").get("/login").get_data(as_text=True)
    # The old address stays reserved for this practice: nobody else can take it.
    other = make_practice()
    assert "already taken" in portico("practices", "rename", other.slug, slug, expect=2)
    assert "already taken" in visit("localhost").get(f"/signup/check?subdomain={slug}").json["message"]

    portico("practices", "suspend", new_slug)
    assert visit(f"{new_slug}.localhost").get("/login").status_code == 404
    assert visit(f"{slug}.localhost").get("/login").status_code == 404  # no redirect to a suspended one
    page = visit(f"{new_slug}.localhost").get("/").get_data(as_text=True)
    assert "CLI Practice" not in page
    portico("practices", "resume", new_slug)
    assert visit(f"{new_slug}.localhost").get("/login").status_code == 200


def test_create_refuses_bad_or_taken_addresses(portico, make_practice):
    practice = make_practice()
    common = ["--name", "X", "--owner-email", "x@example.com", "--owner-name", "X"]
    assert "reserved" in portico("practices", "create", "--subdomain", "admin", *common, expect=2)
    assert "already taken" in portico("practices", "create", "--subdomain", practice.slug, *common, expect=2)
    assert "No practice" in portico("practices", "suspend", "no-such-practice", expect=2)


def test_delete_takes_a_practice_offline_and_destroys_its_keys(
    portico, make_practice, visit, in_practice, app
):
    from sqlalchemy import text

    from tenants.database import db, owner_engine
    from tenants.encryption import seal

    practice = make_practice()
    with in_practice(practice):
        seal(b"something private", table="t", row_id=1, column="c")  # makes the practice key
        db.session.commit()
    assert "--yes" in portico("practices", "delete", practice.slug, expect=2)
    output = portico("practices", "delete", practice.slug, "--yes")
    assert "Destroyed 1 encryption key version(s)" in output
    assert visit(practice).get("/login").status_code == 404
    with app.app_context(), owner_engine().connect() as connection:
        connection.exec_driver_sql(f"SET ROLE tenant_{practice.id}")
        assert connection.scalar(text(f"SELECT count(*) FROM tenant_{practice.id}.practice_keys")) == 0
    assert "cannot be brought back" in portico("practices", "resume", practice.slug, expect=2)


def test_demo_prints_one_line_per_login(portico, visit):
    output = portico("demo")
    lines = [line for line in output.splitlines() if "  http://demo.localhost" in line]
    roles = [line.split("  ")[0] for line in lines]
    assert roles == [
        "owner",
        "scheduler",
        "clinician",
        "intern",
        "client",
        "guardian",
        "teen",
        "profile link",
    ]
    for line in lines[:-1]:
        role, url, email, password = line.split("  ")
        assert url == "http://demo.localhost"
        response = visit("demo.localhost").login(email, password)
        assert response.status_code == 302, role
        expected = "/" if role in ("owner", "scheduler", "clinician", "intern") else "/portal/choose"
        assert response.headers["Location"] == expected, role
    link = lines[-1].split("  ")[1]
    assert link.startswith("http://demo.localhost/l/")
    assert "Continue to Harbor Family Therapy" in visit("demo.localhost").get(
        link[len("http://demo.localhost") :]
    ).get_data(as_text=True)

    guardian = visit("demo.localhost")
    guardian.login("guardian@harbor.example.com", "demo-guardian-pass")
    choices = guardian.get("/portal/choose").get_data(as_text=True)
    assert "Milo Morgan" in choices and "Tessa Morgan" in choices
    client = visit("demo.localhost")
    client.login("client@harbor.example.com", "demo-client-pass")
    client.get("/portal/choose")
    assert "Individual therapy with" in client.get("/portal/appointments").get_data(as_text=True)
    forms = client.get("/portal/forms").get_data(as_text=True)
    to_do, completed = forms.split('id="forms-completed"')
    for title in ("Client information", "Consent to treatment", "Intake questionnaire", "GAD-7"):
        assert title in to_do, title
    assert "PHQ-9" not in to_do and "PHQ-9 (depression)" in completed

    again = portico("demo")  # running it again keeps working and keeps the printed passwords valid
    assert "owner  http://demo.localhost  owner@harbor.example.com  demo-owner-pass" in again
    assert visit("demo.localhost").login("owner@harbor.example.com", "demo-owner-pass").status_code == 302
    client.login("client@harbor.example.com", "demo-client-pass")  # the reset password ended the session
    client.get("/portal/choose")
    assert client.get("/portal/forms").get_data(as_text=True).count("PHQ-9 (depression)") == 1


def test_export_dumps_one_practice_only_into_an_encrypted_archive(portico, make_practice, tmp_path):
    mine, other = make_practice(name="Exported Practice"), make_practice(name="Not Exported")
    target = tmp_path / "export.tar.age"
    passphrase_file = tmp_path / "passphrase"
    passphrase_file.write_text("a long export passphrase\n")
    output = portico(
        "practices", "export", mine.slug, "-o", str(target), "--passphrase-file", str(passphrase_file)
    )
    assert f"Wrote {target}" in output and "age -d" in output
    raw = target.read_bytes()
    assert raw.startswith(b"age-encryption.org/v1\n-> scrypt ") and b"owner@" not in raw
    assert oct(target.stat().st_mode & 0o777) == "0o600"
    with pytest.raises(Exception, match="(?i)decrypt"):
        open_export(target, "the wrong passphrase")
    with open_export(target, "a long export passphrase") as archive:
        assert archive.getnames() == ["database.sql", "files/manifest.json"]
        dump = archive.extractfile("database.sql").read().decode()
    assert f"tenant_{mine.id}" in dump and f"owner@{mine.slug}.example.com" in dump
    assert f"tenant_{other.id}" not in dump and other.slug not in dump
    # An existing file is never overwritten, and a short passphrase is refused.
    again = ("practices", "export", mine.slug, "-o", str(target), "--passphrase-file", str(passphrase_file))
    assert "already exists" in portico(*again, expect=2)
    passphrase_file.write_text("short\n")
    assert "at least 12 characters" in portico(
        "practices",
        "export",
        mine.slug,
        "-o",
        str(tmp_path / "x.age"),
        "--passphrase-file",
        str(passphrase_file),
        expect=2,
    )
    assert not (tmp_path / "x.age").exists()


@pytest.fixture
def run_command(app, tmp_path, monkeypatch):
    """`portico run …` with the dev server, the worker and signal handling stubbed out; the apps it
    makes have their connections closed afterwards (the database server is shared)."""
    import flask

    import app.cli as cli
    from tenants.database import db

    made, served = [], []

    def create_app(*args, **kwargs):
        made.append(cli_create_app(*args, **kwargs))
        return made[-1]

    cli_create_app = cli.create_app
    monkeypatch.setattr(cli, "create_app", create_app)
    monkeypatch.setattr(flask.Flask, "run", lambda self, **kwargs: served.append(kwargs))
    monkeypatch.setattr(cli.WorkerSupervisor, "start", lambda self: None)
    monkeypatch.setattr(cli.WorkerSupervisor, "stop", lambda self: None)
    monkeypatch.setattr(cli.signal, "signal", lambda *args: None)

    def run(*args, base_domain: str | None):
        env = {
            "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
            "PORTICO_OWNER_DATABASE_URL": app.config["PORTICO"].owner_database_url,
            "PORTICO_DATA_DIR": str(tmp_path),
            "PORTICO_BASE_DOMAIN": base_domain,
        }
        result = CliRunner().invoke(main, ["run", *args], env=env)
        assert result.exit_code == 0, result.output
        return result.output, served

    yield run
    for made_app in made:
        with made_app.app_context():
            for engine in db.engines.values():
                engine.dispose()


@pytest.mark.parametrize(
    "base_domain, port, expected",
    [
        (None, 8000, "localhost:8000"),  # PORTICO_BASE_DOMAIN unset
        ("localhost", 8000, "localhost:8000"),
        ("localhost:5000", 8123, "localhost:8123"),
    ],
)
def test_run_prints_the_urls_of_the_server_it_starts(run_command, monkeypatch, base_domain, port, expected):
    """`portico run --port N --demo`: every printed URL is on port N (the demo's lines are built
    the way create_demo builds them)."""
    import app.cli as cli
    from tenants.addresses import practice_url

    monkeypatch.setattr(cli, "create_demo", lambda: [f"owner  {practice_url('demo', '')}  owner@example.com"])
    output, served = run_command("--port", str(port), "--demo", base_domain=base_domain)
    assert f"owner  http://demo.{expected}  owner@example.com" in output
    assert f"Portico is running at http://{expected}/" in output
    assert served == [{"host": "127.0.0.1", "port": port, "threaded": True, "use_reloader": False}]
    if base_domain and base_domain != expected:
        assert f"PORTICO_BASE_DOMAIN is {base_domain}, but the server listens on port {port}" in output


def test_run_leaves_a_real_domain_alone(run_command):
    output, _ = run_command("--port", "8000", base_domain="portal.example.com")
    assert "Portico is running at https://portal.example.com/" in output
