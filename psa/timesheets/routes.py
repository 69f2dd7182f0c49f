"""Timesheet pages: the weekly grid (save, submit), one week read-only for its approvers, and the
approval queue (approve, reject, reopen).

Every view: load (404), authorize (403), call one service, respond; the request commits once, at the end.
A grid that breaks a rule comes back as typed with each message at its input (HTTP 400) and nothing
saved; an illegal change of state answers 409 (the service's Conflict propagates) and changes nothing.
"""

from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa
from flask import Response, abort, flash, redirect, render_template, request, stream_with_context, url_for
from flask_login import current_user
from sqlalchemy.orm import aliased, contains_eager

from psa.accounts.models import Account
from psa.auth.models import ROLE_LABELS, User
from psa.core import clock
from psa.core.auth import can, permission_required
from psa.core.errors import ValidationError, apply_errors
from psa.core.forms import ConfirmForm, choices
from psa.core.validation import parse_iso_date
from psa.core.views import save_or_errors
from psa.extensions import db
from psa.projects.models import OPEN_PROJECT_STATUSES, Milestone, Project, Task
from psa.timesheets import bp, services
from psa.timesheets.durations import format_minutes
from psa.timesheets.exports import (
    ExportFilters,
    export_csv,
    export_summary,
    exports_everyone,
    filter_choices,
    shows_rates,
)
from psa.timesheets.forms import BLANK_LINES, RejectForm, ReopenForm, WeekGrid
from psa.timesheets.import_forms import ExportForm, ImportForm, ProjectRateForm, RecalculateForm, UserRateForm
from psa.timesheets.imports import MAX_IMPORT_BYTES, import_time_entries
from psa.timesheets.models import (
    TIME_OFF_LABELS,
    TIMESHEET_STATE_LABELS,
    ProjectRate,
    TimeEntry,
    TimeOff,
    Timesheet,
    UserRate,
)
from psa.timesheets.services import (
    lock_date,
    recalculate_rates,
    remove_project_rate,
    set_project_rate,
    set_user_rate,
)

STATE_BADGES = {"draft": "text-bg-secondary", "submitted": "text-bg-info", "approved": "text-bg-success",
                "rejected": "text-bg-danger"}
#: How many recently approved weeks leaders and admins see under the queue.
RECENTLY_APPROVED = 20


def hm(minutes: int | None) -> str:
    """Minutes as h:mm, 0:00 included (totals)."""
    return format_minutes(minutes) or "0:00"


# --- the week --------------------------------------------------------------------------------------


def _parse_day(value: str | None) -> date | None:
    """A YYYY-MM-DD date inside the window people may type (SPEC §3), else None."""
    return parse_iso_date(value)


def _week_from_args(user: User) -> date:
    """The Monday of ?week= (any day of the week), else of today in the user's time zone."""
    raw = request.args.get("week")
    day = _parse_day(raw)
    if raw and day is None:
        flash(f"“{raw[:40]}” is not a date from 2000-01-01 to 2099-12-31 (YYYY-MM-DD); this week is shown.",
              "warning")
    return services.week_start(day or clock.user_today(user))


def _posted_week() -> date:
    """The Monday of the week a POST is about (?week= or the form's week field); 400 if it is not a date."""
    day = _parse_day(request.args.get("week") or request.form.get("week"))
    if day is None:
        abort(400)
    return services.week_start(day)


def _week_label(monday: date) -> str:
    """Monday to Sunday in the app's one date format (ISO, YYYY-MM-DD): "2026-10-05 – 2026-10-11"."""
    return f"{monday.isoformat()} – {(monday + timedelta(days=6)).isoformat()}"


# --- the grid: what it offers and shows --------------------------------------------------------------


def _week_entries(user: User, monday: date) -> tuple[list[TimeEntry], list[TimeOff]]:
    last = monday + timedelta(days=6)
    entries = db.session.scalars(sa.select(TimeEntry).where(
        TimeEntry.user_id == user.id, TimeEntry.entry_date >= monday, TimeEntry.entry_date <= last)
        .order_by(TimeEntry.entry_date, TimeEntry.id)).all()
    offs = db.session.scalars(sa.select(TimeOff).where(
        TimeOff.user_id == user.id, TimeOff.entry_date >= monday, TimeOff.entry_date <= last)).all()
    return entries, offs


