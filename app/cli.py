"""The `portico` command: run, serve, worker, db upgrade, practices …, keys rotate, demo."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import threading
from pathlib import Path

import click

# Only what every command needs is imported here: `portico --help` and a no-op `portico db upgrade`
# must not pay for Flask, the job queue and every feature. Each command imports what it uses.

ROOT = Path(__file__).resolve().parent.parent


def create_app(*args, **kwargs):
    """`app.create_app`, imported when a command first builds the application."""
    from app.factory import create_app as factory

    return factory(*args, **kwargs)


def create_demo() -> list[str]:
    from blueprints.demo.seed import create_demo as seed

    return seed()


def _database_urls(settings, flask_app=None):
    """The application's and the owner's URLs: the built application's, else from the settings."""
    from app.embedded_db import DatabaseUrls, database_urls
    from tenants.database import OWNER_BIND

    if flask_app is None:
        return database_urls(settings)
    app_url = flask_app.config["SQLALCHEMY_DATABASE_URI"]
    return DatabaseUrls(app_url, flask_app.config["SQLALCHEMY_BINDS"].get(OWNER_BIND, {}).get("url", app_url))


def _login_role(url: str, options: dict) -> str:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    if make_url(url).username:
        return make_url(url).username
    engine = create_engine(url, **options)
    try:
        with engine.connect() as connection:
            return connection.execute(text("SELECT session_user")).scalar_one()
    finally:
        engine.dispose()


def _upgrade_everything(settings, flask_app=None) -> bool:
    """Migrate `public` and every practice schema as the owner role, then grant the application
    role what it needs (new job tables, memberships of practices made before). Each migrated
    practice then has what it still kept in clear sealed with its key (`upgrade_tenants`).

    With nothing to do no application is built: the public migrations, the grants and the one query
    that finds the practices behind run on an owner engine of their own. `flask_app`: the application
    already built (`run`, `demo`). Prints upgraded, failed and already current apart; False when any
    practice failed."""
    if flask_app is None and settings.database_url:
        # The common case, every deploy: one connection with psycopg alone says there is nothing to do.
        from urllib.parse import unquote, urlsplit

        from app.config import libpq_url, normalize_url
        from tenants.upgrade_check import already_current

        owner_url = libpq_url(normalize_url(settings.owner_database_url or settings.database_url))
        app_role = unquote(urlsplit(settings.database_url).username or "")
        total = already_current(owner_url, app_role)
        if total is not None:
            click.echo(f"Database is up to date: {total} practice schema(s), all already current.")
            return True

    from sqlalchemy import create_engine

    from app.database_options import engine_options
    from tenants.database import owner_engine
    from tenants.migrate import upgrade_plan, upgrade_public, upgrade_tenants
    from tenants.roles import grant_app_role

    options = engine_options(settings)
    urls = _database_urls(settings, flask_app)
    engine = create_engine(urls.owner, **options)
    try:
        upgrade_public(engine)
        app_role = _login_role(urls.app, options)
        with engine.begin() as connection:
            grant_app_role(connection, app_role)
        behind, total = upgrade_plan(engine)
    finally:
        engine.dispose()
    if not behind:
        click.echo(f"Database is up to date: {total} practice schema(s), all already current.")
        return True

    counts = {"upgraded": 0, "failed": 0}
    planned = {"behind": len(behind), "total": total}

    def plan(behind_now: int, total_now: int) -> None:
        planned.update(behind=behind_now, total=total_now)
        click.echo(f"Upgrading {behind_now} of {total_now} practice schema(s).")

    def report(result) -> None:
        done = counts["upgraded"] + counts["failed"] + 1
        progress = f"  [{done}/{planned['behind']}] practice {result.practice_id} ({result.slug}):"
        if result.error:
            counts["failed"] += 1
            click.echo(f"{progress} FAILED {result.error}", err=True)
        else:
            counts["upgraded"] += 1
            sealed = ", ".join(f"{count} {name}" for name, count in result.sealed.items() if count)
            click.echo(f"{progress} {f'upgraded; sealed {sealed}' if sealed else 'upgraded'}")

    flask_app = flask_app or create_app(settings)
    with flask_app.app_context():
        upgrade_tenants(
            owner_engine(),
            jobs=settings.migration_jobs,
            report=report,
            plan=plan,
            connect_args=options.get("connect_args"),
        )
    current = planned["total"] - planned["behind"]
    summary = (
        f"{counts['upgraded']} upgraded, {counts['failed']} failed, {current} already current "
        f"(of {planned['total']} practice schema(s))"
    )
    if counts["failed"]:
        click.echo(f"Database NOT up to date: {summary}. Fix the failures above, then run again.", err=True)
        return False
    click.echo(f"Database is up to date: {summary}.")
    return True


