"""The API's time entries and timesheets (issue 16): the grid's rules and the pages' permissions, one entry at a time;
every answer checked against the OpenAPI document by the `api` client."""

from __future__ import annotations

import threading
from datetime import date, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from psa.auth.models import User
from psa.extensions import db
from psa.timesheets import services as ts
from psa.timesheets.models import TimeEntry, Timesheet
from tests.api.conftest import ApiClient, check_against_document, token_for
from tests.timesheets.conftest import MONDAY, staffed  # noqa: F401 - the fixture

TUESDAY = MONDAY + timedelta(days=1)


def _entries(app):
    with app.app_context():
        return [tuple(row) for row in db.session.execute(sa.select(
            TimeEntry.id, TimeEntry.entry_date, TimeEntry.project_id, TimeEntry.task_id, TimeEntry.minutes,
            TimeEntry.billable, TimeEntry.note, TimeEntry.bill_rate, TimeEntry.cost_rate, TimeEntry.timesheet_id)
            .order_by(TimeEntry.id)).all()]


@pytest.fixture
def rated(app, staffed):  # noqa: F811
    """staffed, with the consultant's rates: cost 60, bill 150 an hour from 2026-01-01."""
    consultant, *_ = staffed
    with app.app_context():
        ts.set_user_rate(None, db.session.get(User, consultant.id), effective_from=date(2026, 1, 1),
                         cost_rate="60", bill_rate="150")
        db.session.commit()
    return staffed


def test_create_read_patch_and_delete_an_entry(app, api, make, rated):
    consultant, manager, project_id, task_id = rated
    me = api(consultant)
    created = me.post("/api/v1/time-entries", json={"project_id": project_id, "task_id": task_id,
                                                    "entry_date": MONDAY.isoformat(), "minutes": 90,
                                                    "note": "Kick-off\r\nworkshop "})
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert (body["minutes"], body["entry_date"], body["state"], body["billable"], body["note"]) == (
        90, "2026-10-05", "draft", True, "Kick-off\nworkshop")
    assert "bill_rate" not in body and "cost_rate" not in body  # a consultant does not see rates
    entry_id = body["id"]
    with app.app_context():
        entry = db.session.get(TimeEntry, entry_id)
        assert (entry.bill_rate, entry.cost_rate) == (Decimal("150.00"), Decimal("60.00"))  # frozen on the entry
        assert db.session.get(Timesheet, entry.timesheet_id).week_start == MONDAY

    leader = api(make.user(role="leader"))
    seen = leader.get(f"/api/v1/time-entries/{entry_id}").get_json()
    assert (seen["bill_rate"], seen["cost_rate"]) == ("150.00", "60.00")
    assert "bill_rate" not in me.get(f"/api/v1/time-entries/{entry_id}").get_json()

    patched = me.patch(f"/api/v1/time-entries/{entry_id}", json={"minutes": 120, "entry_date": TUESDAY.isoformat(),
                                                                 "task_id": None})
    assert patched.status_code == 200, patched.get_json()
    assert (patched.get_json()["minutes"], patched.get_json()["entry_date"], patched.get_json()["task_id"]) == (
        120, "2026-10-06", None)
    # another person's entry: the manager may see it (they approve Cleo's weeks) but never changes it
    boss = api(manager)
    assert boss.get(f"/api/v1/time-entries/{entry_id}").status_code == 200
    assert boss.patch(f"/api/v1/time-entries/{entry_id}", json={"minutes": 1}).status_code == 403
    assert boss.delete(f"/api/v1/time-entries/{entry_id}").status_code == 403
    assert api(make.user(role="consultant")).get(f"/api/v1/time-entries/{entry_id}").status_code == 404

    listed = me.get("/api/v1/time-entries?date_from=2026-10-01&date_to=2026-10-31").get_json()
    assert [(item["id"], item["minutes"]) for item in listed["items"]] == [(entry_id, 120)]
    assert not {"bill_rate", "cost_rate"} & set(listed["items"][0])  # nor in a list
    assert [(item["bill_rate"], item["cost_rate"]) for item in leader.get("/api/v1/time-entries").get_json()["items"]
            ] == [("150.00", "60.00")]  # the patch snapshotted the same rates again
    assert not {"bill_rate", "cost_rate"} & set(boss.get("/api/v1/time-entries").get_json()["items"][0])
    assert listed["next_cursor"] is None
    assert me.get("/api/v1/time-entries?state=approved").get_json()["items"] == []

    deleted = me.delete(f"/api/v1/time-entries/{entry_id}")
    assert deleted.status_code == 204 and deleted.get_data() == b""
    assert me.get(f"/api/v1/time-entries/{entry_id}").status_code == 404
    assert _entries(app) == []


