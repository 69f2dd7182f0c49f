"""POST /api/v1/hooks/deal-won (SPEC §4): a signed CRM deal becomes an account and a project from the mapped
template, once per deal id; unsigned, stale or tampered deliveries get 401 and create nothing. Every answer is
checked against the OpenAPI document (the `api(None)` client: no token)."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from psa.accounts.models import Account
from psa.admin.models import Settings
from psa.api.models import DealWon
from psa.core import clock
from psa.core.models import AuditEvent
from psa.crm.services import sign
from psa.extensions import db
from psa.project_templates.models import TemplateVersion
from psa.projects.models import Project, Task
from tests.projects.helpers import ONBOARDING, build_template

PATH = "/api/v1/hooks/deal-won"
SECRET = "whsec-test-0123456789abcdef"


@pytest.fixture
def hook(app, make):
    """An admin (the default manager), a published template mapped to the product 'Enterprise', the secret set."""
    admin = make.user(role="admin", name="Ada Admin")
    version_id = build_template(app, ONBOARDING)
    with app.app_context():
        template_id = db.session.get(TemplateVersion, version_id).template_id
        settings = db.session.get(Settings, 1)
        settings.crm_hook_secret = SECRET
        settings.crm_template_map = json.dumps({"Enterprise": template_id})
        db.session.commit()
    return {"admin_id": admin.id, "version_id": version_id, "template_id": template_id}


def deal(**overrides) -> dict:
    body = {"deal_id": "D-1001", "timestamp": int(clock.now().timestamp()),
            "account": {"name": "Globex", "segment": "high"}, "product": "Enterprise",
            "kickoff_date": "2026-12-07", "contract_signed_date": "2026-12-01", "amount": "48000.00"}
    body.update(overrides)
    return body


def send(api, body, *, secret: str = SECRET, signature: str | None = None, headers: dict | None = None):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    sent = {"X-PSA-Signature": signature if signature is not None else sign(secret, raw), **(headers or {})}
    if signature == "":
        sent.pop("X-PSA-Signature")
    return api(None).open("POST", PATH, data=raw, headers=sent, content_type="application/json")


def counts(app) -> tuple[int, int, int]:
    with app.app_context():
        return tuple(db.session.scalar(sa.select(sa.func.count()).select_from(model))
                     for model in (Project, Account, DealWon))


def test_a_signed_deal_makes_the_account_and_a_project_from_the_mapped_template(app, api, hook):
    response = send(api, deal())
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["deal_id"] == "D-1001" and body["account_name"] == "Globex"
    assert body["template_version_id"] == hook["version_id"] and body["kickoff_date"] == "2026-12-07"
    with app.app_context():
        project = db.session.get(Project, body["project_id"])
        account = db.session.get(Account, body["account_id"])
        assert account.name == "Globex" and account.segment == "high" and project.account_id == account.id
        assert project.name == "Globex – Enterprise" and project.manager_id == hook["admin_id"]
        assert project.billing_model == "fixed_fee" and str(project.fee_amount) == "48000.00"
        tasks = db.session.scalars(sa.select(Task.name).where(Task.project_id == project.id)).all()
        assert sorted(tasks) == ["Configure", "Go live", "Kickoff call", "Train users"]
        row = db.session.scalars(sa.select(DealWon)).one()
        assert (row.deal_id, row.project_id, row.account_id) == ("D-1001", project.id, account.id)
        actions = set(db.session.scalars(sa.select(AuditEvent.action)).all())
        assert {"account.created", "project.created", "project.created_from_crm_deal"} <= actions


def test_the_same_deal_again_answers_200_with_the_same_project_and_creates_nothing(app, api, hook):
    first = send(api, deal())
    again = send(api, deal(timestamp=int(clock.now().timestamp()) + 1, project_name="Another name"))
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.get_json() == first.get_json()
    assert counts(app) == (1, 1, 1)


def test_an_existing_account_is_matched_by_name_and_its_owner_manages(app, api, hook, make):
    manager = make.user(role="manager")
    account = make.account(name="Initech", owner_id=manager.id, segment="low")
    response = send(api, deal(deal_id="D-2", account={"name": " initech ", "segment": "high"}, amount=None,
                              project_name="Initech rollout"))
    assert response.status_code == 201
    body = response.get_json()
    assert body["account_id"] == account.id and body["project_name"] == "Initech rollout"
    with app.app_context():
        project = db.session.get(Project, body["project_id"])
        assert project.manager_id == manager.id and project.billing_model == "time_and_materials"
        assert db.session.get(Account, account.id).segment == "low"
    assert counts(app) == (1, 1, 1)


@pytest.mark.parametrize("how", ["wrong secret", "tampered body", "no header", "not sha256", "garbage"])
def test_a_bad_or_missing_signature_gets_401_and_creates_nothing(app, api, hook, how):
    body = deal()
    raw = json.dumps(body).encode()
    if how == "wrong secret":
        response = send(api, raw, secret="another-secret")
    elif how == "tampered body":
        response = send(api, json.dumps({**body, "amount": "1.00"}).encode(), signature=sign(SECRET, raw))
    elif how == "no header":
        response = send(api, raw, signature="")
    elif how == "not sha256":
        response = send(api, raw, signature=sign(SECRET, raw).replace("sha256=", "sha1="))
    else:
        response = send(api, raw, signature="sha256=zz\u00e9")
    assert response.status_code == 401, response.get_json()
    assert response.get_json()["error"]["code"] == "unauthorized"
    assert "X-PSA-Signature" in response.get_json()["error"]["message"]
    assert counts(app) == (0, 0, 0)


@pytest.mark.parametrize("seconds", [-360, 360])
def test_a_timestamp_six_minutes_old_or_ahead_gets_401_and_creates_nothing(app, api, hook, seconds):
    response = send(api, deal(timestamp=int(clock.now().timestamp()) + seconds))
    assert response.status_code == 401
    assert "timestamp" in response.get_json()["error"]["fields"]
    assert counts(app) == (0, 0, 0)
    ok = send(api, deal(timestamp=int(clock.now().timestamp()) + (240 if seconds > 0 else -240)))
    assert ok.status_code == 201  # a few minutes of skew either way is fine


def test_the_window_follows_the_apps_clock(app, api, hook):
    sent_at = int(clock.now().timestamp())
    with clock.frozen(clock.now() + timedelta(minutes=10)):
        assert send(api, deal(timestamp=sent_at)).status_code == 401
    assert counts(app) == (0, 0, 0)


def test_an_unknown_product_gets_422_at_product(app, api, hook):
    response = send(api, deal(product="Starter"))
    assert response.status_code == 422
    assert "Starter" in response.get_json()["error"]["fields"]["product"]
    assert counts(app) == (0, 0, 0)
    assert send(api, deal(product="  enterprise ")).status_code == 201  # case and spaces ignored


@pytest.mark.parametrize("raw, fields", [
    (b'{"deal_id": "D-1", "timestamp": ', {"body"}),
    (b"[1, 2]", {"body"}),
    (None, {"deal_id", "account"}),
    (b"not json at all", {"body"}),
])
def test_malformed_or_incomplete_signed_bodies_get_422_with_fields(app, api, hook, raw, fields):
    if raw is None:
        body = deal()
        del body["deal_id"], body["account"]
        raw = json.dumps(body).encode()
    response = send(api, raw)
    assert response.status_code == 422, response.get_json()
    assert set(response.get_json()["error"]["fields"]) == fields
    assert counts(app) == (0, 0, 0)


def test_refused_values_are_422_at_the_deals_fields(app, api, hook):
    bad_dates = send(api, deal(kickoff_date="2026-12-07", contract_signed_date="2026-12-20"))
    assert bad_dates.status_code == 422 and "contract_signed_date" in bad_dates.get_json()["error"]["fields"]
    text_stamp = send(api, deal(timestamp=str(int(clock.now().timestamp()))))
    assert text_stamp.status_code == 422 and "timestamp" in text_stamp.get_json()["error"]["fields"]
    negative = send(api, deal(amount="-5"))
    assert negative.status_code == 422 and "amount" in negative.get_json()["error"]["fields"]
    assert counts(app) == (0, 0, 0)


def test_without_a_secret_the_hook_is_off_503(app, api, hook):
    with app.app_context():
        db.session.get(Settings, 1).crm_hook_secret = ""
        db.session.commit()
    response = send(api, deal(), secret="")
    assert response.status_code == 503 and "secret" in response.get_json()["error"]["message"]
    assert counts(app) == (0, 0, 0)


def test_an_oversized_body_gets_413_unread(app, api, hook):
    raw = json.dumps(deal(padding="x" * 70_000)).encode()
    assert send(api, raw).status_code == 413
    assert counts(app) == (0, 0, 0)


def test_a_deleted_project_answers_409_on_replay(app, api, hook):
    first = send(api, deal())
    with app.app_context():
        db.session.execute(sa.update(DealWon).values(project_id=None))
        db.session.commit()
    again = send(api, deal())
    assert (first.status_code, again.status_code) == (201, 409)


def test_the_document_declares_the_signed_body_and_no_token(api):
    doc = api(None).document
    operation = doc["paths"][PATH]["post"]
    assert operation["security"] == []
    assert {"200", "201", "401", "409", "422", "503"} <= set(operation["responses"])
    ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert ref == "#/components/schemas/DealWonIn"
    schema = doc["components"]["schemas"]["DealWonIn"]
    assert {"deal_id", "timestamp", "account", "product"} <= set(schema["required"])
    assert "DealWonAccount" in doc["components"]["schemas"]
    assert [p["name"] for p in operation["parameters"] if p["in"] == "header"] == ["X-PSA-Signature"]


def test_one_deal_delivered_by_many_at_once_makes_one_project(app, api, hook):
    threads = 8
    raw = json.dumps(deal(deal_id="D-RACE")).encode()
    headers = {"X-PSA-Signature": sign(SECRET, raw)}
    barrier = threading.Barrier(threads)
    answers: list = [None] * threads

    def deliver(i):
        client = app.test_client()
        barrier.wait(timeout=30)
        response = client.post(PATH, data=raw, headers=headers, content_type="application/json")
        answers[i] = (response.status_code, response.get_json())

    pool = [threading.Thread(target=deliver, args=(i,)) for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(60)
    statuses = sorted(status for status, _ in answers)
    assert statuses == [200] * (threads - 1) + [201], answers
    assert len({body["project_id"] for _, body in answers}) == 1
    assert counts(app) == (1, 1, 1)