class _Portico(click.Group):
    """Settings are checked before any command runs; a bad one is one line naming it, no traceback."""

    def invoke(self, ctx):
        from app.config import Settings, SettingsError

        try:
            Settings.from_env()
            return super().invoke(ctx)
        except SettingsError as error:
            raise click.ClickException(str(error)) from None


@click.group(cls=_Portico)
def main():
    """Portico: a client portal for therapy and health practices."""


@main.command()
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--demo/--no-demo", default=False, help="Create the demo practice first.")
def run(port: int, host: str, demo: bool):
    """Start everything locally: database, migrations, a job worker and the dev server."""
    from app.config import Settings
    from app.embedded_db import start_embedded

    wanted = (os.environ.get("PORTICO_BASE_DOMAIN") or "").strip()
    served = _served_base_domain(wanted, port)
    if wanted and served != wanted:
        click.echo(f"PORTICO_BASE_DOMAIN is {wanted}, but the server listens on port {port}: using {served}.")
    os.environ["PORTICO_BASE_DOMAIN"] = served  # links, emails and the demo's printed URLs use it
    settings = Settings.from_env()
    if not settings.database_url:
        # Both roles' URLs go into the environment, for the worker process as well.
        urls = start_embedded(settings.ensure_data_dir())
        os.environ.update(DATABASE_URL=urls.app, PORTICO_OWNER_DATABASE_URL=urls.owner)
        settings = Settings.from_env()
    if not settings.master_key:
        # Development only: a key generated into the data directory (serve and worker require one).
        os.environ["PORTICO_MASTER_KEY"] = settings.resolved_master_key()
        settings = Settings.from_env()
    flask_app = create_app(settings)
    if not _upgrade_everything(settings, flask_app):
        click.echo("Some practice schemas failed to upgrade; see above.", err=True)
    if demo:
        with flask_app.app_context():
            lines = create_demo()
        click.echo("Demo logins:")
        for line in lines:
            click.echo("  " + line)
    worker = WorkerSupervisor([sys.executable, "-m", "app.cli", "worker"], env=os.environ.copy())
    worker.start()
    # Stop cleanly on SIGTERM too (not only Ctrl+C): the worker and the embedded database go with us.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    click.echo(f"Portico is running at {settings.scheme}://{settings.base_domain}/ (Ctrl+C to stop)")
    try:
        flask_app.run(host=host, port=port, threaded=True, use_reloader=False)
    finally:
        worker.stop()


def _served_base_domain(wanted: str, port: int) -> str:
    """The apex of the dev server on `port`: PORTICO_BASE_DOMAIN (`wanted`), with that port when it
    names localhost (nothing else answers there); a real domain is left alone (a proxy serves it)."""
    if not wanted:
        return f"localhost:{port}"
    host = wanted.split(":", 1)[0].lower()
    if host == "localhost" or host.endswith(".localhost"):
        return f"{host}:{port}"
    return wanted


class WorkerSupervisor:
    """Keeps one job worker process running beside the dev server: one that dies is started again."""

    def __init__(self, command: list[str], env: dict[str, str], restart_delay: float = 2.0):
        self.command, self.env, self.restart_delay = command, env, restart_delay
        self.process: subprocess.Popen | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._keep_running, name="worker-supervisor", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _keep_running(self) -> None:
        while True:
            with self._lock:
                if self._stopping.is_set():
                    return
                self.process = subprocess.Popen(self.command, env=self.env)
            click.echo(f"Job worker started (pid {self.process.pid}).")
            code = self.process.wait()
            if self._stopping.wait(self.restart_delay):
                return
            click.echo(f"Job worker exited (code {code}); starting it again.", err=True)

    def stop(self) -> None:
        with self._lock:
            self._stopping.set()
            process = self.process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


