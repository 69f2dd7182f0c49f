"""The large demo (`psa demo --scale large`): a two-year history of a services organisation, generated in bulk
for performance work. `load_demo("large")` loads the small demo first and then calls `generate_large`.

What it adds (FULL; every figure is a field of `LargeScale`, and the test runs the same code at a small scale):

- about 100 internal users (2 admins, 4 leaders, 14 managers, 80 consultants, e-mails `<role>.<nnn>@large.psa`,
  password `<role>-demo-pass`), each with a time zone, a weekly capacity, an approver (a manager) and two
  effective-dated user rates (the later one a raise, so frozen rates differ over time);
- 1,000 accounts ("<Word> <Word> <nnnn>"), 3,000 projects shaped after the three demo templates (10 milestones,
  50 tasks each: names, durations, estimates, roles and visibility cycled from the template, dependencies
  inside the project pointing from earlier to later tasks only), every status and billing model, rate cards
  on some time-and-materials projects, the templates' success criteria;
- ONE project with 400 tasks (20 milestones of 20) for the project-page benchmark: its name starts with
  `BENCH_PROJECT_PREFIX` ("Bench: 400-task implementation");
- ONE heavy consultant, `HEAVY_EMAIL` (heavy@demo.psa, password consultant-demo-pass, time zone of the
  organisation), a member of 21 open projects, whose current week (draft) and last week (submitted) each have
  30 grid rows (project, task) over those 21 projects, for the timesheet-grid benchmark;
- 1,000,000 time entries over the last 104 weeks on the weekdays (holidays skipped), for consultants and
  managers, on projects they belong to that were running that day, on one of the project's internal tasks
  (or none), never billable on a non-billable project, at most 24 h a day (6-10 h in 1-3 grid rows a day,
  split into several entries: with 100 people 1,000,000 entries make about 19 entries a person-day), rates
  resolved by `RateBook.resolve` for that user, project and day; one timesheet per user and week: older
  weeks approved by the user's approver, a few rejected with a reason, last week submitted, this week a
  draft (the weeks of each user's own time zone); a day of time off here and there;
- about 270,000 audit events (users and accounts created, rates set, projects created and their status
  changes, task assignments and status changes, milestone status changes, timesheets submitted, approved,
  rejected), each on an existing object, at the time it happened;
- the cached schedules (forecast, slip, progress, health) computed at the end by `refresh_schedule`.

Rows go in by Core inserts in chunks on SQLite and by COPY on PostgreSQL (ids assigned here, sequences moved on
afterwards). Everything is seeded: the same day gives the same data.
"""

from __future__ import annotations

import bisect
import json
import random
import time as _time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from werkzeug.security import generate_password_hash

from psa.accounts.models import Account
from psa.auth.models import User
from psa.core.calendar import get_calendar
from psa.core.clock import now as clock_now
from psa.core.models import AuditEvent
from psa.extensions import db
from psa.projects.models import Milestone, Project, SuccessCriterion, Task, project_members, task_dependencies
from psa.projects.services import refresh_schedule
from psa.timesheets.models import ProjectRate, TimeEntry, TimeOff, Timesheet, UserRate
from psa.timesheets.services import RateBook, week_start
from psa.timesheets.totals import rebuild_time_totals

BENCH_PROJECT_PREFIX = "Bench: 400-task implementation"
HEAVY_EMAIL = "heavy@demo.psa"


@dataclass(frozen=True)
class LargeScale:
    """How much to generate."""

    admins: int = 2
    leaders: int = 4
    managers: int = 14
    consultants: int = 80
    accounts: int = 1000
    projects: int = 3000
    milestones: int = 10  # per project
    tasks: int = 50  # per project
    entries: int = 1_000_000
    weeks: int = 104  # of history before the current week
    bench_milestones: int = 20
    bench_tasks: int = 400
    heavy_projects: int = 21
    heavy_rows: int = 30
    #: Rows per INSERT round (Core) and per COPY.
    chunk: int = 20_000
    seed: int = 20261123


FULL = LargeScale()
#: What the test runs: every kind of row, a few hundred entries.
SMALL = LargeScale(admins=1, leaders=1, managers=3, consultants=6, accounts=8, projects=40, milestones=4,
                   tasks=12, entries=600, weeks=6, bench_milestones=4, bench_tasks=40, heavy_projects=6,
                   heavy_rows=9, chunk=97)

ZONES = ("America/New_York", "America/Chicago", "America/Los_Angeles", "Europe/London", "Europe/Berlin",
         "Europe/Paris", "Asia/Kolkata", "Australia/Sydney", "America/Sao_Paulo", "Asia/Singapore")
FIRST = ("Alex", "Sam", "Jordan", "Taylor", "Morgan", "Casey", "Riley", "Jamie", "Avery", "Quinn", "Robin", "Dana",
         "Kim", "Lee", "Noa", "Ines", "Omar", "Priya", "Yuki", "Lars", "Sofia", "Mateo", "Chen", "Amara")
