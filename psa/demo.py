"""Demo data for `psa demo`: a small team of every role, a few customer accounts, three published
templates and a dozen projects at different stages (some on track, some slipping, some finished).

Everything is made through the services, relative to today's date, so the dashboard always shows a
believable portfolio: green, amber and red projects, milestones due soon and open tasks for everyone.
`--scale large` then adds a generated two-year history for performance work (psa/demo_large.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import sqlalchemy as sa

from psa.accounts.models import Contact
from psa.accounts.services import create_account
from psa.admin.services import get_settings, load_public_holidays, update_settings
from psa.auth.models import User
from psa.auth.services import create_user
from psa.core.audit import record_audit
from psa.core.calendar import get_calendar
from psa.extensions import db
from psa.project_templates.models import TemplateVersion
from psa.project_templates.services import (
    add_criterion,
    add_milestone,
    add_task,
    create_template,
    publish_version,
    set_predecessors,
)
from psa.projects.models import Milestone, MilestoneRating, Project, SuccessCriterion, Task
from psa.projects.services import (
    add_comment,
    create_project,
    org_today,
    refresh_schedule,
    save_criterion,
    successors_of,
    update_task,
)

#: (name, e-mail, role, weekly capacity, time zone). Each password is "<role>-demo-pass".
DEMO_USERS = [
    ("Ada Admin", "admin@demo.psa", "admin", 40, "Europe/London"),
    ("Leo Leader", "leader@demo.psa", "leader", 40, "America/New_York"),
    ("Mia Manager", "manager@demo.psa", "manager", 40, "America/New_York"),
    ("Max Manager", "manager2@demo.psa", "manager", 40, "Europe/Berlin"),
    ("Cleo Consultant", "consultant@demo.psa", "consultant", 40, "America/Chicago"),
    ("Carl Consultant", "consultant2@demo.psa", "consultant", 32, "Europe/London"),
    ("Cora Consultant", "consultant3@demo.psa", "consultant", 40, "America/Los_Angeles"),
]

#: (name, segment, ARR, owner e-mail)
DEMO_ACCOUNTS = [
    ("Northwind Traders", "high", Decimal("240000"), "leader@demo.psa"),
    ("Contoso Health", "high", Decimal("410000"), "manager@demo.psa"),
    ("Globex Logistics", "mid", Decimal("96000"), "manager2@demo.psa"),
    ("Initech Software", "mid", Decimal("72000"), "manager@demo.psa"),
    ("Umbrella Retail", "low", Decimal("18000"), "leader@demo.psa"),
    ("Hooli Analytics", "low", Decimal("24000"), None),
]

#: Portal contacts per account: (name, e-mail, title, stakeholder role, view level). Each signs in at
#: /portal/login with CONTACT_PASSWORD; the first takes the account's customer tasks.
DEMO_CONTACTS = {
    "Northwind Traders": [("Nora North", "nora@northwind.demo", "Head of Operations", "project_lead", "full"),
                          ("Ned Wind", "ned@northwind.demo", "COO", "executive_sponsor", "overview"),
                          ("Nia Trader", "nia@northwind.demo", "Warehouse lead", "daily_user", "my_tasks")],
    "Contoso Health": [("Dana Doe", "dana@contoso.demo", "IT Project Manager", "project_lead", "full"),
                       ("Carlos Health", "carlos@contoso.demo", "CIO", "executive_sponsor", "overview"),
                       ("Cami Nurse", "cami@contoso.demo", "Clinical lead", "daily_user", "my_tasks")],
    "Globex Logistics": [("Gina Globe", "gina@globex.demo", "Logistics Systems Lead", "project_lead", "full"),
                         ("Gus Freight", "gus@globex.demo", "Dispatcher", "daily_user", "my_tasks")],
    "Initech Software": [("Ivy Tech", "ivy@initech.demo", "Engineering Manager", "project_lead", "full"),
                         ("Ian Code", "ian@initech.demo", "Developer", "daily_user", "my_tasks")],
    "Umbrella Retail": [("Uma Brella", "uma@umbrella.demo", "Store Ops Manager", "project_lead", "full"),
                        ("Udo Shop", "udo@umbrella.demo", "Store manager", "daily_user", "my_tasks")],
    "Hooli Analytics": [("Hal Hooli", "hal@hooli.demo", "Data Lead", "project_lead", "full"),
                        ("Hana Data", "hana@hooli.demo", "Analyst", "daily_user", "my_tasks")],
}
CONTACT_PASSWORD = "contact-demo-pass"
#: The milestone a contact signed off: (project, milestone).
DEMO_SIGNOFF = ("Globex onboarding", "Training and go-live")
#: Ratings of done milestones: (project, milestone, score, comment), by the account's first contact.
DEMO_RATINGS = [
    ("Globex onboarding", "Kickoff", 5, "Clear plan from day one."),
    ("Globex onboarding", "Configuration", 4, ""),
    ("Globex onboarding", "Training and go-live", 5, "The training sessions were excellent."),
    ("Contoso HL7 feed integration", "Scoping", 3, "The field mapping took two rounds."),
    ("Umbrella POS integration", "Production sync", 4, ""),
]

# --- templates -------------------------------------------------------------------------------------
# A milestone: (name, offset in working days, fee share %, flags, tasks). Flags: "first_value",
# "signoff", "internal" (hidden from the customer). A task: (key, name, offset, duration, hours,
# assignee role, visibility, predecessor keys). Offsets respect the dependencies, so a project
# whose tasks are done on time forecasts no slip.

STANDARD = {
    "name": "Standard SaaS onboarding",
    "description": "The default onboarding for mid- and low-touch customers: kickoff, configuration, "
                   "data migration, training and go-live, then two weeks of hypercare.",
    "target_ttv_days": 45,
    "milestones": [
        ("Kickoff", 3, 10, (), [
            ("handover", "Sales-to-services handover", 0, 1, 2, "manager", "internal", ()),
            ("kickoff", "Kickoff call", 1, 1, 3, "manager", "shared", ("handover",)),
            ("contacts", "Share admin contacts and SSO details", 1, 3, 0, "customer", "shared", ()),
        ]),
        ("Configuration", 12, 25, (), [
            ("tenant", "Provision the production tenant", 2, 2, 4, "consultant", "internal", ("handover",)),
            ("sso", "Configure single sign-on", 5, 2, 6, "consultant", "shared", ("tenant", "contacts")),
            ("workflows", "Configure workflows and permissions", 5, 5, 16, "consultant", "shared", ("tenant",)),
            ("config_review", "Review the configuration", 10, 2, 0, "customer", "shared", ("workflows",)),
        ]),
        ("Data migration", 20, 25, (), [
            ("export", "Export data from the legacy tool", 6, 4, 0, "customer", "shared", ()),
            ("import", "Map and import legacy data", 12, 5, 20, "consultant", "internal", ("export", "workflows")),
            ("validate", "Validate the imported data", 17, 3, 0, "customer", "shared", ("import",)),
        ]),
        ("Training and go-live", 27, 25, ("first_value", "signoff"), [
            ("admin_training", "Admin training", 20, 2, 6, "consultant", "shared", ("config_review",)),
            ("user_training", "End-user training sessions", 22, 3, 8, "consultant", "shared", ("admin_training",)),
            ("golive", "Go-live", 26, 1, 4, "manager", "shared", ("validate", "user_training")),
        ]),
        ("Hypercare and handover", 38, 15, ("signoff",), [
            ("hypercare", "Hypercare check-ins", 27, 10, 8, "consultant", "shared", ("golive",)),
            ("cs_handover", "Handover to customer success", 37, 1, 2, "manager", "internal", ("hypercare",)),
            ("success_review", "Success review with the customer", 38, 1, 2, "manager", "shared", ("cs_handover",)),
        ]),
    ],
    "criteria": [
        ("Team working in the product", "Weekly active users", "0", "80 % of licences", 45),
        ("Legacy tool retired", "Open records left in the legacy tool", "All", "0", 60),
        ("New hires productive sooner", "Days until a new hire works unaided", "10", "3", 90),
    ],
}

ENTERPRISE = {
    "name": "Enterprise implementation",
    "description": "High-touch implementation with discovery, solution design, integrations, a trial "
                   "migration, user acceptance testing and a managed cutover.",
    "target_ttv_days": 120,
    "milestones": [
        ("Mobilisation", 6, 5, (), [
            ("handover", "Sales-to-services handover", 0, 1, 3, "manager", "internal", ()),
            ("kickoff", "Executive kickoff workshop", 2, 1, 6, "manager", "shared", ("handover",)),
            ("team", "Name the customer project team", 1, 3, 0, "customer", "shared", ()),
            ("plan", "Agree the project plan", 4, 2, 4, "manager", "shared", ("kickoff", "team")),
        ]),
        ("Discovery and design", 22, 15, ("signoff",), [
            ("workshops", "Current-state workshops", 7, 5, 24, "consultant", "shared", ("plan",)),
            ("security", "Complete the security questionnaire", 7, 8, 0, "customer", "shared", ("plan",)),
            ("requirements", "Requirements catalogue", 12, 4, 16, "consultant", "shared", ("workshops",)),
            ("design", "Solution design document", 16, 4, 20, "consultant", "shared", ("requirements",)),
            ("design_signoff", "Sign off the solution design", 20, 3, 0, "customer", "shared", ("design",)),
        ]),
        ("Build", 45, 20, (), [
            ("environments", "Provision environments", 23, 3, 8, "consultant", "internal", ("design_signoff",)),
            ("sso", "Single sign-on and SCIM provisioning", 26, 4, 12, "consultant", "shared",
             ("environments", "security")),
            ("core_config", "Core configuration", 26, 10, 40, "consultant", "internal", ("environments",)),
            ("integrations", "Build the ERP and CRM integrations", 28, 14, 60, "consultant", "internal",
             ("environments",)),
            ("reporting", "Reports and dashboards", 36, 8, 24, "consultant", "shared", ("core_config",)),
        ]),
        ("Data migration", 56, 15, (), [
            ("extract", "Extract data from legacy systems", 30, 8, 0, "customer", "shared", ()),
            ("mapping", "Data mapping and transformation rules", 38, 5, 16, "consultant", "internal", ("extract",)),
            ("trial", "Trial migration", 46, 5, 20, "consultant", "internal", ("mapping", "core_config")),
            ("reconcile", "Reconcile the trial migration", 51, 4, 0, "customer", "shared", ("trial",)),
        ]),
        ("Testing", 70, 15, ("signoff",), [
            ("test_plan", "Test plan and scripts", 46, 5, 12, "consultant", "shared", ("core_config",)),
            ("system_test", "System testing", 51, 6, 24, "consultant", "internal",
             ("test_plan", "integrations", "reporting")),
            ("uat", "User acceptance testing", 57, 8, 0, "customer", "shared", ("system_test", "reconcile")),
            ("fixes", "Fix UAT defects", 62, 6, 24, "consultant", "internal", ()),
            ("uat_signoff", "UAT sign-off", 68, 2, 0, "customer", "shared", ("uat", "fixes")),
        ]),
        ("Go-live", 80, 20, ("first_value", "signoff"), [
            ("trainers", "Train the trainers", 62, 3, 12, "consultant", "shared", ("test_plan",)),
            ("end_users", "Roll out end-user training", 65, 8, 0, "customer", "shared", ("trainers",)),
            ("cutover_plan", "Cutover and rollback plan", 68, 3, 8, "manager", "shared", ("system_test",)),
            ("cutover", "Production cutover", 76, 2, 16, "consultant", "shared",
             ("cutover_plan", "uat_signoff", "end_users")),
            ("golive_check", "Go-live readiness check", 78, 2, 4, "manager", "shared", ("cutover",)),
        ]),
        ("Hypercare", 95, 10, ("signoff",), [
            ("hypercare", "Hypercare support", 80, 12, 30, "consultant", "shared", ("golive_check",)),
            ("support_handover", "Handover to support and customer success", 92, 2, 4, "manager", "internal",
             ("hypercare",)),
            ("exec_review", "Executive success review", 94, 1, 4, "manager", "shared", ("support_handover",)),
        ]),
    ],
    "criteria": [
        ("Single system of record", "Business units on the platform", "0 of 6", "6 of 6", 150),
        ("Faster month-end close", "Days to close the books", "9", "4", 180),
        ("Fewer manual hand-offs", "Spreadsheets in the monthly process", "23", "5", 180),
    ],
}

INTEGRATION = {
    "name": "Integration add-on",
    "description": "Connect one more system to a live customer: scoping, connector build and testing, "
                   "then production sync.",
    "target_ttv_days": 20,
    "milestones": [
        ("Scoping", 3, 20, (), [
            ("scoping", "Integration scoping call", 0, 1, 2, "consultant", "shared", ()),
            ("credentials", "Provide API credentials", 1, 2, 0, "customer", "shared", ("scoping",)),
            ("field_map", "Confirm the field mapping", 1, 3, 0, "customer", "shared", ("scoping",)),
        ]),
        ("Build and test", 10, 50, (), [
            ("connector", "Configure the connector", 4, 3, 8, "consultant", "internal", ("credentials", "field_map")),
            ("sandbox", "Test the sync in the sandbox", 7, 2, 4, "consultant", "shared", ("connector",)),
            ("customer_test", "Customer test of synced records", 9, 2, 0, "customer", "shared", ("sandbox",)),
        ]),
        ("Production sync", 14, 30, ("first_value", "signoff"), [
            ("enable", "Enable the production sync", 11, 1, 2, "consultant", "shared", ("customer_test",)),
            ("monitor", "Monitor the first week of syncs", 12, 3, 3, "consultant", "shared", ("enable",)),
        ]),
    ],
    "criteria": [
        ("No more double entry", "Records keyed in twice a week", "150", "0", 30),
        ("Reliable sync", "Failed syncs a week", "n/a", "under 1 %", 30),
    ],
}

DEMO_TEMPLATES = {"standard": STANDARD, "enterprise": ENTERPRISE, "integration": INTEGRATION}


@dataclass(frozen=True)
class DemoProject:
    """A demo project. Its kickoff is `kickoff_days_ago` calendar days before today, or, for a slipping
    project, chosen so that milestone `late_milestone` (1-based) is `late_days` working days overdue;
    `done` says how far the work has gone: "on_time" (everything due before today is done), "late"
    (the same, but the last task of the late milestone and what waits for it are still open), "all"
    or "some" (the first few tasks)."""

    name: str
    account: str
    template: str
    manager: str
    consultants: tuple[str, ...]
    status: str = "active"
    kickoff_days_ago: int = 0
    done: str = "on_time"
    late_milestone: int = 0
    late_days: int = 0
    #: The task of the late milestone left open (its last one by default); blocked with blocked_reason.
    late_task: str = ""
    billing_model: str = "fixed_fee"
    fee: int | None = 30000
    blocked_reason: str = ""


DEMO_PROJECTS = [
    DemoProject("Northwind enterprise rollout", "Northwind Traders", "enterprise", "manager@demo.psa",
                ("consultant@demo.psa", "consultant2@demo.psa"), kickoff_days_ago=112, fee=185000),
    DemoProject("Northwind scanner integration", "Northwind Traders", "integration", "manager2@demo.psa",
                ("consultant@demo.psa",), kickoff_days_ago=6, fee=12000),
    DemoProject("Contoso clinical suite implementation", "Contoso Health", "enterprise", "manager2@demo.psa",
                ("consultant3@demo.psa", "consultant@demo.psa"), done="late", late_milestone=3, late_days=8,
                late_task="Single sign-on and SCIM provisioning", billing_model="time_and_materials", fee=240000,
                blocked_reason="Waiting for Contoso's security team to approve the SCIM connector."),
    DemoProject("Contoso HL7 feed integration", "Contoso Health", "integration", "manager@demo.psa",
                ("consultant2@demo.psa",), status="completed", kickoff_days_ago=118, done="all", fee=15000),
    DemoProject("Contoso second-region onboarding", "Contoso Health", "standard", "manager@demo.psa",
                ("consultant@demo.psa", "consultant3@demo.psa"), done="late", late_milestone=2, late_days=3,
                fee=38000),
    DemoProject("Globex onboarding", "Globex Logistics", "standard", "manager2@demo.psa", ("consultant3@demo.psa",),
                status="completed", kickoff_days_ago=104, done="all", fee=32000),
    DemoProject("Globex carrier API integration", "Globex Logistics", "integration", "manager2@demo.psa",
                ("consultant@demo.psa",), done="late", late_milestone=2, late_days=2, fee=14000),
    DemoProject("Initech onboarding", "Initech Software", "standard", "manager@demo.psa", ("consultant@demo.psa",),
                kickoff_days_ago=24, fee=28000),
    DemoProject("Initech data warehouse connector", "Initech Software", "integration", "manager@demo.psa",
                ("consultant2@demo.psa",), status="planned", kickoff_days_ago=-7, billing_model="non_billable",
                fee=None),
    DemoProject("Umbrella quick start", "Umbrella Retail", "standard", "manager2@demo.psa", ("consultant2@demo.psa",),
                status="on_hold", done="late", late_milestone=3, late_days=9, fee=16000),
    DemoProject("Umbrella POS integration", "Umbrella Retail", "integration", "manager@demo.psa",
                ("consultant3@demo.psa",), status="completed", kickoff_days_ago=82, done="all", fee=9000),
    DemoProject("Hooli analytics onboarding", "Hooli Analytics", "standard", "manager@demo.psa",
                ("consultant3@demo.psa",), status="cancelled", kickoff_days_ago=95, done="some", fee=21000),
    DemoProject("Hooli enterprise expansion", "Hooli Analytics", "enterprise", "leader@demo.psa",
                ("consultant2@demo.psa", "consultant3@demo.psa"), kickoff_days_ago=40,
                billing_model="time_and_materials", fee=150000),
]

#: (project name, author e-mail, visibility, text)
DEMO_COMMENTS = [
    ("Contoso clinical suite implementation", "manager2@demo.psa", "internal",
     "Build is behind: SSO is blocked on Contoso's security review. Escalated to their CIO on Monday."),
    ("Contoso clinical suite implementation", "consultant3@demo.psa", "shared",
     "The SCIM connector is configured in the sandbox and ready as soon as the security review is approved."),
    ("Globex carrier API integration", "consultant@demo.psa", "shared",
     "The carrier sandbox rate-limits us; we are testing in smaller batches."),
    ("Northwind enterprise rollout", "manager@demo.psa", "shared",
     "Great UAT week, thank you all. The cutover plan is attached to the Go-live milestone."),
    ("Umbrella quick start", "manager2@demo.psa", "internal",
     "On hold at the customer's request until their store refit is finished."),
    ("Hooli analytics onboarding", "manager@demo.psa", "internal",
     "Cancelled: Hooli merged with another customer and moves to their contract."),
]


def demo_password(role: str) -> str:
    return f"{role}-demo-pass"


#: Where the demo organisation works (its time zone is America/New_York): its public holidays are loaded.
DEMO_HOLIDAY_COUNTRY = "US"


def demo_contact_sign_ins() -> list[tuple[str, str, str]]:
    """(e-mail, account, password) of the demo's active portal contacts, who sign in at /portal/login."""
    emails = [email for contacts in DEMO_CONTACTS.values() for _, email, *_ in contacts]
    rows = db.session.execute(sa.select(Contact.email, Contact.account_id).where(
        Contact.email.in_(emails), Contact.is_active_contact.is_(True))).all()
    from psa.accounts.models import Account

    names = dict(db.session.execute(sa.select(Account.id, Account.name)).all())
    order = {email: n for n, email in enumerate(emails)}
    return [(row.email, names[row.account_id], CONTACT_PASSWORD) for row in sorted(rows, key=lambda r: order[r.email])]


