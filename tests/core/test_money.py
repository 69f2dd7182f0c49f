"""Money is exact on both databases: stored as typed (at most two decimals, never rounded, never a float),
read back the same, summed exactly in SQL, refused at its field when it has more decimals or an exponent,
and rounded half-up to the cent only where a figure is computed."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa

from psa.accounts.models import Account
from psa.accounts.services import create_account, update_account
from psa.core.db import ExactNumeric
from psa.core.errors import ValidationError
from psa.core.models import AuditEvent
from psa.core.money import money_sum, round_money, to_exact, to_money
from psa.extensions import db
from psa.projects.models import Project
from psa.projects.services import create_project, update_project
from psa.timesheets import services as ts
from psa.timesheets.models import UserRate
from tests.conftest import login_as, post_form

RATES = [Decimal("0.00"), Decimal("0.01"), Decimal("100.00"), Decimal("100.10"), Decimal("9999999999.99")]
AMOUNTS = [*RATES, Decimal("999999999999.99")]


def _raw(sql: str):
    return db.session.execute(sa.text(sql)).scalars().all()


def test_rates_are_stored_and_read_back_exactly(ctx, make):
    user = make.user()
    for n, value in enumerate(RATES):
        ts.set_user_rate(None, user, effective_from=date(2026, 1, 1 + n), cost_rate=value, bill_rate=value)
    db.session.commit()
    db.session.expire_all()
    read = db.session.scalars(sa.select(UserRate.cost_rate).order_by(UserRate.effective_from)).all()
    assert read == RATES
    assert [str(value) for value in read] == ["0.00", "0.01", "100.00", "100.10", "9999999999.99"]
    stored = _raw("SELECT bill_rate FROM user_rates ORDER BY effective_from")
    if db.engine.dialect.name == "sqlite":  # integer cents, never a float
        assert stored == [0, 1, 10000, 10010, 999999999999]
    else:
        assert stored == RATES


def test_fees_and_arr_are_stored_and_read_back_exactly(ctx, make):
    manager = make.user(role="manager")
    for value in AMOUNTS:
        account = create_account(None, name=f"Account {value}", arr=value)
        create_project(None, account=account, name=f"Project {value}", kickoff_date=date(2026, 9, 1),
                       manager=manager, fee_amount=value if value else Decimal("1"))
    db.session.commit()
    db.session.expire_all()
    assert db.session.scalars(sa.select(Account.arr).order_by(Account.arr)).all() == AMOUNTS
    assert db.session.scalars(sa.select(Project.fee_amount).order_by(Project.fee_amount)).all() == [
        Decimal("0.01"), Decimal("1.00"), *AMOUNTS[2:]]


def test_a_sum_in_sql_is_exact_on_both_databases(ctx, make):
    assert db.session.scalar(sa.select(money_sum(Account.arr))) == Decimal("0")  # no rows: 0, not None
    for _ in range(3):
        make.account(arr=Decimal("0.10"))
    total = db.session.scalar(sa.select(money_sum(Account.arr)))
    assert total == Decimal("0.30") and str(total) == "0.30"
    assert db.session.scalar(sa.select(sa.func.sum(Account.arr))) == Decimal("0.30")  # sum keeps the type
    # a whole-number multiple and a comparison with a typed bound are in the stored units too
    assert db.session.scalar(sa.select(sa.func.sum(Account.arr * 7))) == Decimal("2.10")
    assert db.session.scalar(sa.select(sa.func.count()).where(Account.arr == Decimal("0.1"))) == 3
    assert db.session.scalar(sa.select(sa.func.count()).where(Account.arr > Decimal("0.09"))) == 3


@pytest.mark.parametrize("expression", [
    lambda: Account.arr / 60,
    lambda: Account.arr * 1.5,
    lambda: Account.arr * Decimal("1.5"),
    lambda: UserRate.cost_rate * UserRate.bill_rate,
    lambda: Account.arr + 1.5,
    lambda: Account.arr + Account.id,
], ids=["divide", "times-float", "times-decimal", "times-money", "plus-float", "plus-integer-column"])
def test_sql_arithmetic_that_would_be_off_on_sqlite_is_refused_when_built(expression):
    with pytest.raises(TypeError):
        expression()


@pytest.mark.parametrize("value", [Decimal("1.005"), 1.5, Decimal("NaN"), Decimal("1E+12"), True])
def test_the_column_type_refuses_what_it_cannot_store_exactly(value):
    with pytest.raises(ValueError, match=r"."):
        ExactNumeric(12, 2).exact(value)


def test_the_column_type_never_rounds_on_the_way_in(ctx, make):
    account = make.account(arr=Decimal("5.00"))
    account.arr = Decimal("100.005")
    with pytest.raises(sa.exc.StatementError, match="more than 2 decimal places"):
        db.session.flush()
    db.session.rollback()
    assert db.session.get(Account, account.id).arr == Decimal("5.00")


def test_bounds_of_check_constraints_are_in_the_stored_units(ctx, make):
    # weekly capacity 0..168 and fee shares 0..100 hold on both databases (hundredths on SQLite)
    user = make.user(weekly_capacity_hours=Decimal("168.00"))
    assert user.weekly_capacity_hours == Decimal("168.00")
    user.weekly_capacity_hours = Decimal("168.01")
    with pytest.raises(sa.exc.IntegrityError):
        db.session.flush()
    db.session.rollback()


@pytest.mark.parametrize(("typed", "message"), [
    ("100.005", "Use at most 2 decimals, like 1.25."),
    ("1e3", "Enter an amount such as 120 or 95.50."),
    (Decimal("100.005"), "Use at most 2 decimals, like 1.25."),
    ("NaN", "Enter an amount such as 120 or 95.50."),
    (100.5, "Enter an amount such as 120 or 95.50."),  # a float is never money
])
def test_the_rate_service_refuses_at_the_field_and_stores_nothing(ctx, make, typed, message):
    user = make.user()
    with pytest.raises(ValidationError) as refused:
        ts.set_user_rate(None, user, effective_from=date(2026, 1, 1), cost_rate=typed, bill_rate="150")
    assert refused.value.errors == {"cost_rate": message}
    assert db.session.scalar(sa.select(sa.func.count(UserRate.id))) == 0


@pytest.mark.parametrize(("typed", "message"), [
    ("100.005", "Use at most 2 decimals, like 1.25."), ("1e3", "Enter an amount such as 120 or 95.50.")])
def test_the_rate_form_refuses_at_the_field(client, app, make, typed, message):
    consultant = make.user()
    login_as(client, make.user(role="admin"))
    response = post_form(client, "/timesheets/rates", {"user_id": consultant.id, "effective_from": "2026-01-01",
                                                       "cost_rate": typed, "bill_rate": "150"},
                         token_from="/timesheets/rates")
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert html.index(message) > html.index('id="cost_rate"')
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(UserRate.id))) == 0


@pytest.mark.parametrize(("typed", "message"), [
    ("100.005", "Use at most 2 decimals, like 1.25."),
    (Decimal("100.005"), "Use at most 2 decimals, like 1.25."),
    ("1e3", "Enter an amount such as 120 or 95.50."),
    ("-1", "Enter an amount from 0 to 999,999,999,999.99."),
    ("1000000000000", "Enter an amount from 0 to 999,999,999,999.99."),
])
def test_the_project_fee_and_account_arr_are_refused_at_the_field(ctx, make, typed, message):
    manager = make.user(role="manager")
    account = make.account(arr=Decimal("10.00"))
    with pytest.raises(ValidationError) as refused:
        create_project(None, account=account, name="Fee", kickoff_date=date(2026, 9, 1), manager=manager,
                       fee_amount=typed)
    assert refused.value.errors == {"fee_amount": message}
    with pytest.raises(ValidationError) as refused:
        create_account(None, name="New", arr=typed)
    assert refused.value.errors == {"arr": message}
    with pytest.raises(ValidationError) as refused:
        update_account(None, account, name=account.name, segment=account.segment, owner=None, arr=typed)
    assert refused.value.errors == {"arr": message}
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count(Project.id))) == 0
    assert db.session.scalars(sa.select(Account.arr)).all() == [Decimal("10.00")]


def test_the_audit_trail_records_the_stored_value(ctx, make):
    manager = make.user(role="manager")
    account = create_account(None, name="Audited", arr="100.1")
    project = create_project(None, account=account, name="Audited", kickoff_date=date(2026, 9, 1),
                             manager=manager, fee_amount="2500.5")
    db.session.commit()
    update_account(None, account, name="Audited", segment="mid", owner=None, arr=Decimal("100.10"))
    update_project(None, project, account=account, name="Audited", kickoff_date=date(2026, 9, 1),
                   contract_signed_date=None, target_go_live_date=project.target_go_live_date, manager=manager,
                   members=[], billing_model="fixed_fee", fee_amount=Decimal("2600"), budget_minutes=None,
                   status="active")
    db.session.commit()
    db.session.expire_all()
    assert str(db.session.get(Account, account.id).arr) == "100.10"
    assert str(db.session.get(Project, project.id).fee_amount) == "2600.00"
    events = {event.action: event for event in db.session.scalars(sa.select(AuditEvent))}
    assert events["account.created"].after["arr"] == "100.10"
    assert "account.updated" not in events  # the same amount typed differently is no change
    assert events["project.created"].after["fee_amount"] == "2500.50"
    assert events["project.updated"].before["fee_amount"] == "2500.50"
    assert events["project.updated"].after["fee_amount"] == "2600.00"


@pytest.mark.parametrize(("amount", "rounded"), [
    ("0.125", "0.13"), ("0.135", "0.14"), ("0.145", "0.15"),  # half-even would give 0.12, 0.14, 0.14
    ("0.005", "0.01"), ("0.015", "0.02"), ("0.025", "0.03"),  # 0.5, 1.5 and 2.5 cents
    ("-0.125", "-0.13"), ("0.1249999", "0.12"), ("7", "7.00"), ("2.675", "2.68"),
])
def test_round_money_rounds_half_up_to_the_cent(amount, rounded):
    assert str(round_money(Decimal(amount))) == rounded


def test_round_money_refuses_floats():
    with pytest.raises(TypeError):
        round_money(2.675)


def test_to_money_returns_the_amount_as_stored():
    assert str(to_money("95.5", "rate")) == "95.50"
    assert str(to_money(120, "rate")) == "120.00"
    assert str(to_money("-0", "rate")) == "0.00"
    assert str(to_exact("37.5", "weekly_capacity_hours", high=Decimal(168))) == "37.50"
    with pytest.raises(ValidationError) as refused:
        to_exact("168.01", "weekly_capacity_hours", high=Decimal(168))
    assert refused.value.errors == {"weekly_capacity_hours": "Enter a number from 0 to 168."}
