"""Users changed from several sessions at once: the last active admin survives admins demoting or
deactivating each other at the same moment, and two renames to one e-mail give one winner and a field message."""

from __future__ import annotations

import sqlalchemy as sa

from psa.auth.models import User
from psa.auth.services import set_user_active, update_user
from psa.extensions import db
from tests.concurrency.helpers import ROUNDS, THREADS, kinds, no_errors, race


def _active_admins(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count(User.id)).where(
            User.role == "admin", User.is_active_user.is_(True)))


def _admins(app, make, n: int) -> list[int]:
    return [make.user(role="admin", email=f"admin{i}-{n}@example.com").id for i in range(THREADS)]


def test_admins_demoting_each_other_at_once_leave_one_admin(app, make):
    for round_ in range(ROUNDS):
        with app.app_context():
            db.session.execute(sa.update(User).where(User.role == "admin").values(role="leader"))
            db.session.commit()
        ids = _admins(app, make, round_)

        def demote(i, go, ids=ids):
            actor = db.session.get(User, ids[i])
            target = db.session.get(User, ids[(i + 1) % THREADS])
            go()
            update_user(actor, target, email=target.email, name=target.name, role="consultant",
                        timezone=target.timezone, weekly_capacity_hours=target.weekly_capacity_hours)
            db.session.commit()

        outcomes = race(app, demote)
        no_errors(outcomes)
        assert kinds(outcomes) == ["invalid"] + ["ok"] * (THREADS - 1)
        refused = next(o for o in outcomes if o.kind == "invalid")
        assert refused.value.errors == {"role": "This is the last active admin; make someone else admin first."}
        assert _active_admins(app) == 1


def test_admins_deactivating_each_other_at_once_leave_one_active_admin(app, make):
    for round_ in range(ROUNDS):
        with app.app_context():
            db.session.execute(sa.update(User).where(User.role == "admin").values(role="leader"))
            db.session.commit()
        ids = _admins(app, make, 100 + round_)

        def deactivate(i, go, ids=ids):
            actor = db.session.get(User, ids[i])
            target = db.session.get(User, ids[(i + 1) % THREADS])
            go()
            set_user_active(actor, target, False)
            db.session.commit()

        outcomes = race(app, deactivate)
        no_errors(outcomes)
        assert kinds(outcomes) == ["invalid"] + ["ok"] * (THREADS - 1)
        assert _active_admins(app) == 1


def test_renames_to_one_address_at_once_give_one_winner_and_field_messages(app, make):
    admin = make.user(role="admin")
    for round_ in range(ROUNDS):
        ids = [make.user(role="consultant", email=f"c{i}-{round_}@example.com").id for i in range(THREADS)]
        wanted = f"shared-{round_}@example.com"

        def rename(i, go, ids=ids, wanted=wanted):
            actor, user = db.session.get(User, admin.id), db.session.get(User, ids[i])
            go()
            update_user(actor, user, email=wanted, name=user.name, role=user.role, timezone=user.timezone,
                        weekly_capacity_hours=user.weekly_capacity_hours)
            db.session.commit()

        outcomes = race(app, rename)
        no_errors(outcomes)
        assert kinds(outcomes) == ["invalid"] * (THREADS - 1) + ["ok"]
        assert all(o.value.errors == {"email": "A user with this e-mail already exists."}
                   for o in outcomes if o.kind == "invalid")
        with app.app_context():
            assert db.session.scalar(sa.select(sa.func.count(User.id)).where(User.email == wanted)) == 1