def test_the_grid_rules_answer_at_the_field_and_change_nothing(app, api, make, rated):
    consultant, _, project_id, task_id = rated
    me = api(consultant)
    me.post("/api/v1/time-entries", json={"project_id": project_id, "entry_date": MONDAY.isoformat(), "minutes": 1200})
    before = _entries(app)
    other = make.user(role="consultant")

    def refused(payload, field):
        response = me.post("/api/v1/time-entries", json=payload)
        assert response.status_code == 422, response.get_json()
        assert field in response.get_json()["error"]["fields"], response.get_json()
        return response.get_json()["error"]["fields"][field]

    day = MONDAY.isoformat()
    assert refused({"project_id": project_id, "entry_date": day, "minutes": 300}, "minutes").startswith(
        "More than 24 hours")
    assert refused({"project_id": project_id, "entry_date": day, "minutes": 0}, "minutes") == \
        "Enter a duration above 0."
    assert refused({"project_id": project_id, "entry_date": "2999-01-01", "minutes": 30}, "entry_date")
    assert refused({"project_id": project_id, "entry_date": "2026-02-30", "minutes": 30}, "entry_date")
    assert refused({"project_id": project_id, "entry_date": "2099-12-31", "minutes": 30}, "entry_date") == \
        "Time cannot be logged ahead of today."
    assert refused({"project_id": 2**40, "entry_date": day, "minutes": 30}, "project_id")
    assert refused({"project_id": project_id, "task_id": 999999, "entry_date": day, "minutes": 30}, "task_id") == \
        "That task belongs to another project."
    assert refused({"project_id": project_id, "entry_date": day, "minutes": 30, "note": "a\x00b"}, "note")
    assert refused({"project_id": project_id, "entry_date": day, "minutes": 30, "note": "x" * 5001}, "note")
    assert refused({"project_id": project_id, "entry_date": day, "minutes": 30, "note": "\ud800"}, "note")
    assert refused({"project_id": project_id, "entry_date": day, "minutes": 10**30}, "minutes")
    assert refused({"project_id": project_id, "entry_date": day, "minutes": "NaN"}, "minutes")
    assert refused({"project_id": project_id, "entry_date": day}, "minutes")
    # not a member of the project
    response = api(other).post("/api/v1/time-entries", json={"project_id": project_id, "entry_date": day,
                                                             "minutes": 30})
    assert response.status_code == 422 and "is not a member" in response.get_json()["error"]["fields"]["project_id"]
    assert _entries(app) == before


def test_bad_input_is_422_or_404_never_500(api, make, rated):
    consultant, *_ = rated
    me = api(consultant)
    for path in ("/api/v1/time-entries/99999999999999999999", "/api/v1/time-entries/2147483648",
                 "/api/v1/timesheets/99999999999999999999", "/api/v1/time-entries/0"):
        assert me.get(path).status_code == 404
    assert me.patch("/api/v1/time-entries/99999999999999999999", json={"minutes": 3}).status_code == 404
    assert me.delete("/api/v1/time-entries/99999999999999999999").status_code == 404
    assert me.post("/api/v1/timesheets/99999999999999999999/submit").status_code == 404
    for query in ("user_id=99999999999999999999", "date_from=1999-12-31", "date_to=soon", "state=lost",
                  "limit=0", "limit=201", "cursor=nope", "project_id=-1"):
        response = me.get(f"/api/v1/time-entries?{query}")
        assert response.status_code == 422, (query, response.get_json())
        assert response.get_json()["error"]["fields"], query
    assert me.get("/api/v1/timesheets?week_start=2100-01-04").status_code == 422
    assert me.post("/api/v1/time-entries", json=[1, 2]).status_code == 422
    assert me.post("/api/v1/time-entries", data="{", content_type="application/json").status_code == 422
    assert me.post("/api/v1/time-entries", json={"project_id": 1, "entry_date": "2026-10-05", "minutes": 5,
                                                 "extra": 1}).status_code == 422


