"""The API's escalations (issue 16): listed and read as the escalations page shows them (only projects the token's
user may see), acknowledged with a note through the service (a second acknowledgement 409)."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from psa.core.models import AuditEvent
from psa.extensions import db
from tests.escalations.conftest import build_project, people, refresh_and_sweep  # noqa: F401 - the fixture

DAY = date(2026, 11, 19)


def _two_projects(app, make, people):  # noqa: F811
    """Contoso rollout (Mia's, Cleo on it): Build due Fri 13 Nov, slip 4 → level 2. Globex pilot (Olga's): Launch
    due Wed 18, slip 1 → level 1. Swept on Thu 19 Nov (as tests/escalations/test_routes.py)."""
    a = build_project(app, people, make, milestones=[
        ("Build", date(2026, 11, 13), [("Configure", date(2026, 11, 13), 1)])])
    b = build_project(app, people, make, name="Globex pilot", account_name="Globex", manager="olga", members=(),
                      milestones=[("Launch", date(2026, 11, 18), [("Switch on", date(2026, 11, 18), 1)])])
    refresh_and_sweep(app, DAY)
    return a, b


def test_escalations_are_listed_filtered_and_acknowledged(app, api, make, people):  # noqa: F811
    a, b = _two_projects(app, make, people)
    lee = api(people["lee"])
    items = lee.get("/api/v1/escalations").get_json()["items"]
    assert [(e["milestone_name"], e["level"], e["slip_days"], e["reason"], e["open"]) for e in items] == [
        ("Build", 2, 4, "overdue", True), ("Launch", 1, 1, "overdue", True)]
    assert items[0]["project_name"] == "Contoso rollout" and items[0]["manager_name"] == "Mia Manager"
    assert [e["milestone_name"] for e in lee.get("/api/v1/escalations?level=1").get_json()["items"]] == ["Launch"]
    assert [e["milestone_name"] for e in lee.get(f"/api/v1/escalations?project_id={a['project']}")
            .get_json()["items"]] == ["Build"]
    assert lee.get("/api/v1/escalations?open=false").get_json()["items"] == []
    # who sees what: Cleo is on Contoso only, Zed on neither
    cleo, zed = api(people["cleo"]), api(people["zed"])
    assert [e["milestone_name"] for e in cleo.get("/api/v1/escalations").get_json()["items"]] == ["Build"]
    assert zed.get("/api/v1/escalations").get_json()["items"] == []
    build_id = items[0]["id"]
    assert zed.get(f"/api/v1/escalations/{build_id}").status_code == 404
    assert zed.post(f"/api/v1/escalations/{build_id}/acknowledge", json={"note": "x"}).status_code == 404

    done = cleo.post(f"/api/v1/escalations/{build_id}/acknowledge", json={"note": "Chasing the vendor"})
    assert done.status_code == 200, done.get_json()
    body = done.get_json()
    assert (body["acknowledged_by_name"], body["acknowledgement_note"]) == ("Cleo Consultant", "Chasing the vendor")
    again = lee.post(f"/api/v1/escalations/{build_id}/acknowledge", json={"note": "Twice"})
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "conflict"
    with app.app_context():
        events = db.session.execute(sa.select(AuditEvent.actor_id, AuditEvent.after)
                                    .where(AuditEvent.action == "escalation.acknowledged")).all()
    assert [(e.actor_id, e.after["note"]) for e in events] == [(people["cleo"].id, "Chasing the vendor")]
    assert lee.get(f"/api/v1/escalations/{build_id}").get_json()["acknowledgement_note"] == "Chasing the vendor"


def test_bad_input_is_422_or_404(app, api, make, people):  # noqa: F811
    _two_projects(app, make, people)
    lee = api(people["lee"])
    for query in ("level=4", "level=x", "open=maybe", "project_id=99999999999999", "cursor=zz"):
        response = lee.get(f"/api/v1/escalations?{query}")
        assert response.status_code == 422 and response.get_json()["error"]["fields"], query
    assert lee.get("/api/v1/escalations/99999999999999999999").status_code == 404
    first = lee.get("/api/v1/escalations").get_json()["items"][0]["id"]
    long = lee.post(f"/api/v1/escalations/{first}/acknowledge", json={"note": "x" * 501})
    assert long.status_code == 422 and "note" in long.get_json()["error"]["fields"]
    assert lee.post(f"/api/v1/escalations/{first}/acknowledge", json={"note": "a\x00"}).status_code == 422
    assert lee.get(f"/api/v1/escalations/{first}").get_json()["acknowledged_at"] is None


def test_the_list_is_one_statement_whatever_its_size(app, api, make, people, count_queries):  # noqa: F811
    _two_projects(app, make, people)
    lee = api(people["lee"])
    lee.get("/api/v1/escalations")
    with count_queries() as small:
        assert len(lee.get("/api/v1/escalations").get_json()["items"]) == 2
    for n in range(3):
        build_project(app, people, make, name=f"More {n}", account_name=f"More {n}", milestones=[
            (f"M{n}-{k}", date(2026, 11, 13), [(f"T{n}-{k}", date(2026, 11, 13), 1)]) for k in range(4)])
    refresh_and_sweep(app, DAY)
    with count_queries() as large:
        assert len(lee.get("/api/v1/escalations").get_json()["items"]) == 14
    assert len(small) == len(large)