LAST = ("Smith", "Garcia", "Müller", "Rossi", "Nguyen", "Okafor", "Kowalski", "Dubois", "Tanaka", "Silva", "Brown",
        "Jensen", "Novak", "Haddad", "Khan", "Larsen", "Moreau", "Costa", "Ivanova", "O'Brien")
WORD1 = ("Blue", "North", "Silver", "Bright", "Summit", "Harbor", "Pioneer", "Crystal", "Vertex", "Atlas", "Cedar",
         "Granite", "Maple", "Orbit", "Prairie", "Quantum", "River", "Solar", "Tidal", "Union")
WORD2 = ("Logistics", "Health", "Retail", "Foods", "Energy", "Capital", "Systems", "Media", "Labs", "Motors",
         "Insurance", "Pharma", "Telecom", "Textiles", "Analytics", "Robotics", "Travel", "Bank", "Foundry", "Studios")
NOTES = ("Workshop with the customer", "Configuration", "Data migration checks", "Status call", "Documentation",
         "Integration testing", "Training session prep", "Internal review", "", "", "")
BLOCKED = ("Waiting for the customer's security review.", "Waiting for API credentials from the customer.",
           "Legacy export is incomplete; asked the customer for a new one.")
REJECTIONS = ("Friday's hours are missing a note for the customer.", "Please split the workshop time by task.",
              "Hours on the wrong project; move them to the rollout.")
#: role -> (cost, bill) per hour before the raise.
RATES = {"consultant": (62, 165), "manager": (78, 195), "leader": (95, 240), "admin": (70, 0)}
STATUS_WEIGHTS = (("active", 45), ("completed", 35), ("on_hold", 7), ("planned", 6), ("cancelled", 7))
BILLING_WEIGHTS = (("fixed_fee", 55), ("time_and_materials", 35), ("non_billable", 10))


def _at(day: date, hour: int = 16, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=UTC)


def _pick(rng: random.Random, weighted) -> str:
    names, weights = zip(*weighted, strict=True)
    return rng.choices(names, weights)[0]


class _Writer:
    """Buffered bulk insert of one table: COPY on PostgreSQL (the values are the columns' own Python types, which
    psycopg writes as PostgreSQL reads them), elsewhere (or with copy=False) Core executemany in chunks through
    the table's types (ExactNumeric's integer units and UTCDateTime's naive UTC on SQLite)."""

    def __init__(self, table: sa.Table, columns: tuple[str, ...], chunk: int, copy: bool = True,
                 parents: tuple[_Writer, ...] = ()):
        self.table, self.columns, self.chunk, self.parents = table, columns, chunk, parents
        self.dialect = db.session.get_bind().dialect.name
        self.copy = copy and self.dialect == "postgresql"
        self.rows: list[tuple] = []
        self.count = 0
        if self.copy:
            json_columns = [i for i, name in enumerate(columns) if isinstance(table.c[name].type, sa.JSON)]
            self._json = json_columns

    def add(self, row: tuple) -> None:
        self.rows.append(row)
        if len(self.rows) >= self.chunk:
            self.flush()

    def flush(self) -> None:
        if not self.rows:
            return
        for parent in self.parents:  # the rows they refer to go first
            parent.flush()
        rows, self.rows = self.rows, []
        self.count += len(rows)
        connection = db.session.connection()
        if self.copy:
            cursor = connection.connection.dbapi_connection.cursor()
            statement = f"COPY {self.table.name} ({', '.join(self.columns)}) FROM STDIN"
            with cursor.copy(statement) as copy:
                if self._json:
                    for row in rows:
                        row = list(row)
                        for i in self._json:
                            if row[i] is not None:
                                row[i] = json.dumps(row[i])
                        copy.write_row(row)
                else:
                    for row in rows:
                        copy.write_row(row)
            cursor.close()
        else:
            columns = self.columns
            connection.execute(sa.insert(self.table), [dict(zip(columns, row, strict=True)) for row in rows])


class _Ids:
    """Explicit ids for the tables whose ids later rows need (sequences are moved on at the end)."""

    def __init__(self):
        self.next: dict[str, int] = {}

    def take(self, model) -> int:
        name = model.__tablename__
        if name not in self.next:
            self.next[name] = (db.session.scalar(sa.select(sa.func.max(model.id))) or 0) + 1
        value = self.next[name]
        self.next[name] = value + 1
        return value

    def fix_sequences(self) -> None:
        if db.session.get_bind().dialect.name != "postgresql":
            return
        for name in self.next:
            db.session.execute(sa.text(
                f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), (SELECT max(id) FROM {name}))"))


@dataclass
class _Plan:
    """A project's shape: milestones (name, flags) and tasks (milestone index, template task, offset,
    duration, predecessor indexes)."""

    milestones: list[dict] = field(default_factory=list)
    tasks: list[dict] = field(default_factory=list)
    length: int = 0  # working days from K to the last due date