def test_an_approved_week_and_the_lock_date_refuse_as_the_grid_does(app, api, make, rated):
    from psa.admin.services import update_settings

    consultant, manager, project_id, task_id = rated
    me = api(consultant)
    last_week = MONDAY - timedelta(days=7)
    first = me.post("/api/v1/time-entries", json={"project_id": project_id, "entry_date": last_week.isoformat(),
                                                  "minutes": 60}).get_json()
    sheet_id = first["timesheet_id"]
    assert me.post(f"/api/v1/timesheets/{sheet_id}/submit").status_code == 200
    assert api(manager).post(f"/api/v1/timesheets/{sheet_id}/approve").status_code == 200
    open_entry = me.post("/api/v1/time-entries", json={"project_id": project_id, "entry_date": TUESDAY.isoformat(),
                                                       "minutes": 30}).get_json()
    before = _entries(app)
    response = me.post("/api/v1/time-entries", json={"project_id": project_id, "entry_date": last_week.isoformat(),
                                                     "minutes": 15})
    assert response.status_code == 409
    assert "is approved and read-only" in response.get_json()["error"]["message"]
    assert me.patch(f"/api/v1/time-entries/{first['id']}", json={"minutes": 15}).status_code == 409
    assert me.patch(f"/api/v1/time-entries/{open_entry['id']}",
                    json={"entry_date": last_week.isoformat()}).status_code == 409  # moving into it
    assert me.delete(f"/api/v1/time-entries/{first['id']}").status_code == 409
    assert _entries(app) == before

    with app.app_context():
        update_settings(None, time_lock_date=TUESDAY)
        db.session.commit()
    message = "2026-10-06 is on or before the time lock date (2026-10-06); it cannot change."
    for response in (
        me.post("/api/v1/time-entries", json={"project_id": project_id, "entry_date": MONDAY.isoformat(),
                                              "minutes": 15}),
        me.patch(f"/api/v1/time-entries/{open_entry['id']}", json={"minutes": 45}),
        me.delete(f"/api/v1/time-entries/{open_entry['id']}"),
    ):
        assert response.status_code == 422
        assert response.get_json()["error"]["fields"]["entry_date"] in (
            message, "2026-10-05 is on or before the time lock date (2026-10-06); it cannot change.")
    assert _entries(app) == before