def _last_week_rows(user: User, monday: date) -> list[tuple]:
    """(project, task, billable, place) of the previous week's lines, for "Copy last week's rows"; the place is
    the line's row_position there (-1 for a line saved before lines kept their order)."""
    previous = monday - timedelta(days=7)
    return db.session.execute(
        sa.select(TimeEntry.project_id, TimeEntry.task_id, TimeEntry.billable,
                  sa.func.coalesce(sa.func.min(TimeEntry.row_position), -1))
        .where(TimeEntry.user_id == user.id, TimeEntry.entry_date >= previous, TimeEntry.entry_date < monday)
        .group_by(TimeEntry.project_id, TimeEntry.task_id, TimeEntry.billable)).all()


def _line_order(entries: list[TimeEntry], copied: list[tuple], rank: dict[int, int]):
    """How the grid orders its lines, (project, task, billable) keys: the order the person left them in
    (row_position), this week's lines first, then the lines copied from the week before in that week's order.
    Lines saved before lines kept their order (row_position NULL, as the demo's) come first among their
    week's, by account, project, task and billable as they always were; so does a tie."""
    places: dict[tuple, int] = {}
    for entry in entries:
        key = (entry.project_id, entry.task_id, entry.billable)
        place = -1 if entry.row_position is None else entry.row_position
        places[key] = min(places.get(key, place), place)
    copied_places = {(p, t, b): place for p, t, b, place in copied}

    def order(key: tuple):
        week, place = (0, places[key]) if key in places else (1, copied_places.get(key, -1))
        return week, place, rank.get(key[0], len(rank)), key[1] or 0, not key[2]

    return order


def _projects(ids: set[int], member_ids: set[int]) -> dict[int, dict]:
    """The projects the grid offers or shows, "Account – Project", in that order (one query)."""
    rows = db.session.execute(
        sa.select(Project.id, Project.name, Project.billing_model, Account.name.label("account"))
        .join(Account, Account.id == Project.account_id).where(Project.id.in_(ids))
        .order_by(Account.name, Project.name, Project.id)).all()
    return {r.id: {"id": r.id, "label": f"{r.account} – {r.name}", "billable": r.billing_model != "non_billable",
                   "offered": r.id in member_ids} for r in rows}


def _tasks(member_ids: set[int], shown_ids: set[int]) -> list:
    """Open tasks of the user's projects, and the tasks the week already names (one query)."""
    return db.session.execute(
        sa.select(Task.id, Task.name, Task.project_id, Task.status)
        .join(Milestone, Milestone.id == Task.milestone_id)
        .where(sa.or_(sa.and_(Task.project_id.in_(member_ids), Task.status != "done"), Task.id.in_(shown_ids)))
        .order_by(Task.project_id, Milestone.position, Task.position, Task.id)).all()


