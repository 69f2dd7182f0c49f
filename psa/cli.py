"""The `psa` command: Flask's run and shell, Flask-Migrate's db, and PSA's own commands."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext

from psa import create_app
from psa.config import ROOT, ConfigError

#: Where `make run` keeps the generated secret key; the command reads it when SECRET_KEY is not exported.
SECRET_KEY_FILE = ROOT / "instance" / "secret_key"


def _create_app():
    """The app for a `psa` command: SECRET_KEY from the environment, else from instance/secret_key as `make run`
    writes it; a configuration error is one line on stderr and exit status 1, never a traceback."""
    overrides = {}
    if not os.environ.get("SECRET_KEY") and SECRET_KEY_FILE.is_file():
        overrides["SECRET_KEY"] = SECRET_KEY_FILE.read_text().strip() or None
    try:
        return create_app(overrides or None)
    except ConfigError as exc:
        raise click.ClickException(f"configuration: {exc}") from None


cli = FlaskGroup(create_app=_create_app, help="PSA: onboarding and implementation project tracker.")


@click.command("create-user")
@click.option("--email", required=True, help="Sign-in e-mail.")
@click.option("--role", required=True, type=click.Choice(["admin", "leader", "manager", "consultant"]))
@click.option("--name", default=None, help="Full name (defaults to the part of the e-mail before @).")
@click.option("--password", default=None, help="Prompted for (hidden, twice) when not given.")
@with_appcontext
def create_user_command(email, role, name, password):
    """Create an internal user."""
    from psa.auth.services import create_user
    from psa.core.errors import ValidationError
    from psa.extensions import db

    if password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user = create_user(None, email=email, name=name or email.split("@")[0], role=role, password=password)
    except ValidationError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    click.echo(f"Created {user.role} {user.email} (id {user.id}).")


@click.command("create-token")
@click.option("--email", required=True, help="The e-mail of an active internal user (the token acts as them).")
@click.option("--name", default="CLI", show_default=True, help="What uses the token, e.g. 'CRM sync'.")
@click.option("--expires", default=None, metavar="YYYY-MM-DD",
              help="The last day it works (the end of that day in the user's time zone); default: until revoked.")
@with_appcontext
def create_token_command(email, name, expires):
    """Create an API token of an internal user and print its secret, this once (it is stored hashed)."""
    from datetime import date

    import sqlalchemy as sa

    from psa.accounts.models import Contact
    from psa.api.services import create_token
    from psa.api.tokens import expiry_at_end_of
    from psa.auth.models import ROLES, User
    from psa.core.clock import user_today, user_zone_name
    from psa.core.emails import normalise_email
    from psa.core.errors import ValidationError
    from psa.core.validation import DATE_FORMAT_MESSAGE, DATE_WINDOW_MESSAGE, in_window
    from psa.extensions import db

    user = db.session.scalar(sa.select(User).where(User.email == normalise_email(email)))
    if user is None:
        if db.session.scalar(sa.select(Contact.id).where(Contact.email == normalise_email(email)).limit(1)):
            raise click.ClickException(f"{email} is a customer contact; tokens belong to internal users only.")
        raise click.ClickException(f"No user has the e-mail {email}.")
    if user.role not in ROLES:
        raise click.ClickException(f"{user.email} is not an internal user; tokens belong to internal users only.")
    if not user.is_active_user:
        raise click.ClickException(f"{user.email} is deactivated; reactivate them first.")
    last_day = None
    if expires is not None:
        try:
            last_day = date.fromisoformat(expires.strip()) if len(expires.strip()) == 10 else None
        except ValueError:
            last_day = None
        if last_day is None:
            raise click.ClickException(f"--expires: {DATE_FORMAT_MESSAGE}")
        if not in_window(last_day):
            raise click.ClickException(f"--expires: {DATE_WINDOW_MESSAGE}")
        if last_day <= user_today(user):
            raise click.ClickException("--expires: choose a date after today (the token works until the end of "
                                       "that day).")
    try:
        token, secret = create_token(user, user, name, expires_at=expiry_at_end_of(last_day, user))
    except ValidationError as exc:
        db.session.rollback()
        raise click.ClickException("; ".join(exc.errors.values())) from exc
    until = f"until the end of {last_day.isoformat()} ({user_zone_name(user)})" if last_day else "until revoked"
    click.echo(f"Created the token “{token.name}” of {user.email} ({user.role}), valid {until}.")
    click.echo("Copy it now: it is shown this once (only its hash is stored).")
    click.echo(secret)


@click.command("demo")
@click.option("--scale", type=click.Choice(["small", "large"]), default="small")
@click.option("--if-empty", is_flag=True, help="Do nothing when the database already has users.")
@with_appcontext
def demo_command(scale, if_empty):
    """Load demo data and print the demo credentials."""
    from psa.demo import (
        database_is_empty,
        demo_contact_sign_ins,
        demo_sign_ins,
        load_demo,
        print_contact_sign_ins,
    )

    if if_empty and not database_is_empty():
        sign_ins = demo_sign_ins()
        if not sign_ins:
            click.echo("The database has data already; demo not loaded.")
            return
        click.echo("The demo is loaded. Sign in at /login with:")
        for email, role, password in sign_ins:
            click.echo(f"  {role:<11} {email:<28} {password}")
        contacts = demo_contact_sign_ins()
        if contacts:
            print_contact_sign_ins(click.echo, contacts)
        return
    if not database_is_empty():
        raise click.ClickException("The database has data already; the demo loads only into an empty one.")
    started = time.perf_counter()
    if scale == "large":
        click.echo("Loading the small demo, then the large history (phase timings follow):")
    credentials = load_demo(scale, log=click.echo)
    if scale == "large":
        from psa.demo_large import row_counts

        click.echo(f"Loaded in {time.perf_counter() - started:.1f} s. Rows:")
        for name, count in row_counts().items():
            click.echo(f"  {name:<22} {count:>10,}")
    click.echo("Demo loaded. Sign in at /login with:")
    for email, role, password in credentials:
        click.echo(f"  {role:<11} {email:<28} {password}")
    print_contact_sign_ins(click.echo, demo_contact_sign_ins())


@click.command("worker")
@click.option("--cron/--no-cron", default=True, help="Also run the periodic-job scheduler (one per installation).")
@click.option("--burst", is_flag=True, help="Run what is queued, then exit.")
@with_appcontext
def worker_command(cron, burst):
    """Run the RQ worker (with its scheduler for delayed jobs) and the periodic jobs.

    Each job runs in its own app context and session (AppWorker), never in this command's."""
    from rq import Queue

    from psa.core.queue import get_redis, redis_status
    from psa.jobs.worker import AppWorker

    ok, message = redis_status()
    if not ok:
        raise click.ClickException(f"Redis at REDIS_URL is {message}; the worker needs it.")
    connection = get_redis()
    cron_process = None
    if cron and not burst:
        cron_process = subprocess.Popen([sys.executable, "-m", "psa.cli", "cron"])
    try:
        queue = Queue(current_app.config["RQ_QUEUE"], connection=connection)
        worker = AppWorker(current_app._get_current_object(), [queue], connection=connection)
        worker.work(with_scheduler=not burst, burst=burst)
    finally:
        if cron_process is not None:
            cron_process.terminate()