def print_contact_sign_ins(log, sign_ins: list[tuple[str, str, str]]) -> None:
    """The portal's sign-ins, as the users' table is printed."""
    log("Customer contacts sign in to the portal at /portal/login with:")
    for email, account, password in sign_ins:
        log(f"  {account:<18} {email:<28} {password}")


def demo_sign_ins() -> list[tuple[str, str, str]]:
    """(e-mail, role, password) of the demo users still present and active, for `psa demo --if-empty` to
    print on every `make run` while the demo is in use."""
    emails = [email for _, email, _, _, _ in DEMO_USERS] + [_heavy_email()]
    rows = db.session.execute(sa.select(User.email, User.role).where(
        User.email.in_(emails), User.is_active_user.is_(True))).all()
    order = {email: n for n, email in enumerate(emails)}
    return [(email, role, demo_password(role)) for email, role in sorted(rows, key=lambda r: order[r.email])]


def _heavy_email() -> str:
    from psa.demo_large import HEAVY_EMAIL

    return HEAVY_EMAIL


def database_is_empty() -> bool:
    return db.session.scalar(sa.select(sa.func.count(User.id))) == 0


def load_demo(scale: str = "small", *, large_scale=None, log=None) -> list[tuple[str, str, str]]:
    """Load the demo and commit; return (e-mail, role, password) for every demo user. At scale "large", the
    generated two-year history of psa.demo_large follows (`large_scale`, a LargeScale, defaults to its FULL;
    `log` is told each phase's time)."""
    update_settings(None, org_name="Acme Professional Services", brand_name="Acme Onboarding",
                    timezone="America/New_York")
    get_settings()
    for year in range(org_today().year - 2, org_today().year + 2):  # the organisation's country's holidays
        load_public_holidays(None, DEMO_HOLIDAY_COUNTRY, year)
    users = {}
    for name, email, role, capacity, zone in DEMO_USERS:
        users[email] = create_user(None, email=email, name=name, role=role, password=demo_password(role),
                                   timezone=zone, weekly_capacity_hours=Decimal(capacity))
    accounts = {}
    for name, segment, arr, owner in DEMO_ACCOUNTS:
        accounts[name] = create_account(None, name=name, segment=segment, arr=arr, owner=users.get(owner))
    contacts = make_demo_contacts(accounts, users["admin@demo.psa"])
    admin = users["admin@demo.psa"]
    versions = {key: build_template(admin, spec) for key, spec in DEMO_TEMPLATES.items()}
    today = org_today()
    projects = [make_demo_project(spec, users=users, accounts=accounts, versions=versions, today=today,
                                  contacts=contacts.get(spec.account, []))
                for spec in DEMO_PROJECTS]
    by_name = {p.name: p for p in projects}
    _portal_history(by_name, contacts, today)
    for project_name, author, visibility, text in DEMO_COMMENTS:
        add_comment(users[author], by_name[project_name], body=text, visibility=visibility)
    from psa.timesheets.demo import load_demo_time

    load_demo_time(users, today)
    refresh_schedule([p.id for p in projects], today)
    credentials = [(email, role, demo_password(role)) for _, email, role, _, _ in DEMO_USERS]
    if scale == "large":
        from psa.demo_large import FULL, HEAVY_EMAIL, generate_large

        db.session.commit()
        generate_large(users=users, versions=versions, today=today, scale=large_scale or FULL, log=log)
        credentials.append((HEAVY_EMAIL, "consultant", demo_password("consultant")))
    db.session.commit()
    return credentials


