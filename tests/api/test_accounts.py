"""The API's accounts and contacts (psa/api/accounts.py): the admin pages' permissions and services, cursor pages,
filters, and every refusal at its field. Every answer is checked against the OpenAPI document (tests/api/conftest)."""

from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa

from psa.accounts.models import Account, Contact
from psa.core.audit import AuditEvent
from psa.extensions import db

BIG = 2**63  # beyond every integer column


def _all_pages(client, path: str, limit: int = 2) -> list[list[int]]:
    """The ids of each page of a list, following next_cursor to the end."""
    pages, cursor = [], None
    while True:
        separator = "&" if "?" in path else "?"
        url = f"{path}{separator}limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        response = client.get(url)
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        pages.append([item["id"] for item in body["items"]])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages


def test_accounts_are_paged_by_cursor_without_duplicates(api, make):
    ids = [make.account(name=f"Firm {n}").id for n in range(5)]
    pages = _all_pages(api(make.user(role="manager")), "/api/v1/accounts")
    assert pages == [ids[0:2], ids[2:4], ids[4:5]]


def test_accounts_filter_by_name_and_segment(api, make):
    globex = make.account(name="Globex Corp", segment="high")
    make.account(name="Globex Labs", segment="low")
    make.account(name="Initech", segment="high")
    client = api(make.user(role="leader"))
    assert [a["name"] for a in client.get("/api/v1/accounts?q=globex").get_json()["items"]] == ["Globex Corp",
                                                                                                 "Globex Labs"]
    both = client.get("/api/v1/accounts?q=glob&segment=high").get_json()["items"]
    assert [a["id"] for a in both] == [globex.id]
    refused = client.get("/api/v1/accounts?segment=gold")
    assert refused.status_code == 422 and "segment" in refused.get_json()["error"]["fields"]


def test_an_account_reads_with_its_owner_and_exact_arr(api, make):
    olga = make.user(role="manager", name="Olga Owner")
    account = make.account(name="Umbrella", owner_id=olga.id, arr=Decimal("1234567.80"))
    body = api(make.user(role="admin")).get(f"/api/v1/accounts/{account.id}").get_json()
    assert (body["name"], body["owner_id"], body["owner_name"], body["arr"]) == ("Umbrella", olga.id, "Olga Owner",
                                                                                 "1234567.80")


def test_consultants_have_no_accounts_as_on_the_pages(api, make):
    account = make.account()
    client = api(make.user(role="consultant"))
    assert client.get("/api/v1/accounts").status_code == 403
    assert client.get(f"/api/v1/accounts/{account.id}").status_code == 403
    assert client.post("/api/v1/accounts", json={"name": "Nope"}).status_code == 403


def test_missing_and_oversized_ids_answer_404(api, make):
    client = api(make.user(role="admin"))
    for path in ("/api/v1/accounts/999999", f"/api/v1/accounts/{BIG}", f"/api/v1/contacts/{BIG}",
                 f"/api/v1/accounts/{BIG}/contacts"):
        response = client.get(path)
        assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found", path
    assert client.patch(f"/api/v1/accounts/{BIG}", json={"name": "X"}).status_code == 404


def test_create_and_change_an_account_through_the_service(app, api, make):
    admin = make.user(role="admin")
    olga = make.user(role="manager", name="Olga")
    client = api(admin)
    created = client.post("/api/v1/accounts", json={"name": "  Hooli ", "segment": "high", "arr": "99.5",
                                                    "owner_id": olga.id})
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert (body["name"], body["segment"], body["arr"], body["owner_name"]) == ("Hooli", "high", "99.50", "Olga")
    changed = client.patch(f"/api/v1/accounts/{body['id']}", json={"arr": "100", "owner_id": None})
    assert changed.status_code == 200
    after = changed.get_json()
    assert (after["name"], after["segment"], after["arr"], after["owner_id"]) == ("Hooli", "high", "100.00", None)
    with app.app_context():
        actions = db.session.scalars(sa.select(AuditEvent.action).where(AuditEvent.object_type == "account")
                                     .order_by(AuditEvent.id)).all()
        assert actions == ["account.created", "account.updated"]


def test_account_refusals_are_at_their_fields_and_change_nothing(app, api, make):
    make.account(name="Taken")
    client = api(make.user(role="manager"))
    cases = [
        ({"name": "taken"}, "name"),  # the service's unique name, case-insensitive
        ({"name": "   "}, "name"),
        ({"name": 5}, "name"),
        ({"name": "A" * 201}, "name"),
        ({"name": "Bad\x00name"}, "name"),
        ({"name": "New", "segment": "gold"}, "segment"),
        ({"name": "New", "arr": "1e3"}, "arr"),
        ({"name": "New", "arr": "-1"}, "arr"),
        ({"name": "New", "arr": "1.234"}, "arr"),
        ({"name": "New", "owner_id": 999999}, "owner_id"),
        ({"name": "New", "owner_id": BIG}, "owner_id"),
        ({"name": "New", "colour": "red"}, "colour"),
    ]
    for payload, field in cases:
        response = client.post("/api/v1/accounts", json=payload)
        assert response.status_code == 422, (payload, response.get_json())
        assert field in response.get_json()["error"]["fields"], (payload, response.get_json())
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Account.id))) == 1