def test_approvals_follow_the_pages(app, api, make, rated):
    consultant, manager, project_id, _ = rated
    me = api(consultant)
    entry = me.post("/api/v1/time-entries", json={"project_id": project_id, "entry_date": MONDAY.isoformat(),
                                                  "minutes": 150, "billable": False}).get_json()
    me.post("/api/v1/time-entries", json={"project_id": project_id, "entry_date": TUESDAY.isoformat(),
                                          "minutes": 60})
    sheet_id = entry["timesheet_id"]
    boss = api(manager)
    assert boss.post(f"/api/v1/timesheets/{sheet_id}/approve").status_code == 409  # a draft week
    assert boss.post(f"/api/v1/timesheets/{sheet_id}/submit").status_code == 403  # only its owner submits
    submitted = me.post(f"/api/v1/timesheets/{sheet_id}/submit")
    assert submitted.status_code == 200 and submitted.get_json()["state"] == "submitted"
    assert me.post(f"/api/v1/timesheets/{sheet_id}/submit").status_code == 409

    assert me.post(f"/api/v1/timesheets/{sheet_id}/approve").status_code == 403  # a consultant's token
    assert api(make.user(role="manager")).post(f"/api/v1/timesheets/{sheet_id}/approve").status_code == 404
    assert boss.post(f"/api/v1/timesheets/{sheet_id}/reject", json={}).status_code == 422
    assert boss.post(f"/api/v1/timesheets/{sheet_id}/reject", json={"reason": "no\x00"}).status_code == 422
    blank = boss.post(f"/api/v1/timesheets/{sheet_id}/reject", json={"reason": "   "})
    assert blank.status_code == 422 and "reason" in blank.get_json()["error"]["fields"]

    approved = boss.post(f"/api/v1/timesheets/{sheet_id}/approve")
    assert approved.status_code == 200
    body = approved.get_json()
    assert (body["state"], body["decided_by_id"], body["week_start"]) == ("approved", manager.id, "2026-10-05")
    assert body["totals"] == {"minutes": 210, "billable_minutes": 60, "time_off_minutes": 0,
                              "projects": [{"label": "Acme – Acme onboarding", "minutes": 210,
                                            "billable_minutes": 60}]}
    again = boss.post(f"/api/v1/timesheets/{sheet_id}/approve")
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "conflict"
    assert boss.post(f"/api/v1/timesheets/{sheet_id}/reject", json={"reason": "late"}).status_code == 409

    assert [s["id"] for s in me.get("/api/v1/timesheets").get_json()["items"]] == [sheet_id]
    assert [s["id"] for s in boss.get("/api/v1/timesheets?state=approved").get_json()["items"]] == [sheet_id]
    assert api(make.user(role="consultant")).get(f"/api/v1/timesheets/{sheet_id}").status_code == 404
    assert me.get(f"/api/v1/timesheets/{sheet_id}").get_json()["totals"]["minutes"] == 210


def test_reject_sends_the_week_back_with_its_reason(api, make, rated):
    consultant, manager, project_id, _ = rated
    me = api(consultant)
    sheet_id = me.post("/api/v1/time-entries", json={"project_id": project_id, "entry_date": MONDAY.isoformat(),
                                                     "minutes": 60}).get_json()["timesheet_id"]
    me.post(f"/api/v1/timesheets/{sheet_id}/submit")
    rejected = api(make.user(role="leader")).post(f"/api/v1/timesheets/{sheet_id}/reject",
                                                  json={"reason": "Split the workshop"})
    assert rejected.status_code == 200
    assert (rejected.get_json()["state"], rejected.get_json()["rejection_reason"]) == ("rejected", "Split the workshop")
    assert api(manager).post(f"/api/v1/timesheets/{sheet_id}/approve").status_code == 409


def _many_entries(app, user_id, project_id, count):
    with app.app_context():
        sheet = Timesheet(user_id=user_id, week_start=MONDAY, state="draft")
        db.session.add(sheet)
        db.session.flush()
        for n in range(count):
            db.session.add(TimeEntry(user_id=user_id, project_id=project_id, timesheet_id=sheet.id,
                                     entry_date=MONDAY + timedelta(days=n % 5), minutes=15, note=f"n{n}"))
        db.session.commit()


@pytest.mark.parametrize("path", ["/api/v1/time-entries?limit=200", "/api/v1/timesheets"])
def test_a_list_page_is_one_statement_whatever_its_size(app, api, make, count_queries, rated, path):
    consultant, _, project_id, _ = rated
    me = api(make.user(role="leader"))
    me.get(path)  # the token's last use is written once a minute: not in the counts below
    _many_entries(app, consultant.id, project_id, 3)
    with count_queries() as small:
        assert me.get(path).status_code == 200
    _many_entries(app, make.user().id, project_id, 27)
    with count_queries() as large:
        page = me.get(path).get_json()
    if "time-entries" in path:
        assert len(page["items"]) == 30
    assert len(small) == len(large), (small, large)


