"""The CRM hook's rules (psa.crm.services), called directly: the signature, the body, the time window, the
product → template mapping, and create_from_deal (one project per deal id, even when deliveries race)."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from psa.accounts.models import Account
from psa.api.models import DealWon
from psa.auth.models import User
from psa.core.errors import ValidationError
from psa.crm import services as crm
from psa.extensions import db
from psa.project_templates.models import TemplateVersion
from psa.projects.models import Project, Task
from tests.concurrency.helpers import THREADS, kinds, no_errors, race
from tests.projects.helpers import ONBOARDING, build_template

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def deal(**overrides) -> crm.DealWonIn:
    body = {"deal_id": "D-1", "timestamp": int(NOW.timestamp()), "account": {"name": "Globex"},
            "product": "Enterprise", "kickoff_date": "2026-12-07"}
    body.update(overrides)
    return crm.parse(json.dumps(body).encode())


# --- signature ----------------------------------------------------------------------------------------------------


def test_the_signature_is_the_hmac_sha256_of_the_raw_body():
    body = b'{"deal_id": "D-1"}'
    digest = hmac.new(b"s3cret-s3cret-s3cret", body, hashlib.sha256).hexdigest()
    assert crm.sign("s3cret-s3cret-s3cret", body) == "sha256=" + digest
    assert crm.verify_signature("s3cret-s3cret-s3cret", body, "sha256=" + digest)
    assert crm.verify_signature("s3cret-s3cret-s3cret", body, " SHA256=" + digest.upper() + " ")
    assert not crm.verify_signature("s3cret-s3cret-s3cret", body + b" ", "sha256=" + digest)
    assert not crm.verify_signature("another-secret-xx", body, "sha256=" + digest)
    assert not crm.verify_signature("s3cret-s3cret-s3cret", body, digest)  # no scheme
    assert not crm.verify_signature("s3cret-s3cret-s3cret", body, None)
    assert not crm.verify_signature("s3cret-s3cret-s3cret", body, "sha256=é\x00")
    assert not crm.verify_signature("", body, crm.sign("", body))  # no secret: nothing verifies


# --- body and time window -----------------------------------------------------------------------------------------


def test_parse_reads_a_deal_and_names_the_fields_it_refuses():
    parsed = deal(account={"name": "  Globex ", "segment": "low"}, amount="1200.50", extra_field=1)
    assert parsed.account.name == "Globex" and parsed.account.segment == "low" and str(parsed.amount) == "1200.50"
    with pytest.raises(ValidationError) as bad_json:
        crm.parse(b"{nope")
    assert bad_json.value.errors == {"body": "The body is not valid JSON."}
    with pytest.raises(ValidationError) as not_object:
        crm.parse(b'"a string"')
    assert set(not_object.value.errors) == {"body"}
    with pytest.raises(ValidationError) as missing:
        crm.parse(b'{"timestamp": 1}')
    assert set(missing.value.errors) == {"deal_id", "account", "product"}
    with pytest.raises(ValidationError) as wrong:
        crm.parse(json.dumps({"deal_id": "x\u0000y", "timestamp": 1.5, "account": {"name": ""},
                              "product": "P", "kickoff_date": "07/12/2026"}).encode())
    assert set(wrong.value.errors) == {"deal_id", "timestamp", "account.name", "kickoff_date"}


def test_is_fresh_allows_the_window_both_ways():
    stamp = int(NOW.timestamp())
    assert crm.is_fresh(stamp, NOW, 300)
    assert crm.is_fresh(stamp - 300, NOW, 300) and crm.is_fresh(stamp + 300, NOW, 300)
    assert not crm.is_fresh(stamp - 301, NOW, 300) and not crm.is_fresh(stamp + 301, NOW, 300)


def test_load_template_map_ignores_what_it_cannot_read():
    assert crm.load_template_map('{"Enterprise": 3, "Bad": "x", "Flag": true}') == {"Enterprise": 3}
    assert crm.load_template_map("not json") == {} and crm.load_template_map("[1]") == {}


# --- the deal -----------------------------------------------------------------------------------------------------


@pytest.fixture
def mapped(app, make):
    admin = make.user(role="admin")
    version_id = build_template(app, ONBOARDING)
    with app.app_context():
        template_id = db.session.get(TemplateVersion, version_id).template_id
    return {"admin_id": admin.id, "version_id": version_id, "map": {"Enterprise": template_id}}


def test_create_from_deal_makes_account_and_project_once(ctx, mapped):
    first = crm.create_from_deal(deal(), mapped["map"])
    db.session.commit()
    assert first.created and first.account.name == "Globex" and first.project.template_version_id == mapped["version_id"]
    assert first.project.manager_id == mapped["admin_id"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Task).where(
        Task.project_id == first.project.id)) == 4
    again = crm.create_from_deal(deal(product="Unmapped now"), {})  # a handled deal answers even if unmapped since
    assert not again.created and again.project.id == first.project.id
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Project)) == 1


def test_unmapped_and_unpublished_products_are_refused_at_product(ctx, mapped, make):
    with pytest.raises(ValidationError) as unknown:
        crm.create_from_deal(deal(product="Starter"), mapped["map"])
    assert set(unknown.value.errors) == {"product"}
    db.session.rollback()
    from psa.project_templates.services import create_template

    draft = create_template(None, name="Only a draft")
    db.session.commit()
    with pytest.raises(ValidationError) as unpublished:
        crm.create_from_deal(deal(product="Draft"), {"Draft": draft.template_id})
    assert "no published version" in unpublished.value.errors["product"]
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(DealWon)) == 0


def test_the_manager_is_the_accounts_owner_when_they_may_manage(ctx, mapped, make):
    manager = make.user(role="manager")
    consultant = make.user(role="consultant")
    owned = make.account(name="Owned", owner_id=manager.id)
    by_consultant = make.account(name="Consultants", owner_id=consultant.id)
    assert crm.choose_manager(db.session.get(Account, owned.id)).id == manager.id
    assert crm.choose_manager(db.session.get(Account, by_consultant.id)).id == mapped["admin_id"]
    db.session.get(User, mapped["admin_id"]).is_active_user = False
    db.session.flush()
    with pytest.raises(crm.NoManager):
        crm.choose_manager(db.session.get(Account, by_consultant.id))


def test_the_deals_dates_and_amount_are_checked_by_the_project_rules(ctx, mapped):
    with pytest.raises(ValidationError) as late:
        crm.create_from_deal(deal(contract_signed_date="2026-12-20"), mapped["map"])
    assert set(late.value.errors) == {"contract_signed_date"}
    db.session.rollback()
    with pytest.raises(ValidationError) as far:
        crm.create_from_deal(deal(kickoff_date="2150-01-01"), mapped["map"])
    assert "kickoff_date" in far.value.errors
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(DealWon)) == 0


def test_racing_deliveries_of_one_deal_make_one_project(app, mapped):

    def deliver(i, go):
        parsed = deal(deal_id="D-RACE", account={"name": "Racing Co"})
        go()
        outcome = crm.create_from_deal(parsed, mapped["map"])
        db.session.commit()
        return outcome.created, outcome.project.id

    outcomes = race(app, deliver)
    no_errors(outcomes)
    assert kinds(outcomes) == ["ok"] * THREADS
    assert sorted(o.value[0] for o in outcomes) == [False] * (THREADS - 1) + [True]
    assert len({o.value[1] for o in outcomes}) == 1
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Project)) == 1
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Account)) == 1


def test_two_deals_of_one_new_account_at_once_share_the_account(app, mapped):

    def deliver(i, go):
        parsed = deal(deal_id=f"D-{i}", account={"name": "Shared Co"})
        go()
        outcome = crm.create_from_deal(parsed, mapped["map"])
        db.session.commit()
        return outcome.account.id

    outcomes = race(app, deliver, threads=4)
    no_errors(outcomes)
    assert len({o.value for o in outcomes}) == 1
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Project)) == 4
