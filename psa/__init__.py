"""PSA: onboarding and implementation project tracking.

create_app() builds the Flask application: configuration, extensions, blueprints, CLI, error pages.
"""

from __future__ import annotations

import logging

from flask import Flask

from psa.config import DEFAULTS, ROOT, ConfigError, from_environment


def create_app(config: dict | None = None) -> Flask:
    """Build the application; `config` overrides what the environment says (tests pass it)."""
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder="static",
        instance_path=str(ROOT / "instance"),
    )
    app.config.update(DEFAULTS)
    app.config.update(from_environment(ROOT / "instance"))
    if config:
        app.config.update(config)
    if not app.config.get("SECRET_KEY"):
        if app.debug or app.testing:
            app.config["SECRET_KEY"] = "psa-development-only-secret"
        else:
            raise ConfigError("SECRET_KEY must be set (export SECRET_KEY=...; see README, Configuration).")
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///"):
        (ROOT / "instance").mkdir(exist_ok=True)

    _init_extensions(app)
    _register_blueprints(app)
    _connect_features()

    from psa.core.errors import register_error_handlers
    from psa.core.input import register_input_check
    from psa.core.security import register_security_headers

    register_error_handlers(app)
    register_input_check(app)
    register_security_headers(app)
    if app.config.get("PROXY_COUNT"):
        from werkzeug.middleware.proxy_fix import ProxyFix

        count = app.config["PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count)
    _register_template_helpers(app)

    from psa.cli import register_commands

    register_commands(app)
    _start_in_process_scheduler(app)
    if not app.debug and not app.testing:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return app


def _start_in_process_scheduler(app: Flask) -> None:
    """Without Redis there is no cron process: the web process keeps cached schedules fresh itself, and runs the
    other periodic jobs (outbox retries, reminders) at their intervals."""
    from psa.core.scheduler import should_start, start_on_first_request

    if should_start(app):
        from psa.core.clock import org_zone_name
        from psa.jobs.schedule import SCHEDULE  # the outbox's retries and the reminders run here too

        start_on_first_request(app, "psa.projects.tasks.refresh_schedules_job", org_zone_name, SCHEDULE)


def _init_extensions(app: Flask) -> None:
    from psa.extensions import bootstrap, csrf, db, limiter, login_manager, migrate

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True, compare_type=True)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Sign in to see that page."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"
    csrf.init_app(app)
    bootstrap.init_app(app)
    limiter.init_app(app)

    # Every model module is imported so metadata (and Alembic) sees every table.
    import psa.core.auth  # noqa: F401  (registers the user loader)
    import psa.models  # noqa: F401

    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        from sqlalchemy import event

        with app.app_context():
            @event.listens_for(db.engine, "connect")
            def _sqlite_pragmas(dbapi_connection, _record):
                cursor = dbapi_connection.cursor()
                cursor.execute("PRAGMA foreign_keys=ON")
                cursor.execute("PRAGMA busy_timeout=5000")
                cursor.close()


def _connect_features() -> None:
    """Hand core and features what they may not import, so imports run one way (tests/core/test_imports.py):
    psa/core imports no feature, and a feature imports only those below it (timesheets > projects > admin).
    - core gets the organisation's time zone (clock), calendar (working days) and sign-ins (the loaders of users
      and of portal contacts), and the wording of audit events (psa.activity, above every feature);
    - admin gets the projects' schedule refresh, run when the calendar or a schedule setting changes;
    - projects gets the burn figure (minutes logged per project) from timesheets."""
    from flask import has_app_context

    from psa.activity.text import describe as describe_events
    from psa.admin import services as admin
    from psa.auth.services import session_user
    from psa.core import audit, auth, calendar, clock, events
    from psa.portal.services import contact_session
    from psa.projects import services as projects
    from psa.timesheets.burn import burned_minutes_by_project
    from psa.webhooks.services import publish as publish_webhooks

    clock.set_org_zone_source(lambda: admin.get_settings().timezone if has_app_context() else None)
    calendar.set_calendar_source(admin.organisation_calendar)
    auth.set_session_loader(session_user)
    auth.set_session_loader(contact_session, kind="contact")
    audit.set_event_describer(describe_events)
    admin.set_schedule_refresher(projects.refresh_open_schedules)
    projects.set_burn_source(burned_minutes_by_project)
    events.subscribe(publish_webhooks)  # domain events become outgoing webhook deliveries


def _register_blueprints(app: Flask) -> None:
    from psa.admin import bp as admin_bp
    from psa.admin.routes import branding as branding_bp
    from psa.api.tokens import tokens_bp
    from psa.auth import bp as auth_bp
    from psa.core.routes import bp as core_bp
    from psa.customers import bp as customers_bp
    from psa.dashboard import bp as dashboard_bp
    from psa.escalations import bp as escalations_bp
    from psa.portal import bp as portal_bp
    from psa.project_templates import bp as templates_bp
    from psa.projects import bp as projects_bp
    from psa.reports import bp as reports_bp
    from psa.timesheets import bp as timesheets_bp
    from psa.webhooks import bp as webhooks_bp

    for blueprint in (core_bp, branding_bp, auth_bp, dashboard_bp, admin_bp, templates_bp, projects_bp,
                      timesheets_bp, portal_bp, escalations_bp, reports_bp, customers_bp, tokens_bp, webhooks_bp):
        app.register_blueprint(blueprint)
    # the JSON API: bearer tokens, never a session form, so no CSRF token (psa.api.core)
    from psa.api import bp as api_bp
    from psa.extensions import csrf

    csrf.exempt(api_bp)
    app.register_blueprint(api_bp)


def _register_template_helpers(app: Flask) -> None:
    from flask_login import current_user

    from psa.admin.services import get_settings
    from psa.auth.forms import LogoutForm
    from psa.core import clock
    from psa.core.auth import can, is_internal
    from psa.core.notifications import unread_count

    @app.context_processor
    def layout_context():
        settings = get_settings()
        return {
            "can": can,
            "settings": settings,
            # formdata=None: the layout never reads the request's body (an error page for a body over
            # the upload limit would raise its 413 again, and the client would get a bare 500)
            "logout_form": LogoutForm(formdata=None),
            "unread_notifications": unread_count(current_user) if is_internal(current_user) else 0,
        }

    @app.template_filter("localtime")
    def localtime(value, fmt: str = "%Y-%m-%d %H:%M"):
        """A UTC timestamp shown in the viewer's time zone (or the organisation's); a time of day is followed
        by the zone's abbreviation ("2026-12-03 15:30 PST"), so nobody reads it in another zone."""
        if value is None:
            return ""
        local = value.astimezone(clock.zone(clock.user_zone_name(current_user)))
        text = local.strftime(fmt)
        if any(part in fmt for part in ("%H", "%I", "%M", "%X", "%c")) and "%Z" not in fmt:
            text = f"{text} {local.tzname()}"
        return text

    @app.template_filter("money")
    def money(value) -> str:
        if value is None:
            return "—"
        return f"{get_settings().currency} {value:,.2f}"