def _render_grid(user: User, monday: date, *, grid: WeekGrid | None = None, copy_last: bool = False,
                 viewer_only: bool = False, status: int = 200):
    """The weekly grid: the saved week (or `grid` as posted), its options, totals and state.
    `viewer_only` shows someone else's week, read-only, to its approver."""
    sheet = services.get_timesheet(user, monday)
    read_only = viewer_only or (sheet is not None and not sheet.is_editable)
    member_ids = services.member_project_ids(user)
    copied: list[tuple] = []
    if grid is None:
        entries, offs = _week_entries(user, monday)
        if copy_last and not read_only:
            copied = _last_week_rows(user, monday)
            if not copied:
                flash("The week before has no rows to copy.", "info")
        shown = {e.project_id for e in entries} | {row[0] for row in copied}
    else:
        shown = {line.project_id for line in grid.lines if line.project_id}
    projects = _projects(member_ids | shown, member_ids)
    order = list(projects)
    if grid is None:
        rank = {project_id: i for i, project_id in enumerate(order)}
        # blank lines to add to (none on a read-only week); billable unless every project offered is not
        grid = WeekGrid.from_saved(monday, entries, offs, copied=[row[:3] for row in copied],
                                   order=_line_order(entries, copied, rank),
                                   blank_lines=0 if read_only else BLANK_LINES,
                                   blank_billable=any(p["billable"] for p in projects.values() if p["offered"]))
        if read_only:
            grid.drop_empty()
    tasks = _tasks(member_ids, {line.task_id for line in grid.lines if line.task_id})
    task_groups: dict[int, list] = {}
    for task in tasks:
        task_groups.setdefault(task.project_id, []).append(task)
    locked = services.lock_date()
    today = clock.user_today(user)
    days = [{"date": day, "locked": locked is not None and day <= locked, "today": day == today}
            for day in grid.days]
    grid.mark_fixed(lambda day: locked is not None and day <= locked)
    state = sheet.state if sheet else "draft"
    return render_template(
        "timesheets/grid.html", grid=grid, days=days, sheet=sheet, state=state, owner=user,
        read_only=read_only, viewer_only=viewer_only, all_locked=all(d["locked"] for d in days),
        lock_date=locked, projects=projects,
        offered_projects=[p for p in projects.values() if p["offered"]],
        task_groups=[(projects[pid], task_groups[pid]) for pid in order if pid in task_groups],
        task_names={t.id: t.name for t in tasks}, tasks_by_id={t.id: t for t in tasks}, off_labels=TIME_OFF_LABELS,
        state_labels=TIMESHEET_STATE_LABELS, state_badges=STATE_BADGES, hm=hm,
        week_label=_week_label(monday), this_week=services.week_start(today),
        today_label=f"{today:%a} {today.isoformat()}", today_zone=clock.user_zone_name(user),
        previous_week=monday - timedelta(days=7), next_week=monday + timedelta(days=7),
        copied=bool(copied), approver=services.approver_in_effect(user),
        can_decide=viewer_only and sheet is not None and sheet.state == "submitted"
        and services.can_approve(current_user, user),
    ), status


# --- the queue ---------------------------------------------------------------------------------------


def _queue() -> list:
    """Submitted weeks the current user may approve (services.can_approve_clause: can_approve as SQL, held to it by
    a parity test), each with the name of its owner's approver in effect (None: no approver, the PS leaders
    approve) — one query. A manager's queue holds the weeks of the people they approve; a leader's every week but
    their own; an admin's every week."""
    approver = aliased(User)
    in_effect = services.approver_in_effect_clause(User, approver)
    stmt = (sa.select(Timesheet, sa.case((in_effect, approver.name), else_=None).label("approver"))
            .join(User, User.id == Timesheet.user_id).outerjoin(approver, approver.id == User.approver_id)
            .options(contains_eager(Timesheet.user))
            .where(Timesheet.state == "submitted", services.can_approve_clause(current_user, User))
            .order_by(Timesheet.week_start, User.name, Timesheet.id))
    return db.session.execute(stmt).all()


def _recently_approved() -> list:
    approver = aliased(User)
    return db.session.execute(
        sa.select(Timesheet, approver.name.label("approver")).join(User, User.id == Timesheet.user_id)
        .outerjoin(approver, approver.id == Timesheet.decided_by_id).options(contains_eager(Timesheet.user))
        .where(Timesheet.state == "approved")
        .order_by(Timesheet.decided_at.desc(), Timesheet.id.desc()).limit(RECENTLY_APPROVED)).all()