def _require_master_key() -> None:
    """serve and worker refuse to start without a usable PORTICO_MASTER_KEY."""
    from app.config import Settings
    from tenants.encryption import MasterKeyError, parse_master_key

    try:
        parse_master_key(Settings.from_env().master_key)
    except MasterKeyError as error:
        _fail(f"Refusing to start: {error}")


@main.command()
@click.option("--bind", default=None, help="Address to listen on (default from deploy/gunicorn.conf.py).")
def serve(bind: str | None):
    """Production web server: gunicorn with deploy/gunicorn.conf.py."""
    _require_master_key()
    args = [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "deploy" / "gunicorn.conf.py")]
    if bind:
        args += ["--bind", bind]
    os.execv(sys.executable, args + ["app.wsgi:app"])


@main.command()
@click.option("--concurrency", default=2, show_default=True, type=int)
def worker(concurrency: int):
    """Run the job queue (emails, reminders) until stopped.

    It connects to PORTICO_WORKER_DATABASE_URL when set (it waits for jobs with LISTEN/NOTIFY, which
    needs a direct connection to PostgreSQL, not one through PgBouncer), else to DATABASE_URL."""
    from app import jobs
    from app.config import Settings

    _require_master_key()
    settings = Settings.from_env()
    if settings.pgbouncer and not settings.worker_database_url:
        _fail(
            "Refusing to start: PORTICO_PGBOUNCER is set, and the worker needs a direct connection "
            "(LISTEN/NOTIFY): set PORTICO_WORKER_DATABASE_URL to PostgreSQL itself."
        )
    flask_app = create_app(settings, db_url=settings.worker_database_url)
    jobs.run_worker(flask_app, wait=True, concurrency=concurrency)


@main.group("db")
def db_commands():
    """Schema changes."""


@db_commands.command("upgrade")
def db_upgrade():
    """Upgrade the public schema, then every practice schema that is behind."""
    from app.config import Settings

    if not _upgrade_everything(Settings.from_env()):
        sys.exit(1)


@main.command()
def demo():
    """Create the demo practice and print its logins.

    The URLs are built from PORTICO_BASE_DOMAIN (default localhost:5000): set it to the address of
    the server that is running, or use `portico run --demo`, which prints that server's own URLs.
    """
    flask_app = create_app()
    _upgrade_everything(flask_app.config["PORTICO"], flask_app)
    with flask_app.app_context():
        for line in create_demo():
            click.echo(line)


@main.group()
def practices():
    """Operator commands for practices."""


def _fail(message: str):
    click.echo(message, err=True)
    sys.exit(2)


@practices.command("create")
@click.option("--name", required=True, help="Practice name.")
@click.option("--subdomain", required=True, help="Portal address (the subdomain).")
@click.option("--owner-email", required=True)
@click.option("--owner-name", required=True)
@click.option("--owner-password", default=None, help="Generated and printed when omitted.")
def practices_create(name, subdomain, owner_email, owner_name, owner_password):
    """Create a practice and its owner."""
    from app.refusals import Refusal
    from blueprints.signup.service import sign_up
    from tenants.addresses import practice_url

    password = owner_password or secrets.token_urlsafe(12)
    with create_app().app_context():
        try:
            practice, _ = sign_up(name, owner_name, owner_email, password, subdomain, hand_off=False)
        except Refusal as error:
            _fail(str(error))
        click.echo(f"Created practice {practice.id} at {practice_url(practice.slug)}")
        click.echo(f"owner  {practice_url(practice.slug)}  {owner_email}  {password}")


@practices.command("list")
def practices_list():
    """List practices: id, address, status, schema revision, name."""
    from tenants.registry import list_practices

    with create_app().app_context():
        for p in list_practices():
            click.echo(f"{p.id}\t{p.slug}\t{p.status}\t{p.schema_revision}\t{p.name}")


