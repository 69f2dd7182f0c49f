"""Demo data for `psa demo`: a small team of every role and a few customer accounts.

Later features add templates, projects and time to it.
"""

from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa

from psa.accounts.services import create_account
from psa.admin.services import get_settings, update_settings
from psa.auth.models import User
from psa.auth.services import create_user
from psa.extensions import db

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


def demo_password(role: str) -> str:
    return f"{role}-demo-pass"


def database_is_empty() -> bool:
    return db.session.scalar(sa.select(sa.func.count(User.id))) == 0


def load_demo(scale: str = "small") -> list[tuple[str, str, str]]:
    """Load the demo and commit; return (e-mail, role, password) for every demo user."""
    update_settings(None, org_name="Acme Professional Services", brand_name="Acme Onboarding",
                    timezone="America/New_York")
    get_settings()
    users = {}
    for name, email, role, capacity, zone in DEMO_USERS:
        users[email] = create_user(None, email=email, name=name, role=role, password=demo_password(role),
                                   timezone=zone, weekly_capacity_hours=Decimal(capacity))
    for name, segment, arr, owner in DEMO_ACCOUNTS:
        create_account(None, name=name, segment=segment, arr=arr, owner=users.get(owner))
    db.session.commit()
    return [(email, role, demo_password(role)) for _, email, role, _, _ in DEMO_USERS]