def _week_totals(sheet_ids: list[int]) -> dict[int, dict]:
    """Per week: minutes in all, billable minutes, time off, and minutes per project — two GROUP BYs."""
    totals = {sheet_id: {"minutes": 0, "billable": 0, "off": 0, "projects": []} for sheet_id in sheet_ids}
    billable = sa.func.sum(sa.case((TimeEntry.billable.is_(True), TimeEntry.minutes), else_=0))
    rows = db.session.execute(
        sa.select(TimeEntry.timesheet_id, Project.id, Project.name, Account.name.label("account"),
                  sa.func.sum(TimeEntry.minutes).label("minutes"), billable.label("billable"))
        .join(Project, Project.id == TimeEntry.project_id).join(Account, Account.id == Project.account_id)
        .where(TimeEntry.timesheet_id.in_(sheet_ids))
        .group_by(TimeEntry.timesheet_id, Project.id, Project.name, Account.name)
        .order_by(TimeEntry.timesheet_id, Account.name, Project.name)).all()
    for row in rows:
        week = totals[row.timesheet_id]
        week["minutes"] += int(row.minutes or 0)
        week["billable"] += int(row.billable or 0)
        week["projects"].append({"label": f"{row.account} – {row.name}", "minutes": int(row.minutes or 0),
                                 "billable": int(row.billable or 0)})
    for sheet_id, minutes in db.session.execute(
            sa.select(TimeOff.timesheet_id, sa.func.sum(TimeOff.minutes)).where(TimeOff.timesheet_id.in_(sheet_ids))
            .group_by(TimeOff.timesheet_id)).all():
        totals[sheet_id]["off"] = int(minutes or 0)
    return totals


def _render_approvals(errors: dict | None = None, typed: dict | None = None, status: int = 200):
    """The queue; `errors` and `typed` hold a refused reason by (action, sheet id)."""
    rows = _queue()
    queue = [row.Timesheet for row in rows]
    recent = _recently_approved() if can("timesheets.reopen") else []
    totals = _week_totals([s.id for s in queue] + [row.Timesheet.id for row in recent])
    return render_template(
        "timesheets/approvals.html", queue=queue, recent=recent, totals=totals, hm=hm, week_label=_week_label,
        errors=errors or {}, typed=typed or {}, can_reopen=can("timesheets.reopen"),
        approvers={row.Timesheet.id: row.approver for row in rows},
        sees_everyone=current_user.role in ("admin", "leader"),
    ), status


# --- loading and authorizing a week ------------------------------------------------------------------


def _sheet_and_owner(sheet_id: int) -> tuple[Timesheet, User]:
    sheet = db.get_or_404(Timesheet, sheet_id)
    return sheet, db.session.get(User, sheet.user_id)


def _decidable(sheet_id: int) -> tuple[Timesheet, User]:
    """The week and its owner, 404 if missing; 403 unless the current user is one of its approvers."""
    sheet, owner = _sheet_and_owner(sheet_id)
    if not services.can_approve(current_user, owner):
        abort(403)
    return sheet, owner


# --- routes ------------------------------------------------------------------------------------------


@bp.get("", endpoint="grid")
@permission_required("timesheets.use")
def grid():
    monday = _week_from_args(current_user)
    return _render_grid(current_user, monday, copy_last=request.args.get("copy") == "last")


@bp.post("", endpoint="save")
@permission_required("timesheets.use")
def save():
    monday = _posted_week()
    week = WeekGrid.from_formdata(monday, request.form)
    if week.check():
        response = save_or_errors(
            week, lambda: services.save_week(current_user, current_user, monday, week.grid_rows()),
            on_error=week.apply_errors,  # each message at its cell; None: the grid is shown again below
            success=f"Week of {_week_label(monday)} saved.",
            redirect_to=url_for("timesheets.grid", week=monday.isoformat()))
        if response is not None:
            return response
    return _render_grid(current_user, monday, grid=week, status=400)


@bp.post("/submit", endpoint="submit")
@permission_required("timesheets.use")
def submit():
    monday = _posted_week()
    sheet = services.get_timesheet(current_user, monday, create=True)
    services.submit_timesheet(current_user, sheet)
    db.session.commit()
    flash(f"Week of {_week_label(monday)} submitted for approval.", "success")
    return redirect(url_for("timesheets.grid", week=monday.isoformat()))


@bp.get("/<int:sheet_id>", endpoint="sheet")
@permission_required("timesheets.use")
def sheet(sheet_id: int):
    """One week, read-only, for its approvers (and leaders and admins); its owner gets the grid."""
    week, owner = _sheet_and_owner(sheet_id)
    if owner.id == current_user.id:
        return redirect(url_for("timesheets.grid", week=week.week_start.isoformat()))
    if not (services.can_approve(current_user, owner) or can("timesheets.reopen")):
        abort(403)
    return _render_grid(owner, week.week_start, viewer_only=True)