@practices.command("rename")
@click.argument("practice")
@click.argument("new_subdomain")
def practices_rename(practice, new_subdomain):
    """Give PRACTICE (id or address) a new address; the old one keeps redirecting."""
    from tenants.registry import RegistryError, rename_practice

    with create_app().app_context():
        try:
            old, new = rename_practice(practice, new_subdomain)
        except RegistryError as error:
            _fail(str(error))
        click.echo(f"Renamed {old} -> {new}; {old} now redirects to {new}.")


def _set_status(practice: str, status: str, verb: str):
    from tenants.registry import RegistryError, set_status

    with create_app().app_context():
        try:
            record = set_status(practice, status)
        except RegistryError as error:
            _fail(str(error))
        click.echo(f"{verb} practice {record.id} ({record.slug}).")


@practices.command("suspend")
@click.argument("practice")
def practices_suspend(practice):
    """Take PRACTICE offline (its pages answer 404); its data is kept."""
    _set_status(practice, "suspended", "Suspended")


@practices.command("resume")
@click.argument("practice")
def practices_resume(practice):
    """Bring a suspended PRACTICE back online."""
    from tenants.registry import RegistryError, find_practice

    with create_app().app_context():
        try:
            deleted = find_practice(practice).status == "deleted"
        except RegistryError as error:
            _fail(str(error))
    if deleted:
        _fail("A deleted practice cannot be brought back: its encryption keys were destroyed.")
    _set_status(practice, "active", "Resumed")


@practices.command("delete")
@click.argument("practice")
@click.option("--yes", is_flag=True, help="Confirm.")
def practices_delete(practice, yes):
    """Delete PRACTICE: offline at once (address kept reserved), its encryption keys destroyed and
    its stored files removed, so nothing encrypted for it can be read again, backups included.
    Irreversible: export it first if its data may be wanted. The schema stays until purged."""
    if not yes:
        _fail("Add --yes to confirm deleting the practice. This destroys its encryption keys and files.")
    from blueprints.documents.storage import delete_practice_objects
    from tenants.encryption import destroy_practice_keys
    from tenants.registry import find_practice

    flask_app = create_app()
    _set_status(practice, "deleted", "Deleted")
    with flask_app.app_context():
        record = find_practice(practice)
        keys_destroyed = destroy_practice_keys(record.id)
        try:
            files_removed = delete_practice_objects(record.id)
        except Exception as error:  # storage down: the keys are gone already; removal can be re-run
            _fail(f"Keys destroyed, but its stored files could not be removed ({error}); run this again.")
    click.echo(
        f"Destroyed {keys_destroyed} encryption key version(s) and removed {files_removed} stored file(s)."
    )


def _export_passphrase(passphrase_file: str | None) -> str:
    from app.archive import MIN_PASSPHRASE

    if passphrase_file:
        with open(passphrase_file, encoding="utf-8") as handle:
            passphrase = handle.readline().rstrip("\r\n")
    else:
        passphrase = click.prompt(
            "Passphrase for the export (needed to open it)", hide_input=True, confirmation_prompt=True
        )
    if len(passphrase) < MIN_PASSPHRASE:
        _fail(f"The passphrase must be at least {MIN_PASSPHRASE} characters long.")
    return passphrase


def _dump_schema(flask_app, record, into) -> None:
    """pg_dump -n of the practice's schema, as the practice's role, into the file object `into`."""
    from app.embedded_db import libpq_url, pg_dump_binary

    url = libpq_url(flask_app.config["SQLALCHEMY_DATABASE_URI"])
    schema = f"tenant_{record.id}"
    # As the practice's role: the application role reads nothing of it by itself.
    command = [pg_dump_binary(), "--no-owner", "--role", schema, "-n", schema, url]
    if subprocess.run(command, stdout=into, check=False).returncode != 0:
        _fail("pg_dump failed; see its message above.")
    into.seek(0)