def make_demo_contacts(accounts: dict, actor) -> dict[str, list[Contact]]:
    """Two or three active portal contacts per account, with the demo password set (as an accepted invitation
    leaves them), audited as the contact pages record it."""
    made: dict[str, list[Contact]] = {}
    for account_name, rows in DEMO_CONTACTS.items():
        for name, email, title, stakeholder, view in rows:
            contact = Contact(account_id=accounts[account_name].id, name=name, email=email, title=title,
                              stakeholder_role=stakeholder, view_level=view, is_active_contact=True)
            contact.set_password(CONTACT_PASSWORD)
            db.session.add(contact)
            db.session.flush()
            record_audit(actor, "contact.created", contact, after={"name": name, "email": email})
            made.setdefault(account_name, []).append(contact)
    return made


def _portal_history(projects: dict, contacts: dict, today: date) -> None:
    """What the customers did in the portal: one milestone signed off, a few ratings of done milestones
    (by the account's project lead, audited as the portal records them)."""
    def milestone(project_name: str, name: str) -> tuple[Project, Milestone]:
        project = projects[project_name]
        return project, db.session.scalar(sa.select(Milestone).where(Milestone.project_id == project.id,
                                                                     Milestone.name == name))

    project, signed = milestone(*DEMO_SIGNOFF)
    lead = contacts[next(s.account for s in DEMO_PROJECTS if s.name == project.name)][0]
    signed.signed_off_at = (signed.completed_at or _at(today)) + timedelta(hours=20)
    signed.signed_off_by_contact_id = lead.id
    record_audit(lead, "milestone.signed_off", signed, {"signed_off_at": None},
                 {"signed_off_at": signed.signed_off_at.isoformat()})
    for project_name, name, score, comment in DEMO_RATINGS:
        project, rated = milestone(project_name, name)
        lead = contacts[next(s.account for s in DEMO_PROJECTS if s.name == project_name)][0]
        db.session.add(MilestoneRating(milestone_id=rated.id, contact_id=lead.id, project_id=project.id,
                                       score=score, comment=comment,
                                       created_at=(rated.completed_at or _at(today)) + timedelta(days=1)))
        record_audit(lead, "milestone.rated", rated, None, {"score": score, "comment": comment})
    db.session.flush()