@bp.get("/approvals", endpoint="approvals")
@permission_required("timesheets.approve")
def approvals():
    return _render_approvals()


@bp.post("/<int:sheet_id>/approve", endpoint="approve")
@permission_required("timesheets.approve")
def approve(sheet_id: int):
    week, owner = _decidable(sheet_id)
    services.approve_timesheet(current_user, week)
    db.session.commit()
    flash(f"Approved {owner.name}’s week of {_week_label(week.week_start)}.", "success")
    return redirect(url_for("timesheets.approvals"))


@bp.post("/<int:sheet_id>/reject", endpoint="reject")
@permission_required("timesheets.approve")
def reject(sheet_id: int):
    week, owner = _decidable(sheet_id)
    form = RejectForm()
    if not form.validate():
        message = form.reason.errors[0] if form.reason.errors else "The form could not be read."
    else:
        try:
            services.reject_timesheet(current_user, week, form.reason.data or "")
        except ValidationError as exc:
            db.session.rollback()
            message = exc.errors.get("reason") or str(exc)
        else:
            db.session.commit()
            flash(f"{owner.name}’s week of {_week_label(week.week_start)} was sent back with your reason.",
                  "success")
            return redirect(url_for("timesheets.approvals"))
    return _render_approvals(errors={("reject", sheet_id): message}, typed={("reject", sheet_id): form.reason.data},
                             status=400)


@bp.post("/<int:sheet_id>/reopen", endpoint="reopen")
@permission_required("timesheets.reopen")
def reopen(sheet_id: int):
    week = db.get_or_404(Timesheet, sheet_id)
    form = ReopenForm()
    if not form.validate():
        return _render_approvals(errors={("reopen", sheet_id): (form.reason.errors or ["Say why."])[0]},
                                 typed={("reopen", sheet_id): form.reason.data or ""}, status=400)
    services.reopen_timesheet(current_user, week, form.reason.data)
    db.session.commit()
    flash(f"Week of {_week_label(week.week_start)} reopened; its owner can change it again.", "success")
    return redirect(url_for("timesheets.approvals"))


# --- import, export, rates ---
# Time import and export (SPEC §4) and the rates pages. Load (404), authorize (the decorator), call one
# service, respond; the request commits once, at the end.


def _export_form():
    """The export's filters from the query string, offering only what the viewer may export."""
    form = ExportForm(formdata=request.args)
    people, accounts, projects = filter_choices(current_user)
    form.user_id.choices, form.account_id.choices = choices(people), choices(accounts)
    form.project_id.choices = choices(projects)
    return form


def _export_form_valid(form) -> bool:
    """Validate the filters; an id that is not one of the offered numbers as sent ("abc", "1e3", one beyond
    what the database holds) is refused at its field rather than read as "any"."""
    valid = form.validate()
    for field in (form.user_id, form.account_id, form.project_id):
        sent = request.args.get(field.name)
        if sent not in (None, "") and sent != str(field.data) and not field.errors:
            field.errors = [*field.errors, field.choice_message]
            valid = False
    return valid


def _export_filters(form):
    return ExportFilters(date_from=form.date_from.data, date_to=form.date_to.data, user_id=form.user_id.data or None,
                         project_id=form.project_id.data or None, account_id=form.account_id.data or None,
                         state=form.state.data or None)


@bp.route("/export")
@permission_required("timesheets.use")
def export_page():
    """The export's filters and how many entries they match; consultants export their own time."""
    form = _export_form()
    summary = None
    if request.args and _export_form_valid(form):
        summary = export_summary(_export_filters(form), current_user)
    status = 400 if form.errors else 200
    return render_template("timesheets/export.html", form=form, summary=summary,
                           everyone=exports_everyone(current_user), rates=shows_rates(current_user)), status


@bp.route("/export.csv")
@permission_required("timesheets.use")
def export_download():
    """The entries matching the filters as CSV, streamed."""
    form = _export_form()
    if not _export_form_valid(form):
        return render_template("timesheets/export.html", form=form, summary=None,
                               everyone=exports_everyone(current_user), rates=shows_rates(current_user)), 400
    filters = _export_filters(form)
    period = "-".join(day.isoformat() for day in (filters.date_from, filters.date_to) if day) or "all"
    return Response(stream_with_context(export_csv(filters, current_user)), mimetype="text/csv",
                     headers={"Content-Disposition": f'attachment; filename="time-entries-{period}.csv"',
                              "Cache-Control": "no-store"})