def test_an_account_list_is_one_statement_whatever_its_size(api, make, count_queries):
    owner = make.user(role="manager")
    client = api(make.user(role="admin"))
    client.get("/api/v1/me")  # the token's first use is recorded once; measure after it

    def statements() -> int:
        with count_queries() as seen:
            assert client.get("/api/v1/accounts?limit=200").status_code == 200
        return len(seen)

    for _ in range(3):
        make.account(owner_id=owner.id)
    small = statements()
    for _ in range(27):
        make.account(owner_id=owner.id)
    assert statements() == small


# --- contacts ---------------------------------------------------------------------------------------------------


def test_contacts_of_an_account_are_paged_and_read(api, make):
    account = make.account()
    ids = [make.contact(account, name=f"Person {n}").id for n in range(5)]
    make.contact()  # another account's
    client = api(make.user(role="manager"))
    assert _all_pages(client, f"/api/v1/accounts/{account.id}/contacts") == [ids[0:2], ids[2:4], ids[4:5]]
    one = client.get(f"/api/v1/contacts/{ids[0]}").get_json()
    assert (one["account_id"], one["name"], one["is_active"]) == (account.id, "Person 0", True)


def test_create_change_and_deactivate_a_contact_through_the_service(app, api, make):
    account = make.account(allowed_email_domains="contoso.com")
    client = api(make.user(role="manager"))
    created = client.post(f"/api/v1/accounts/{account.id}/contacts",
                          json={"name": "Pat Lead", "email": "Pat@Contoso.com", "stakeholder_role": "project_lead"})
    assert created.status_code == 201, created.get_json()
    contact = created.get_json()
    assert (contact["email"], contact["stakeholder_role"], contact["view_level"]) == ("pat@contoso.com",
                                                                                      "project_lead", "full")
    wrong_domain = client.post(f"/api/v1/accounts/{account.id}/contacts",
                               json={"name": "Eve", "email": "eve@elsewhere.org"})
    assert wrong_domain.status_code == 422 and "email" in wrong_domain.get_json()["error"]["fields"]
    taken = client.post(f"/api/v1/accounts/{account.id}/contacts", json={"name": "Again", "email": "pat@contoso.com"})
    assert taken.status_code == 422 and "email" in taken.get_json()["error"]["fields"]
    changed = client.patch(f"/api/v1/contacts/{contact['id']}", json={"view_level": "my_tasks", "is_active": False})
    assert changed.status_code == 200
    assert (changed.get_json()["view_level"], changed.get_json()["is_active"], changed.get_json()["name"]) == (
        "my_tasks", False, "Pat Lead")
    with app.app_context():
        actions = db.session.scalars(sa.select(AuditEvent.action).where(AuditEvent.object_type == "contact")
                                     .order_by(AuditEvent.id)).all()
        assert actions == ["contact.created", "contact.updated", "contact.deactivated"]


def test_contact_refusals_are_at_their_fields(app, api, make):
    account = make.account()
    client = api(make.user(role="admin"))
    cases = [({"name": "", "email": "a@b.example"}, "name"), ({"name": "A", "email": "not-an-email"}, "email"),
             ({"name": "A", "email": "a@b.example", "view_level": "all"}, "view_level"),
             ({"name": "A", "email": "a@b.example", "stakeholder_role": "boss"}, "stakeholder_role"),
             ({"name": "A\x07", "email": "a@b.example"}, "name")]
    for payload, field in cases:
        response = client.post(f"/api/v1/accounts/{account.id}/contacts", json=payload)
        assert response.status_code == 422 and field in response.get_json()["error"]["fields"], (payload,
                                                                                                  response.get_json())
    assert client.post(f"/api/v1/accounts/{BIG}/contacts", json={"name": "A", "email": "a@b.example"}).status_code == 404
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Contact.id))) == 0


def test_creating_an_account_twice_with_one_key_makes_one(app, api, make):
    client = api(make.user(role="admin"))
    first = client.post("/api/v1/accounts", json={"name": "Once"}, headers={"Idempotency-Key": "acct-1"})
    again = client.post("/api/v1/accounts", json={"name": "Once"}, headers={"Idempotency-Key": "acct-1"})
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true" and again.get_json() == first.get_json()
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Account.id))) == 1