def test_pages_follow_the_cursor(app, api, make, rated):
    consultant, _, project_id, _ = rated
    _many_entries(app, consultant.id, project_id, 5)
    me = api(consultant)
    first = me.get("/api/v1/time-entries?limit=2").get_json()
    second = me.get(f"/api/v1/time-entries?limit=2&cursor={first['next_cursor']}").get_json()
    third = me.get(f"/api/v1/time-entries?limit=2&cursor={second['next_cursor']}").get_json()
    notes = [item["note"] for page in (first, second, third) for item in page["items"]]
    assert notes == ["n0", "n1", "n2", "n3", "n4"] and third["next_cursor"] is None


def test_idempotency_key_replays_and_refuses_another_body(app, api, rated):
    consultant, _, project_id, _ = rated
    me = api(consultant)
    payload = {"project_id": project_id, "entry_date": MONDAY.isoformat(), "minutes": 45}
    first = me.post("/api/v1/time-entries", json=payload, headers={"Idempotency-Key": "k-1"})
    again = me.post("/api/v1/time-entries", json=payload, headers={"Idempotency-Key": "k-1"})
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers["Idempotent-Replayed"] == "true" and again.get_json() == first.get_json()
    other = me.post("/api/v1/time-entries", json={**payload, "minutes": 46}, headers={"Idempotency-Key": "k-1"})
    assert other.status_code == 422 and "Idempotency-Key" in other.get_json()["error"]["fields"]
    assert len(_entries(app)) == 1


def test_idempotency_key_race_creates_one_entry(app, rated):
    consultant, _, project_id, _ = rated
    secret = token_for(app, consultant)
    payload = {"project_id": project_id, "entry_date": MONDAY.isoformat(), "minutes": 45, "note": "once"}
    threads = 8
    barrier = threading.Barrier(threads)
    answers: list = [None] * threads
    responses: list = []

    def run(index):
        client = ApiClient(app, app.test_client(), secret)
        try:
            barrier.wait(timeout=60)
            response = client.post("/api/v1/time-entries", json=payload, headers={"Idempotency-Key": "race"},
                                   check=False)
            answers[index] = (response.status_code, response.get_json())
            responses.append(response)
        except Exception as exc:  # reported below
            answers[index] = ("error", repr(exc))

    pool = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(120)
    statuses = sorted(str(answer[0]) for answer in answers)
    assert set(statuses) <= {"201", "409"}, answers
    document = ApiClient(app, app.test_client(), None).document  # each answer fits the document, checked here
    for response in responses:  # (not in the threads: the checker reads the document once)
        check_against_document(app, document, "POST", "/api/v1/time-entries", response)
    created = [body for status, body in answers if status == 201]
    assert created and all(body == created[0] for body in created), answers
    assert all(body["error"]["code"] == "conflict" for status, body in answers if status == 409)
    assert len(_entries(app)) == 1
    replay = ApiClient(app, app.test_client(), secret).post("/api/v1/time-entries", json=payload,
                                                            headers={"Idempotency-Key": "race"})
    assert replay.status_code == 201 and replay.get_json() == created[0]


def test_time_on_a_project_closed_to_the_user_stays_as_it_is(app, api, rated):
    from psa.projects.models import Project

    consultant, _, project_id, _ = rated
    me = api(consultant)
    entry = me.post("/api/v1/time-entries", json={"project_id": project_id, "entry_date": MONDAY.isoformat(),
                                                  "minutes": 60}).get_json()
    with app.app_context():
        db.session.get(Project, project_id).status = "completed"
        db.session.commit()
    before = _entries(app)
    for response in (me.patch(f"/api/v1/time-entries/{entry['id']}", json={"note": "later"}),
                     me.delete(f"/api/v1/time-entries/{entry['id']}"),
                     me.post("/api/v1/time-entries", json={"project_id": project_id,
                                                           "entry_date": TUESDAY.isoformat(), "minutes": 5})):
        assert response.status_code == 422
        assert "is completed" in response.get_json()["error"]["fields"]["project_id"]
    assert _entries(app) == before