def build_template(actor, spec: dict) -> TemplateVersion:
    """Create and publish a template through the template services."""
    version = create_template(actor, name=spec["name"], description=spec["description"],
                              target_ttv_days=spec["target_ttv_days"])
    tasks, wanted = {}, []
    for name, offset, share, flags, task_specs in spec["milestones"]:
        milestone = add_milestone(actor, version, name=name, offset_days=offset, fee_share_percent=share,
                                  is_first_value="first_value" in flags, requires_signoff="signoff" in flags,
                                  is_customer_visible="internal" not in flags)
        for key, task_name, t_offset, duration, hours, role, visibility, predecessors in task_specs:
            tasks[key] = add_task(actor, milestone, name=task_name, offset_days=t_offset, duration_days=duration,
                                  estimated_minutes=hours * 60, assignee_role=role, visibility=visibility)
            if predecessors:
                wanted.append((key, predecessors))
    for key, predecessors in wanted:
        set_predecessors(actor, tasks[key], [tasks[p].id for p in predecessors])
    for outcome, metric, baseline, target, due in spec["criteria"]:
        add_criterion(actor, version, outcome=outcome, metric=metric, baseline=baseline, target=target,
                      due_offset_days=due)
    return publish_version(actor, version)


def _kickoff(spec: DemoProject, version: TemplateVersion, today: date) -> date:
    if spec.done != "late":
        return today - timedelta(days=spec.kickoff_days_ago)
    offset = next(m.offset_days for m in version.milestones if m.position == spec.late_milestone)
    return get_calendar().add_working_days(today, -(offset + spec.late_days))


