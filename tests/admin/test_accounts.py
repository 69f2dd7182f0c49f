"""Customer accounts pages: who may use them, create and edit, search, filter, pages, bad input."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
import sqlalchemy as sa

from psa.accounts.models import Account
from psa.core.models import AuditEvent
from psa.extensions import db
from tests.admin.helpers import count_testid, field_errors, row_count
from tests.conftest import login_as, post_form


def _form(**overrides) -> dict:
    data = dict(name="Globex Corporation", segment="high", owner_id="0", arr="125000.50")
    data.update(overrides)
    return data


def _create(client, **overrides):
    return post_form(client, "/admin/accounts/new", _form(**overrides), token_from="/admin/accounts/new")


def _edit(client, account, **overrides):
    path = f"/admin/accounts/{account.id}"
    data = dict(name=account.name, segment=account.segment, owner_id=str(account.owner_id or 0), arr=str(account.arr))
    data.update(overrides)
    return post_form(client, path, data, token_from=path)


def _reload(app, account_id: int) -> Account:
    with app.app_context():
        account = db.session.get(Account, account_id)
        db.session.expunge(account)
        return account


def _names(page: str) -> list[str]:
    return re.findall(r'<tr data-testid="account-row">\s*<td>(?:<a href="[^"]+">)?([^<]+)<', page)


@pytest.fixture
def as_admin(client, make):
    login_as(client, make.user(role="admin"))
    return client


# --- who may ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["admin", "leader", "manager"])
def test_admin_leader_and_manager_create_and_edit_accounts(app, client, make, role):
    actor = make.user(role=role)
    owner = make.user(name="Olive Owner")
    login_as(client, actor)
    assert client.get("/admin/accounts").status_code == 200
    assert client.get("/admin/accounts/new").status_code == 200

    response = _create(client, owner_id=str(owner.id))
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/accounts"
    with app.app_context():
        account = db.session.scalar(sa.select(Account).where(Account.name == "Globex Corporation"))
        assert (account.segment, account.owner_id, account.arr) == ("high", owner.id, Decimal("125000.50"))
        created = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "account.created"))
        assert created.actor_id == actor.id and created.object_id == account.id
        db.session.expunge(account)
    page = client.get("/admin/accounts").get_data(as_text=True)
    assert "Account Globex Corporation created." in page
    assert "Olive Owner" in page

    response = _edit(client, account, name="Globex Inc", segment="low", owner_id="0", arr="99")
    assert response.status_code == 302
    saved = _reload(app, account.id)
    assert (saved.name, saved.segment, saved.owner_id, saved.arr) == ("Globex Inc", "low", None, Decimal("99.00"))
    with app.app_context():
        updated = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "account.updated"))
        assert updated.actor_id == actor.id
        assert updated.before == {"name": "Globex Corporation", "segment": "high", "owner_id": owner.id,
                                  "arr": "125000.50"}
        assert updated.after == {"name": "Globex Inc", "segment": "low", "owner_id": None, "arr": "99.00"}


def test_saving_an_unchanged_account_records_no_audit_event(app, as_admin, make):
    account = make.account(arr=Decimal("5000"))
    events = row_count(app, AuditEvent)
    assert _edit(as_admin, account, arr="5000").status_code == 302
    assert row_count(app, AuditEvent) == events


def test_consultant_gets_403_on_every_admin_page(app, client, make):
    """Every rule under /admin/ of the URL map, with every method it answers, refuses a consultant."""
    user, account, holiday = make.user(), make.account(), make.holiday()
    contact = make.contact(account)
    ids = {"user_id": user.id, "account_id": account.id, "holiday_id": holiday.id, "contact_id": contact.id,
           "email_id": 1, "job_id": "some-job", "endpoint_id": 1, "delivery_id": 1}
    rules = [rule for rule in app.url_map.iter_rules() if rule.rule.startswith("/admin")]
    assert {"admin.users", "admin.accounts", "admin.settings", "admin.audit", "admin.account_new"} <= {
        rule.endpoint for rule in rules}
    login_as(client, make.user(role="consultant"))
    checked = []
    for rule in rules:
        path = rule.rule
        for name in rule.arguments:
            path = path.replace(f"<int:{name}>", str(ids[name])).replace(f"<{name}>", str(ids[name]))
        assert "<" not in path, f"add an id for {rule.rule}"
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.get(path) if method == "GET" else post_form(client, path, {"active": "0"})
            assert response.status_code == 403, f"{method} {path}: {response.status_code}"
            checked.append((method, path))
    assert len(checked) >= len(rules)
    # and nothing changed on the way
    with app.app_context():
        assert db.session.get(type(user), user.id).is_active_user is True
    assert row_count(app, AuditEvent) == 0


def test_anonymous_visitor_is_sent_to_sign_in(client):
    response = client.get("/admin/accounts")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_unknown_account_is_404(as_admin):
    assert as_admin.get("/admin/accounts/999999").status_code == 404


# --- search, filter, pages -------------------------------------------------------------------------


def test_search_by_name_is_case_insensitive(as_admin, make):
    make.account(name="Acme Corp")
    make.account(name="ACME Logistics")
    make.account(name="Initech")
    page = as_admin.get("/admin/accounts?q=aCmE").get_data(as_text=True)
    assert sorted(_names(page)) == ["ACME Logistics", "Acme Corp"]
    page = as_admin.get("/admin/accounts?q=  initech  ").get_data(as_text=True)
    assert _names(page) == ["Initech"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [("%", ["100% Uptime"]), ("_", ["snake_case Ltd"]), ("e_c", ["snake_case Ltd"]), ("0%", ["100% Uptime"]),
     ("\\", ["Back\\slash"])],
)
def test_search_wildcards_match_literally(as_admin, make, query, expected):
    for name in ("100% Uptime", "snake_case Ltd", "Plain Co", "snakeXcase Ltd", "Back\\slash"):
        make.account(name=name)
    response = as_admin.get("/admin/accounts", query_string={"q": query})
    assert response.status_code == 200
    assert _names(response.get_data(as_text=True)) == expected


def test_segment_filter_and_search_combine(as_admin, make):
    make.account(name="High One", segment="high")
    make.account(name="High Two", segment="high")
    make.account(name="Low One", segment="low")
    page = as_admin.get("/admin/accounts?segment=high").get_data(as_text=True)
    assert _names(page) == ["High One", "High Two"]
    page = as_admin.get("/admin/accounts?segment=low&q=one").get_data(as_text=True)
    assert _names(page) == ["Low One"]
    page = as_admin.get("/admin/accounts?segment=mid").get_data(as_text=True)
    assert _names(page) == [] and "No account matches" in page
    # an unknown segment filters nothing out
    page = as_admin.get("/admin/accounts?segment=vip").get_data(as_text=True)
    assert len(_names(page)) == 3


def test_pages_of_accounts(app, as_admin):
    with app.app_context():
        db.session.add_all([Account(name=f"Account {n:02}", segment="mid", arr=Decimal("1")) for n in range(30)])
        db.session.commit()
    first = as_admin.get("/admin/accounts").get_data(as_text=True)
    assert _names(first) == [f"Account {n:02}" for n in range(25)]
    assert "1–25 of 30" in first
    second = as_admin.get("/admin/accounts?page=2").get_data(as_text=True)
    assert _names(second) == [f"Account {n:02}" for n in range(25, 30)]
    for page in ("999", "-3", "0", "abc"):
        response = as_admin.get(f"/admin/accounts?page={page}")
        assert response.status_code == 200, page
    assert _names(as_admin.get("/admin/accounts?page=999").get_data(as_text=True)) == _names(second)
    assert count_testid(as_admin.get("/admin/accounts?page=abc").get_data(as_text=True), "account-row") == 25


# --- bad input ---------------------------------------------------------------------------------------

BAD_INPUT = [
    pytest.param({"name": ""}, "name", "This field is required.", id="empty-name"),
    pytest.param({"name": "   "}, "name", "This field is required.", id="blank-name"),
    pytest.param({"name": "n" * 201}, "name", "Use at most 200 characters.", id="long-name"),
    pytest.param({"name": "  TAKEN co "}, "name", "An account with this name already exists.", id="duplicate-name"),
    pytest.param({"segment": "vip"}, "segment", "Not a valid choice.", id="unknown-segment"),
    pytest.param({"arr": "-1"}, "arr", "Enter an amount from 0 to 999,999,999,999.99.", id="negative-arr"),
    pytest.param({"arr": "lots"}, "arr", "Enter a number, like 12.5.", id="non-numeric-arr"),
    pytest.param({"arr": ""}, "arr", "Enter the annual contract value (0 if none).", id="empty-arr"),
    pytest.param({"arr": "1000000000000"}, "arr", "Enter an amount from 0 to 999,999,999,999.99.", id="huge-arr"),
    pytest.param({"arr": "1e15"}, "arr", "Enter a number, like 12.5.", id="exponent-arr"),
    pytest.param({"arr": "sNaN"}, "arr", "Enter a number, like 12.5.", id="snan-arr"),
    pytest.param({"owner_id": "999999"}, "owner_id", "Not a valid choice.", id="unknown-owner"),
    pytest.param({"owner_id": "someone"}, "owner_id", None, id="non-numeric-owner"),
    pytest.param({"owner_id": "inactive"}, "owner_id", "Not a valid choice.", id="inactive-owner"),
]


def _resolve(make, overrides: dict) -> dict:
    if overrides.get("owner_id") == "inactive":
        return {**overrides, "owner_id": str(make.user(is_active_user=False).id)}
    return overrides


@pytest.mark.parametrize(("overrides", "field", "message"), BAD_INPUT)
def test_bad_input_on_create_is_refused_at_the_field(app, as_admin, make, overrides, field, message):
    make.account(name="Taken Co")
    overrides = _resolve(make, overrides)
    accounts, events = row_count(app, Account), row_count(app, AuditEvent)
    response = _create(as_admin, **overrides)
    assert response.status_code == 200
    errors = field_errors(response.get_data(as_text=True), field)
    assert errors if message is None else message in errors
    assert (row_count(app, Account), row_count(app, AuditEvent)) == (accounts, events)


@pytest.mark.parametrize(("overrides", "field", "message"), BAD_INPUT)
def test_bad_input_on_edit_is_refused_at_the_field(app, as_admin, make, overrides, field, message):
    make.account(name="Taken Co")
    owner = make.user()
    account = make.account(name="Mine Ltd", segment="low", owner_id=owner.id, arr=Decimal("42"))
    overrides = _resolve(make, overrides)
    events = row_count(app, AuditEvent)
    response = _edit(as_admin, account, **overrides)
    assert response.status_code == 200
    errors = field_errors(response.get_data(as_text=True), field)
    assert errors if message is None else message in errors
    saved = _reload(app, account.id)
    assert (saved.name, saved.segment, saved.owner_id, saved.arr) == ("Mine Ltd", "low", owner.id, Decimal("42"))
    assert row_count(app, AuditEvent) == events


def test_renaming_an_account_to_its_own_name_in_another_case_is_allowed(app, as_admin, make):
    account = make.account(name="Hooli")
    assert _edit(as_admin, account, name="HOOLI").status_code == 302
    assert _reload(app, account.id).name == "HOOLI"