def _plan(template: dict, milestones: int, tasks: int) -> _Plan:
    """Expand a demo template to `milestones` milestones and `tasks` tasks: names, durations, estimates, roles and
    visibility cycled from the template; tasks of a milestone run in lanes (each lane a chain), every
    milestone's first tasks wait for the previous milestone's last one; the only dependencies are from
    earlier to later tasks whose dates already respect them, so a project done on time forecasts no slip."""
    source_milestones = template["milestones"]
    flat = [task for m in source_milestones for task in m[4]]
    plan = _Plan()
    per = [tasks // milestones + (1 if i < tasks % milestones else 0) for i in range(milestones)]
    lanes = max(2, max(per) // 5)
    cursor = 0
    previous_last: int | None = None
    first_value = milestones * 2 // 3
    g = 0
    for i in range(milestones):
        name, _, _, flags, _ = source_milestones[i % len(source_milestones)]
        wave = i // len(source_milestones)
        plan.milestones.append({
            "name": name if wave == 0 else f"{name} (wave {wave + 1})",
            "is_first_value": i == first_value, "requires_signoff": "signoff" in flags or i == first_value,
            "is_customer_visible": "internal" not in flags,
        })
        lane_end = [cursor + lane for lane in range(lanes)]
        lane_last: list[int | None] = [None] * lanes
        end = cursor
        for k in range(per[i]):
            _, task_name, _, duration, hours, role, visibility, _ = flat[g % len(flat)]
            lane = k % lanes
            duration = min(duration, 6)
            offset = lane_end[lane]
            predecessors = []
            if lane_last[lane] is not None:
                predecessors.append(lane_last[lane])
            elif previous_last is not None:
                predecessors.append(previous_last)
            if k >= lanes + 1:
                other = len(plan.tasks) - lanes - 1
                if plan.tasks[other]["offset"] + plan.tasks[other]["duration"] <= offset and other not in predecessors:
                    predecessors.append(other)
            index = len(plan.tasks)
            plan.tasks.append({"milestone": i, "name": task_name if g < len(flat) else f"{task_name} ({g // len(flat) + 1})",
                               "offset": offset, "duration": duration, "minutes": hours * 60, "role": role,
                               "visibility": visibility, "predecessors": predecessors})
            lane_end[lane] = offset + duration
            lane_last[lane] = index
            end = max(end, offset + duration - 1)
            g += 1
        plan.milestones[-1]["offset"] = end
        plan.milestones[-1]["tasks"] = [t for t in range(len(plan.tasks)) if plan.tasks[t]["milestone"] == i]
        last = max(plan.milestones[-1]["tasks"], key=lambda t: plan.tasks[t]["offset"] + plan.tasks[t]["duration"])
        previous_last = last
        cursor = end + 1
    plan.length = cursor
    shares = [Decimal(100) // milestones] * milestones
    shares[-1] += Decimal(100) - sum(shares)
    for milestone, share in zip(plan.milestones, shares, strict=True):
        milestone["share"] = share
    return plan


class _Days:
    """Working days as a sorted list, so K + n working days is one index step."""

    def __init__(self, first: date, last: date):
        calendar = get_calendar()
        self.days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
        self.days = [d for d in self.days if calendar.is_working_day(d)]
        self.calendar = calendar

    def index(self, day: date) -> int:
        """Index of day + 0 working days."""
        return bisect.bisect_left(self.days, day)

    def at(self, index: int) -> date:
        return self.days[index]


def generate_large(*, users: dict, versions: dict, today: date, scale: LargeScale = FULL,
                   log: Callable[[str], None] | None = None) -> dict[str, float]:
    """Generate the large demo (see the module docstring) on top of the small one; returns seconds per phase."""
    from psa.demo import DEMO_TEMPLATES, demo_password

    say = log or (lambda message: None)
    rng = random.Random(scale.seed)
    timings: dict[str, float] = {}
    started = _time.perf_counter()

    def past(day: date, hour: int, minute: int = 0) -> datetime:
        """A timestamp on the day, never after now."""
        return min(_at(day, hour, minute), now - timedelta(minutes=1))

    def phase(name: str) -> None:
        nonlocal started
        elapsed = _time.perf_counter() - started
        timings[name] = elapsed
        say(f"  {name:<28} {elapsed:7.1f} s")
        started = _time.perf_counter()

    ids = _Ids()
    chunk = scale.chunk
    audit = _Writer(AuditEvent.__table__, ("actor_id", "action", "object_type", "object_id", "before", "after", "at"),
                    chunk, copy=True)
    now = clock_now()
    history_start = today - timedelta(days=7 * (scale.weeks + 1) + 200)
    days = _Days(today - timedelta(days=7 * scale.weeks + 900), today + timedelta(days=900))

    # --- users and their rates -------------------------------------------------------------------
    hashes = {role: generate_password_hash(demo_password(role), method="pbkdf2:sha256:1000")
              for role in RATES}
    people: list[dict] = []
    counts = (("admin", scale.admins), ("leader", scale.leaders), ("manager", scale.managers),
              ("consultant", scale.consultants))
    serial = 0
    for role, count in counts:
        for n in range(1, count + 1):
            serial += 1
            name = f"{FIRST[serial % len(FIRST)]} {LAST[(serial * 7) % len(LAST)]}"
            email = f"{role}.{n:03d}@large.psa"
            capacity = Decimal(rng.choice((40, 40, 40, 40, 32, 36)))
            people.append({"id": ids.take(User), "email": email, "name": name, "role": role,
                           "timezone": rng.choice(ZONES), "weekly_capacity_hours": capacity})
    heavy = {"id": ids.take(User), "email": HEAVY_EMAIL, "name": "Hana Heavy", "role": "consultant",
             "timezone": db.session.scalar(sa.text("SELECT timezone FROM settings WHERE id = 1")) or "UTC",
             "weekly_capacity_hours": Decimal(40)}
    people.append(heavy)
    managers = [p for p in people if p["role"] == "manager"]
    for person in people:
        choices = [m for m in managers if m["id"] != person["id"]]
        person["approver_id"] = rng.choice(choices)["id"] if choices else None
    created = _at(history_start - timedelta(days=30), 9)
    # approvers are set after every user exists (SQLite checks the foreign key row by row)
    db.session.execute(sa.insert(User), [
        {**p, "approver_id": None, "password_hash": hashes[p["role"]], "is_active_user": True, "created_at": created}
        for p in people])
    users_table = User.__table__
    db.session.connection().execute(
        sa.update(users_table).where(users_table.c.id == sa.bindparam("user_id"))
        .values(approver_id=sa.bindparam("approver")),
        [{"user_id": p["id"], "approver": p["approver_id"]} for p in people if p["approver_id"]])
    for p in people:
        audit.add((None, "user.created", "user", p["id"], None,
                   {"email": p["email"], "name": p["name"], "role": p["role"], "timezone": p["timezone"],
                    "weekly_capacity_hours": str(p["weekly_capacity_hours"]), "is_active_user": True,
                    "approver_id": p["approver_id"]}, created))
    rate_rows = []
    for p in people:
        cost, bill = RATES[p["role"]]
        cost += rng.randrange(-5, 11)
        bill = bill + rng.randrange(-10, 21) if bill else 0
        first_day = history_start - timedelta(days=30)
        raise_day = today - timedelta(days=rng.randrange(7, max(8, 7 * scale.weeks - 30)))
        for day, c, b in ((first_day, cost, bill), (raise_day, cost + 4, bill + 10 if bill else 0)):
            rate_rows.append({"user_id": p["id"], "effective_from": day, "cost_rate": Decimal(c),
                              "bill_rate": Decimal(b), "created_at": _at(day, 8)})
            audit.add((None, "rate.user_set", "user", p["id"], None,
                       {"effective_from": day.isoformat(), "cost_rate": f"{c}.00", "bill_rate": f"{b}.00"},
                       _at(day, 8)))
    db.session.execute(sa.insert(UserRate), rate_rows)
    phase("users and rates")

    # --- accounts --------------------------------------------------------------------------------
    owners = [p for p in people if p["role"] in ("manager", "leader")]
    accounts = []
    for n in range(1, scale.accounts + 1):
        account = {"id": ids.take(Account), "name": f"{WORD1[n % len(WORD1)]} {WORD2[(n // len(WORD1)) % len(WORD2)]} {n:04d}",
                   "segment": rng.choice(("high", "mid", "mid", "low", "low")),
                   "owner_id": rng.choice(owners)["id"] if rng.random() < 0.9 else None,
                   "arr": Decimal(rng.randrange(10, 600) * 1000), "created_at": created}
        accounts.append(account)
        audit.add((None, "account.created", "account", account["id"], None,
                   {"name": account["name"], "segment": account["segment"], "owner_id": account["owner_id"],
                    "arr": f"{account['arr']}.00"}, created))
    for start in range(0, len(accounts), chunk):
        db.session.execute(sa.insert(Account), accounts[start:start + chunk])
    phase("accounts")

    # --- projects, milestones, tasks -------------------------------------------------------------
    keys = list(versions)
    plans = {key: _plan(DEMO_TEMPLATES[key], scale.milestones, scale.tasks) for key in keys}
    bench_plan = _plan(DEMO_TEMPLATES["enterprise"], scale.bench_milestones, scale.bench_tasks)
    project_managers = [p for p in people if p["role"] == "manager"] + [p for p in people if p["role"] == "leader"][:2]
    consultants = [p for p in people if p["role"] == "consultant"]
    today_index = days.index(today)
    if days.at(today_index) != today:
        today_index -= 1  # the last working day on or before today
    writers = {"project": _Writer(Project.__table__, (
        "id", "account_id", "template_version_id", "name", "kickoff_date", "contract_signed_date",
        "target_go_live_date", "manager_id", "billing_model", "fee_amount", "budget_minutes", "status",
        "created_at", "health", "progress_percent", "max_slip_days"), chunk)}
    parent = (writers["project"],)
    writers["member"] = _Writer(project_members, ("project_id", "user_id"), chunk, parents=parent)
    writers["milestone"] = _Writer(Milestone.__table__, (
        "id", "project_id", "position", "name", "baseline_due_date", "due_date", "status", "completed_at",
        "is_customer_visible", "requires_signoff", "is_first_value", "fee_share_percent", "slip_days"), chunk,
        parents=parent)
    writers["task"] = _Writer(Task.__table__, (
        "id", "project_id", "milestone_id", "position", "name", "baseline_start_date", "baseline_due_date",
        "start_date", "due_date", "duration_days", "estimated_minutes", "assignee_role", "assignee_id",
        "visibility", "status", "blocked_reason", "completed_at"), chunk, parents=(writers["milestone"],))
    writers["dependency"] = _Writer(task_dependencies, ("task_id", "predecessor_id"), chunk,
                                    parents=(writers["task"],))
    writers["criterion"] = _Writer(SuccessCriterion.__table__, (
        "project_id", "position", "outcome", "metric", "baseline", "target", "current_value", "due_date",
        "status"), chunk, parents=parent)
    writers["rate"] = _Writer(ProjectRate.__table__, ("project_id", "role", "user_id", "bill_rate"), chunk,
                              parents=parent)
    #: per project: (id, status, window start, window end, billing model, member ids, internal task ids)
    projects: list[dict] = []
    specs = [None] * scale.projects + ["bench"]
    for n, special in enumerate(specs, start=1):
        if special == "bench":
            key, plan, status = "enterprise", bench_plan, "active"
        else:
            key = keys[n % len(keys)]
            plan, status = plans[key], _pick(rng, STATUS_WEIGHTS)
        plan_days = int(plan.length * 1.45) + 5  # calendar days the plan spans, about
        if status == "completed":
            kickoff = today - timedelta(days=rng.randrange(plan_days + 10, max(plan_days + 11, 7 * scale.weeks + 60)))
        elif status in ("active", "on_hold"):
            kickoff = today - timedelta(days=rng.randrange(3, max(4, int(plan_days * 0.95))))
        elif status == "cancelled":
            kickoff = today - timedelta(days=rng.randrange(40, 7 * scale.weeks + 40))
        else:
            kickoff = today + timedelta(days=rng.randrange(1, 45))
        if special == "bench":
            kickoff = today - timedelta(days=int(plan_days * 0.6))
        k = days.index(kickoff)
        billing = _pick(rng, BILLING_WEIGHTS) if special is None else "time_and_materials"
        fee = None
        if billing == "fixed_fee":
            fee = Decimal(rng.randrange(8, 250) * 1000)
        elif billing == "time_and_materials" and rng.random() < 0.6:
            fee = Decimal(rng.randrange(20, 300) * 1000)
        manager = rng.choice(project_managers)
        team = rng.sample(consultants, k=min(len(consultants), rng.choice((2, 2, 3, 3, 4))))
        account = accounts[(n * 7919) % len(accounts)]
        project_id = ids.take(Project)
        name = (f"{BENCH_PROJECT_PREFIX} ({account['name']})" if special == "bench"
                else f"{account['name'].rsplit(' ', 1)[0]} {DEMO_TEMPLATES[key]['name'].lower()} #{n}")
        # how far the work went: tasks due before `cutoff` are done, tasks started by `open_until` are in progress
        if status == "completed":
            cutoff, open_until = None, None
        elif status == "active":
            cutoff = days.at(today_index - rng.choice((0, 0, 0, 0, 1, 2, 4, 8)))
            open_until = today
        elif status == "on_hold":
            cutoff = open_until = today - timedelta(days=rng.randrange(10, 40))
        elif status == "cancelled":
            cutoff = open_until = min(today - timedelta(days=20),
                                      days.at(k + rng.randrange(1, max(2, plan.length))))
        else:
            cutoff = open_until = kickoff - timedelta(days=1)
        signed = kickoff - timedelta(days=rng.randrange(5, 30))
        created_at = past(min(signed + timedelta(days=2), today), 15)
        task_ids = [ids.take(Task) for _ in plan.tasks]
        milestone_ids = [ids.take(Milestone) for _ in plan.milestones]
        total_estimate = sum(t["minutes"] for t in plan.tasks)
        last_due = max(kickoff, *(days.at(k + m["offset"]) for m in plan.milestones))
        budget = int(total_estimate * rng.choice((0.9, 1.0, 1.0, 1.1, 1.25)))
        writers["project"].add((project_id, account["id"], versions[key].id, name, kickoff, signed, last_due,
                                manager["id"], billing, fee, budget, status, created_at, "green", 0, 0))
        audit.add((manager["id"], "project.created", "project", project_id, None, {
            "name": name, "account_id": account["id"], "kickoff_date": kickoff.isoformat(),
            "contract_signed_date": signed.isoformat(), "target_go_live_date": last_due.isoformat(),
            "manager_id": manager["id"], "billing_model": billing, "fee_amount": str(fee) if fee else None,
            "budget_minutes": budget, "status": "planned"}, created_at))
        internal_tasks = []
        task_state: list[tuple[str, datetime | None]] = []
        last_completion = None
        task_rows, dependency_rows = [], []
        for index, spec in enumerate(plan.tasks):
            start = days.at(k + spec["offset"])
            due = days.at(k + spec["offset"] + spec["duration"] - 1)
            reason = None
            if status == "completed" or (cutoff is not None and due < cutoff):
                day = min(due + timedelta(days=rng.choice((0, 0, 0, 1, 2))), today - timedelta(days=1))
                state, completed_at = "done", _at(day, rng.randrange(13, 22))
                last_completion = max(last_completion or day, day)
            elif open_until is not None and start <= open_until and status != "planned":
                state, completed_at = ("blocked" if rng.random() < 0.04 else "in_progress"), None
                reason = rng.choice(BLOCKED) if state == "blocked" else None
            else:
                state, completed_at = "todo", None
            task_state.append((state, completed_at))
            if spec["role"] == "consultant":
                assignee = team[index % len(team)]["id"]
            elif spec["role"] == "manager":
                assignee = manager["id"]
            else:
                assignee = None
            if spec["role"] != "customer":
                internal_tasks.append(task_ids[index])
            task_rows.append((
                task_ids[index], project_id, milestone_ids[spec["milestone"]], index + 1, spec["name"], start, due,
                start, due, spec["duration"], spec["minutes"], spec["role"], assignee, spec["visibility"], state,
                reason, completed_at))
            for predecessor in spec["predecessors"]:
                dependency_rows.append((task_ids[index], task_ids[predecessor]))
            # the audit trail of the task: assigned at kickoff, started, blocked, done
            kick_at = past(min(kickoff, created_at.date() + timedelta(days=1)), 14)
            if assignee is not None and spec["role"] == "consultant" and index % 2 == 0:
                audit.add((manager["id"], "task.updated", "task", task_ids[index], {"assignee_id": None},
                           {"assignee_id": assignee}, kick_at))
            if state != "todo":
                audit.add((assignee or manager["id"], "task.updated", "task", task_ids[index], {"status": "todo"},
                           {"status": "in_progress"}, past(min(start, today), 9, 30)))
            if state == "done":
                audit.add((assignee or manager["id"], "task.updated", "task", task_ids[index],
                           {"status": "in_progress"}, {"status": "done"}, completed_at))
            elif state == "blocked":
                audit.add((assignee or manager["id"], "task.updated", "task", task_ids[index],
                           {"status": "in_progress", "blocked_reason": None},
                           {"status": "blocked", "blocked_reason": reason}, past(min(start, today), 11)))
        for position, spec in enumerate(plan.milestones, start=1):
            due = days.at(k + spec["offset"])
            states = [task_state[t][0] for t in spec["tasks"]]
            if all(s == "done" for s in states):
                m_status = "done"
                m_completed = max(task_state[t][1] for t in spec["tasks"])
            else:
                m_completed = None
                m_status = ("blocked" if "blocked" in states else
                            "in_progress" if any(s in ("in_progress", "done") for s in states) else "todo")
            mid = milestone_ids[position - 1]
            writers["milestone"].add((mid, project_id, position, spec["name"], due, due, m_status, m_completed,
                                      spec["is_customer_visible"], spec["requires_signoff"], spec["is_first_value"],
                                      spec["share"], 0))
            if m_status != "todo":
                first_start = min(days.at(k + plan.tasks[t]["offset"]) for t in spec["tasks"])
                audit.add((manager["id"], "milestone.status_changed", "milestone", mid, {"status": "todo"},
                           {"status": "in_progress"}, past(min(first_start, today), 9, 45)))
            if m_status == "done":
                audit.add((manager["id"], "milestone.status_changed", "milestone", mid, {"status": "in_progress"},
                           {"status": "done"}, m_completed))
        for row in task_rows:  # after their milestones
            writers["task"].add(row)
        for row in dependency_rows:
            writers["dependency"].add(row)
        if status != "planned":
            audit.add((manager["id"], "project.updated", "project", project_id, {"status": "planned"},
                       {"status": "active"}, past(min(kickoff, today), 13)))
        end = today
        if status in ("completed", "cancelled", "on_hold"):
            end = last_completion if status == "completed" else open_until
            audit.add((manager["id"], "project.updated", "project", project_id, {"status": "active"},
                       {"status": status}, past(min(end, today), 18)))
        members = sorted({manager["id"], *(c["id"] for c in team)})
        for user_id in members:
            writers["member"].add((project_id, user_id))
        for position, criterion in enumerate(DEMO_TEMPLATES[key]["criteria"], start=1):
            outcome, metric, baseline, target, due_offset = criterion
            if status == "completed":
                c_status, current = ("achieved", target) if position < 3 else ("on_track", "")
            elif status == "cancelled":
                c_status, current = "missed", ""
            elif status == "planned" or kickoff > today - timedelta(days=14):
                c_status, current = "not_started", ""
            else:
                c_status, current = rng.choice((("on_track", baseline), ("on_track", baseline), ("at_risk", baseline)))
            writers["criterion"].add((project_id, position, outcome, metric, baseline, target, current,
                                      kickoff + timedelta(days=due_offset), c_status))
        if billing == "time_and_materials" and rng.random() < 0.35:
            writers["rate"].add((project_id, "consultant", None, Decimal(rng.randrange(140, 190))))
            if rng.random() < 0.3:
                writers["rate"].add((project_id, None, team[0]["id"], Decimal(rng.randrange(150, 220))))
        projects.append({"id": project_id, "status": status, "start": kickoff,
                         "end": end if status != "planned" else None, "billing": billing,
                         "members": members, "tasks": internal_tasks, "special": special})
    for name in ("project", "member", "milestone", "task", "dependency", "criterion", "rate"):
        writers[name].flush()
    phase("projects, milestones, tasks")

    # --- the heavy consultant joins open projects ------------------------------------------------
    open_projects = [p for p in projects if p["status"] in ("active", "on_hold") and len(p["tasks"]) >= 2]
    heavy_projects = rng.sample(open_projects, k=min(scale.heavy_projects, len(open_projects)))
    extra = []
    for project in heavy_projects:
        if heavy["id"] not in project["members"]:
            project["members"].append(heavy["id"])
            extra.append({"project_id": project["id"], "user_id": heavy["id"]})
    if extra:
        db.session.execute(sa.insert(project_members), extra)

    # --- time: timesheets, entries, time off -----------------------------------------------------
    loggers = [p for p in people if p["role"] in ("consultant", "manager")]
    by_user: dict[int, list[dict]] = {p["id"]: [] for p in loggers}
    for project in projects:
        if project["end"] is None:
            continue
        for user_id in project["members"]:
            if user_id in by_user:
                by_user[user_id].append(project)
    book = RateBook([p["id"] for p in loggers], [p["id"] for p in projects])
    sheets = _Writer(Timesheet.__table__, ("id", "user_id", "week_start", "state", "submitted_at", "decided_at",
                                           "decided_by_id", "rejection_reason"), chunk)
    postgresql = db.session.get_bind().dialect.name == "postgresql"
    if postgresql:  # the time totals are summed once after the COPY, not row by row by their trigger
        for trigger in ("time_entries_span_totals", "time_entries_task_totals"):
            db.session.execute(sa.text(f"ALTER TABLE time_entries DISABLE TRIGGER {trigger}"))
    entries = _Writer(TimeEntry.__table__, (
        "user_id", "project_id", "task_id", "timesheet_id", "entry_date", "minutes", "billable", "note", "activity",
        "bill_rate", "cost_rate", "created_at", "updated_at"), chunk, copy=True, parents=(sheets,))
    offs = _Writer(TimeOff.__table__, ("user_id", "timesheet_id", "entry_date", "kind", "minutes", "note"), chunk,
                   parents=(sheets,))
    calendar = days.calendar
    # the person-days of every logger, to spread the entries evenly: day j gets floor((j+1)m) - floor(jm)
    person_weeks: list[tuple[dict, date, list[date]]] = []
    for person in loggers:
        user_today = now.astimezone(ZoneInfo(person["timezone"])).date()
        this_monday = week_start(user_today)
        for back in range(scale.weeks, -1, -1):
            monday = this_monday - timedelta(weeks=back)
            week = [monday + timedelta(days=i) for i in range(5)
                    if monday + timedelta(days=i) <= user_today and calendar.is_working_day(monday + timedelta(days=i))]
            person_weeks.append((person, monday, week))
    person_days = sum(len(week) for _, _, week in person_weeks)
    mean = scale.entries / max(1, person_days)
    done_days = 0
    carried = 0
    rates_cache: dict[tuple[int, int, date], tuple[Decimal, Decimal]] = {}

    def rates(person: dict, project_id: int, day: date) -> tuple[Decimal, Decimal]:
        key = (person["id"], project_id, day)
        found = rates_cache.get(key)
        if found is None:
            resolved = book.resolve(person["id"], person["role"], project_id, day)
            found = rates_cache[key] = (resolved.bill, resolved.cost)
        return found

    def add_entry(person, project, task_id, billable, sheet_id, day, minutes):
        bill, cost = rates(person, project["id"], day)
        stamp = _at(day, 17, rng.randrange(0, 60))
        entries.add((person["id"], project["id"], task_id, sheet_id, day, minutes, billable, rng.choice(NOTES), "",
                     bill, cost, stamp, stamp))

    last_user = None
    for person, monday, week in person_weeks:
        if person is not last_user:
            rates_cache.clear()
            last_user = person
            user_today = now.astimezone(ZoneInfo(person["timezone"])).date()
            this_monday = week_start(user_today)
            mine = by_user[person["id"]]
        back = (this_monday - monday).days // 7
        state = "approved" if back >= 2 else "submitted" if back == 1 else "draft"
        if back in (1, 2, 3) and rng.random() < 0.04:
            state = "rejected"
        sheet_id = ids.take(Timesheet)
        friday = monday + timedelta(days=4)
        submitted_at = decided_at = decided_by = reason = None
        if state != "draft":
            submitted_at = _at(friday, 21, rng.randrange(0, 60))
            audit.add((person["id"], "timesheet.submitted", "timesheet", sheet_id, None, {"state": "submitted"},
                       submitted_at))
        if state in ("approved", "rejected"):
            decided_at = min(_at(friday + timedelta(days=rng.choice((3, 3, 4, 5))), 14), now - timedelta(hours=1))
            decided_by = person["approver_id"]
            if state == "rejected":
                reason = rng.choice(REJECTIONS)
                audit.add((decided_by, "timesheet.rejected", "timesheet", sheet_id, {"state": "submitted"},
                           {"state": "rejected", "reason": reason}, decided_at))
            else:
                audit.add((decided_by, "timesheet.approved", "timesheet", sheet_id, {"state": "submitted"},
                           {"state": "approved"}, decided_at))
        sheets.add((sheet_id, person["id"], monday, state, submitted_at, decided_at, decided_by, reason))
        heavy_week = person is heavy and back <= 1
        if heavy_week:
            rows = []
            for i, project in enumerate(heavy_projects):
                tasks = project["tasks"]
                billable = project["billing"] != "non_billable"
                rows.append((project, tasks[0], billable))
                if i < scale.heavy_rows - len(heavy_projects):
                    rows.append((project, tasks[1], billable))
            for i, (project, task_id, billable) in enumerate(rows):
                for j in sorted({i % len(week), (i + 2) % len(week)}) if week else ():
                    add_entry(person, project, task_id, billable, sheet_id, week[j], 30)
            done_days += len(week)
            continue
        for day in week:
            done_days += 1
            n = int(done_days * mean) - int((done_days - 1) * mean) + carried
            carried = 0
            if rng.random() < 0.015 and back > 0:
                offs.add((person["id"], sheet_id, day, rng.choice(("vacation", "vacation", "sick")), 480, ""))
                carried = n
                continue
            running = [p for p in mine if p["start"] <= day <= p["end"]]
            if not running or n == 0:
                carried = n
                continue
            total = rng.choice((360, 390, 420, 450, 480, 480, 480, 510, 540, 600)) // 5
            # what earlier days could not take (time off, no project running) catches up a little a day
            carried = max(0, n - max(3, int(mean * 2)))
            n -= carried
            row_count = min(n, rng.choice((1, 2, 2, 3)), len(running) + 2)
            rows = []
            for _ in range(row_count):
                project = rng.choice(running)
                task_id = rng.choice(project["tasks"]) if project["tasks"] and rng.random() < 0.85 else None
                rows.append((project, task_id, project["billing"] != "non_billable" and rng.random() < 0.93))
            cuts = sorted(rng.sample(range(1, total), n - 1)) if n > 1 else []
            previous = 0
            for i, cut in enumerate([*cuts, total]):
                project, task_id, billable = rows[i % len(rows)]
                add_entry(person, project, task_id, billable, sheet_id, day, (cut - previous) * 5)
                previous = cut
    sheets.flush()
    offs.flush()
    entries.flush()
    if postgresql:
        for trigger in ("time_entries_span_totals", "time_entries_task_totals"):
            db.session.execute(sa.text(f"ALTER TABLE time_entries ENABLE TRIGGER {trigger}"))
        rebuild_time_totals()
    phase("timesheets and entries")

    audit.flush()
    phase("audit events")
    ids.fix_sequences()
    db.session.flush()
    refresh_schedule([p["id"] for p in projects], today)
    phase("schedules refreshed")
    db.session.execute(sa.text("ANALYZE"))
    phase("analyze")
    return timings


def row_counts() -> dict[str, int]:
    """Rows per table of interest, for the command's report."""
    count = lambda model: db.session.scalar(sa.select(sa.func.count()).select_from(model))  # noqa: E731
    counts = {
        "users": count(User), "accounts": count(Account), "projects": count(Project),
        "milestones": count(Milestone), "tasks": count(Task), "task dependencies": count(task_dependencies),
        "project members": count(project_members), "success criteria": count(SuccessCriterion),
        "time entries": count(TimeEntry), "time off": count(TimeOff), "audit events": count(AuditEvent),
    }
    for state, n in db.session.execute(sa.select(Timesheet.state, sa.func.count()).group_by(Timesheet.state)
                                       .order_by(Timesheet.state)):
        counts[f"timesheets {state}"] = n
    return counts