@practices.command("export")
@click.argument("practice")
@click.option("--output", "-o", default=None, help="File to write (default: <slug>-export.tar.age).")
@click.option(
    "--passphrase-file",
    default=None,
    type=click.Path(exists=True, dir_okay=False),
    help="Read the passphrase from the first line of this file (otherwise it is asked for).",
)
def practices_export(practice, output, passphrase_file):
    """Export PRACTICE: its schema (pg_dump -n) and its files, decrypted, in a tar archive encrypted
    with a passphrase (age format: open it with `age -d FILE > export.tar`)."""
    import tarfile
    import tempfile

    from app.archive import AgeWriter
    from blueprints.documents.export import add_practice_files
    from tenants.database import practice_scope
    from tenants.registry import RegistryError, find_practice, get_practice

    _require_master_key()
    flask_app = create_app()
    with flask_app.app_context():
        try:
            record = get_practice(find_practice(practice).id)
        except RegistryError as error:
            _fail(str(error))
        passphrase = _export_passphrase(passphrase_file)
        target = Path(output or f"{record.slug}-export.tar.age")
        try:
            # tempfile.TemporaryFile has no name on disk: the clear dump is never a file anyone opens.
            with tempfile.TemporaryFile() as dump, open(target, "xb") as sink:
                target.chmod(0o600)
                _dump_schema(flask_app, record, dump)
                with AgeWriter(sink, passphrase) as encrypted:
                    with tarfile.open(fileobj=encrypted, mode="w|") as archive:
                        info = archive.gettarinfo(fileobj=dump, arcname="database.sql")
                        info.mode, info.uid, info.gid, info.uname, info.gname = 0o600, 0, 0, "", ""
                        archive.addfile(info, dump)
                        with practice_scope(record):
                            count, problems = add_practice_files(archive)
        except FileExistsError:
            _fail(f"{target} already exists; choose another --output.")
        except BaseException:
            target.unlink(missing_ok=True)  # never leave a half-written export behind
            raise
    for problem in problems:
        click.echo(f"  not exported: {problem}", err=True)
    click.echo(
        f"Wrote {target} (the database and {count} file(s); open it with: age -d {target} > export.tar)"
    )


@main.group()
def keys():
    """Encryption keys (PORTICO_MASTER_KEY wraps one key per practice)."""


@keys.command("rotate")
@click.argument("practice")
def keys_rotate(practice):
    """Give PRACTICE a new key version and re-wrap its data keys under it (data is not re-encrypted)."""
    from tenants.database import db, practice_scope
    from tenants.encryption import MasterKeyError, SealError, rotate_practice_key
    from tenants.registry import RegistryError, find_practice, get_practice
    _require_master_key()
    with create_app().app_context():
        try:
            record = get_practice(find_practice(practice).id)
        except RegistryError as error:
            _fail(str(error))
        with practice_scope(record):
            try:
                version, count = rotate_practice_key()
            except (SealError, MasterKeyError) as error:
                _fail(f"Nothing changed: {error}")
            db.session.commit()
    click.echo(
        f"Practice {record.id} ({record.slug}) now uses key version {version}; {count} value(s) re-wrapped."
    )


@main.group()
def notify():
    """Automated client messages."""


@notify.command("preview")
@click.argument("event")
@click.option(
    "--practice", "practice_name", default="demo", show_default=True, help="Practice (subdomain or id)."
)
def notify_preview(event, practice_name):
    """Print EVENT's message (a kind such as `reminder`, or an event such as `booked_by_client`) as the
    practice's demo client would read it, with the practice's own templates and settings."""
    from blueprints.automations.compose import preview
    from blueprints.notifications.automated import EVENTS, KINDS
    from tenants.database import db, practice_scope
    from tenants.registry import RegistryError, find_practice, get_practice

    kind = EVENTS[event].kind if event in EVENTS else event
    if kind not in KINDS:
        _fail(f"Unknown event {event!r}. Events: {', '.join([*KINDS, *EVENTS])}.")
    with create_app().app_context():
        try:
            record = get_practice(find_practice(practice_name).id)
        except RegistryError as error:
            _fail(f"{error} (create the demo practice with `portico demo`, or name one with --practice)")
        with practice_scope(record):
            subject, body = preview(kind)
            db.session.rollback()
    click.echo(f"Subject: {subject}\n\n{body}")


if __name__ == "__main__":
    main()