@bp.url_value_preprocessor
def _import_upload_limit(endpoint, values):
    """A time import may be up to MAX_IMPORT_BYTES (a year of a team's Harvest export), other requests keep the
    app's MAX_CONTENT_LENGTH. Set here, before any before_request (the CSRF check reads the body)."""
    if endpoint == "timesheets.import_entries":
        request.max_content_length = MAX_IMPORT_BYTES


@bp.route("/import", methods=["GET", "POST"])
@permission_required("timesheets.import")
def import_entries():
    """Upload a CSV file of time: a dry run (the default) reports what would be created and every error;
    a real run creates every entry or, if any row is bad, none. The file is read as a stream."""
    form = ImportForm()
    report = None
    if form.validate_on_submit():
        try:
            report = import_time_entries(current_user, form.file.data.stream, dry_run=form.dry_run.data,
                                         strict_tasks=form.strict_tasks.data, date_order=form.date_order.data or None)
        except ValidationError as exc:
            db.session.rollback()
            apply_errors(form, exc)
        else:
            if report.created:
                db.session.commit()
            elif report.dry_run and report.ok:
                form.dry_run.data = False  # checked: the next upload of the same file imports it
                form.date_order.data = report.date_order or ""  # the order the preview read the dates in
    refused = bool(form.errors or form.form_errors or (report and report.errors))
    status = 400 if request.method == "POST" and refused else 200
    return render_template("timesheets/import.html", form=form, report=report), status


# --- rates


def _rates_people():
    """Internal users with their rate history (two queries), for the rates page."""
    users = db.session.scalars(sa.select(User).where(User.is_active_user.is_(True))
                               .order_by(sa.func.lower(User.name))).all()
    history: dict[int, list] = {}
    for rate in db.session.scalars(sa.select(UserRate).order_by(UserRate.user_id, UserRate.effective_from.desc())):
        history.setdefault(rate.user_id, []).append(rate)
    return [(user, history.get(user.id, [])) for user in users]


def _rates_projects():
    """Open projects with the number of lines on their rate card (one query)."""
    lines = sa.select(sa.func.count(ProjectRate.id)).where(ProjectRate.project_id == Project.id).scalar_subquery()
    return db.session.execute(
        sa.select(Project.id, Project.name, Project.status, Account.name.label("account"), lines.label("lines"))
        .join(Account, Account.id == Project.account_id).where(Project.status.in_(OPEN_PROJECT_STATUSES))
        .order_by(sa.func.lower(Account.name), sa.func.lower(Project.name))).all()


def _rates_page(form=None, recalc=None, status=200):
    people = _rates_people()
    if form is None:
        form = UserRateForm()
        form.user_id.choices = choices([(0, "Choose a person"), *[(user.id, user.name) for user, _ in people]])
        form.user_id.data = request.args.get("user", 0, type=int)
    return render_template("timesheets/rates.html", form=form, recalc=recalc or RecalculateForm(), people=people,
                   projects=_rates_projects(), today=clock.org_today()), status


@bp.route("/rates", methods=["GET", "POST"])
@permission_required("rates.manage")
def rates():
    """Every person's rate history, a form adding a rate from a date, and the projects' rate cards."""
    if request.method == "GET":
        return _rates_page()
    form = UserRateForm()
    form.user_id.choices = choices([(0, "Choose a person"), *db.session.execute(
        sa.select(User.id, User.name).where(User.is_active_user.is_(True)).order_by(sa.func.lower(User.name))).all()])
    if form.validate_on_submit():
        user = db.session.get(User, form.user_id.data)
        response = save_or_errors(
            form, lambda: set_user_rate(current_user, user, effective_from=form.effective_from.data,
                                        cost_rate=form.cost_rate.data, bill_rate=form.bill_rate.data),
            success=lambda rate: (f"{user.name}: cost {rate.cost_rate}, bill {rate.bill_rate} from "
                                  f"{rate.effective_from.isoformat()}. Entries already logged keep their rates "
                                  "until you recalculate them."),
            redirect_to=lambda _: url_for("timesheets.rates", _anchor=f"user-{user.id}"))
        if response is not None:
            return response
    return _rates_page(form=form, status=400)