@click.command("cron")
@with_appcontext
def cron_command():
    """Enqueue the periodic jobs of psa.jobs.schedule at their intervals (started by `psa worker`).

    Safe to start twice by mistake: each job is enqueued once per slot of its interval by whichever scheduler
    claims the slot first (psa.jobs.cron); the scheduler's beat is shown on /admin/jobs."""
    import signal

    from psa.core.queue import get_redis
    from psa.jobs.cron import PeriodicScheduler
    from psa.jobs.schedule import SCHEDULE

    scheduler = PeriodicScheduler(get_redis(), current_app.config["RQ_QUEUE"], SCHEDULE)
    signal.signal(signal.SIGTERM, lambda *_: scheduler.stop())
    scheduler.run()


@click.command("escalate")
@with_appcontext
def escalate_command():
    """Sweep the escalations of every open project now (as the hourly job does) and say what it did."""
    from psa.core.mail import dispatch_outbox
    from psa.escalations.services import sweep_escalations
    from psa.extensions import db

    result = sweep_escalations()
    db.session.commit()
    if result.emails:
        dispatch_outbox()
    click.echo(f"Escalations: {result}.")


@click.command("ttv")
@with_appcontext
def ttv_command():
    """Recompute every project's time to value and write today's snapshot now (as the nightly job does, even
    when today's exists: its rows are updated in place); print each cohort's figures."""
    from psa.core.clock import org_today
    from psa.extensions import db
    from psa.projects.ttv import record_time_to_value, take_ttv_snapshot

    today = org_today()
    changed = record_time_to_value()
    cohorts = take_ttv_snapshot(today)
    db.session.commit()
    click.echo(f"Time to value: {changed} project{'s' if changed != 1 else ''} changed; snapshot of "
               f"{today.isoformat()}: {len(cohorts)} cohort{'s' if len(cohorts) != 1 else ''} written.")
    for c in cohorts:
        share = "no target" if c.within_target_share is None else f"within target {c.within_target_share * 100:.1f} %"
        click.echo(f"  {c.template_name or '(blank projects)'} · {c.segment} · {c.kickoff_quarter}: "
                   f"{c.project_count} projects, median {c.median_days}, p75 {c.p75_days}, mean {c.mean_days} days, "
                   f"{share}")


def register_commands(app) -> None:
    for command in (create_user_command, create_token_command, demo_command, worker_command, cron_command,
                    escalate_command, ttv_command):
        app.cli.add_command(command)


if __name__ == "__main__":
    cli()