def _at(day: date) -> datetime:
    """A completion timestamp on the given day (late afternoon in Europe, midday in America)."""
    return datetime.combine(day, time(16, 0), tzinfo=UTC)


def make_demo_project(spec: DemoProject, *, users: dict, accounts: dict, versions: dict, today: date,
                      contacts: list[Contact] = ()) -> Project:
    """Create one demo project from its template and play its history: work done, late and blocked tasks,
    backdated completions and the success criteria's statuses. Its customer tasks go to the account's contacts
    (the project lead most, a daily user some; set directly, so no e-mail leaves for a demo address)."""
    version = versions[spec.template]
    manager = users[spec.manager]
    kickoff = _kickoff(spec, version, today)
    project = create_project(
        manager, account=accounts[spec.account], name=spec.name, kickoff_date=kickoff, manager=manager,
        template_version=version, contract_signed_date=kickoff - timedelta(days=9 + len(spec.name) % 7),
        members=[users[e] for e in spec.consultants], billing_model=spec.billing_model,
        fee_amount=Decimal(spec.fee) if spec.fee is not None else None, status=spec.status)
    milestones = db.session.scalars(sa.select(Milestone).where(Milestone.project_id == project.id)
                                    .order_by(Milestone.position)).all()
    tasks = db.session.scalars(sa.select(Task).where(Task.project_id == project.id)
                               .order_by(Task.due_date, Task.id)).all()
    consultants = [users[e] for e in spec.consultants]
    for i, task in enumerate(t for t in tasks if t.assignee_role == "consultant"):
        task.assignee_id = consultants[i % len(consultants)].id
    for i, task in enumerate(t for t in tasks if t.assignee_role == "customer"):
        if contacts:  # every third one stays with the customer as a group
            task.assignee_contact_id = None if i % 3 == 2 else contacts[0 if i % 3 == 0 else -1].id
    db.session.flush()

    keep_open: set[int] = set()
    stuck = None
    if spec.done == "late":
        late = milestones[spec.late_milestone - 1]
        candidates = [t for t in tasks if t.milestone_id == late.id]
        stuck = next((t for t in candidates if t.name == spec.late_task), None) or max(
            candidates, key=lambda t: (t.due_date, t.id))
        keep_open = {stuck.id, *successors_of(stuck.id, project.id)}
    if spec.done == "all":
        to_finish = list(tasks)
    elif spec.done == "some":
        to_finish = [t for t in tasks if t.due_date < kickoff + timedelta(days=21)]
    else:
        to_finish = [t for t in tasks if t.due_date < today and t.id not in keep_open]
    for task in to_finish:
        update_task(manager, task, status="done")
        task.completed_at = _at(min(task.due_date, today))
    if spec.status in ("active", "on_hold"):
        for task in tasks:
            if task.status != "done" and task.start_date <= today:
                if spec.blocked_reason and task is stuck:
                    update_task(manager, task, status="blocked", blocked_reason=spec.blocked_reason)
                else:
                    update_task(manager, task, status="in_progress")
    for milestone in milestones:
        if milestone.status == "done":
            milestone.completed_at = max(t.completed_at for t in tasks if t.milestone_id == milestone.id)
    _set_criteria(manager, project, spec, today)
    db.session.flush()
    refresh_schedule([project.id], today)
    return project


def _set_criteria(actor, project: Project, spec: DemoProject, today: date) -> None:
    """Give the project's success criteria believable statuses for its stage."""
    criteria = db.session.scalars(sa.select(SuccessCriterion).where(SuccessCriterion.project_id == project.id)
                                  .order_by(SuccessCriterion.position)).all()
    for i, criterion in enumerate(criteria):
        if spec.status == "completed":
            status, current = ("achieved", criterion.target) if i < 2 else ("on_track", "")
        elif spec.status == "cancelled":
            status, current = "missed", ""
        elif spec.done == "late":
            status, current = ("at_risk" if i == 0 else "on_track"), criterion.baseline
        elif spec.status == "planned" or project.kickoff_date > today - timedelta(days=14):
            status, current = "not_started", ""
        else:
            status, current = "on_track", criterion.baseline
        save_criterion(actor, project, criterion, outcome=criterion.outcome, metric=criterion.metric,
                       baseline=criterion.baseline, target=criterion.target, current_value=current,
                       due_date=criterion.due_date, status=status)