@bp.route("/rates/recalculate", methods=["POST"])
@permission_required("rates.manage")
def rates_recalculate():
    """Re-snapshot the rates of entries in draft or rejected weeks after the lock date."""
    recalc = RecalculateForm()
    if not recalc.validate_on_submit():
        return _rates_page(recalc=recalc, status=400)
    changed = recalculate_rates(current_user, since=recalc.since.data)
    db.session.commit()
    locked = lock_date()
    kept = " Approved and submitted weeks keep their rates" + (
        f", and so does everything on or before the lock date ({locked.isoformat()})." if locked else ".")
    flash(f"{changed} {'entry' if changed == 1 else 'entries'} changed.{kept}", "success")
    return redirect(url_for("timesheets.rates", _anchor="recalculate"))


def _rate_card_form(project, formdata=True):
    form = ProjectRateForm() if formdata else ProjectRateForm(formdata=None)
    people = db.session.execute(sa.select(User.id, User.name).where(User.is_active_user.is_(True))
                                .order_by(sa.func.lower(User.name))).all()
    form.applies_to.choices = [("", "Choose a role or a person"),
                               *[(f"role:{role}", f"Role: {label}") for role, label in ROLE_LABELS.items()],
                               *[(f"user:{user_id}", name) for user_id, name in people]]
    return form


@bp.route("/rates/projects/<int:project_id>", methods=["GET", "POST"])
@permission_required("rates.manage")
def project_rates(project_id: int):
    """A project's rate card: the bill rate per role or per person, overriding their default bill rate."""
    project = db.session.get(Project, project_id)
    if project is None:
        abort(404)
    form = _rate_card_form(project, formdata=request.method == "POST")
    if form.validate_on_submit():
        kind, _, value = form.applies_to.data.partition(":")
        user = db.session.get(User, int(value)) if kind == "user" else None

        def at_applies_to(exc: ValidationError) -> None:
            """The role or person was chosen in one select: their messages go there."""
            apply_errors(form, ValidationError({("applies_to" if name in ("role", "user") else name): message
                                                for name, message in exc.errors.items()}))

        label = user.name if user else f"the role {ROLE_LABELS.get(value, value)}"
        response = save_or_errors(
            form, lambda: set_project_rate(current_user, project, bill_rate=form.bill_rate.data,
                                           role=value if kind == "role" else None, user=user),
            on_error=at_applies_to,
            success=lambda _: (f"Bill rate for {label} on {project.name} saved. Recalculate unapproved entries "
                               "to apply it to time already logged."),
            redirect_to=url_for("timesheets.project_rates", project_id=project.id))
        if response is not None:
            return response
    lines = db.session.execute(
        sa.select(ProjectRate.id, ProjectRate.role, ProjectRate.bill_rate, User.name.label("user_name"))
        .outerjoin(User, User.id == ProjectRate.user_id).where(ProjectRate.project_id == project.id)
        .order_by(ProjectRate.role.is_(None), ProjectRate.role, sa.func.lower(User.name))).all()
    account = db.session.get(Account, project.account_id)
    status = 400 if request.method == "POST" else 200
    return render_template("timesheets/rates_project.html", project=project, account=account, lines=lines, form=form,
                   roles=ROLE_LABELS, confirm=ConfirmForm()), status


@bp.route("/rates/projects/<int:project_id>/lines/<int:line_id>/delete", methods=["POST"])
@permission_required("rates.manage")
def project_rate_remove(project_id: int, line_id: int):
    """Remove one line of a project's rate card."""
    line = db.get_or_404(ProjectRate, line_id)
    if line.project_id != project_id:
        abort(404)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    remove_project_rate(current_user, line)
    db.session.commit()
    flash("Rate card line removed. Recalculate unapproved entries to apply it to time already logged.", "success")
    return redirect(url_for("timesheets.project_rates", project_id=project_id))
