"""Template services: versions freeze, predecessors stay acyclic, publishing checks the fee split,
bad input is refused at the field, and export → import loses nothing."""

from __future__ import annotations

import copy
from datetime import date
from decimal import Decimal

import pytest
import sqlalchemy as sa
from werkzeug.exceptions import Conflict

from psa.core.errors import ValidationError
from psa.extensions import db
from psa.project_templates import services as s
from psa.project_templates.models import (
    Template,
    TemplateCriterion,
    TemplateMilestone,
    TemplateTask,
    TemplateVersion,
    template_task_dependencies,
)


def build(actor, name="Standard onboarding"):
    """A draft: Kickoff (40 %) with A → B, Go-live (60 %, first value) with C after B; one criterion."""
    version = s.create_template(actor, name=name, description="Eight weeks to value", target_ttv_days=45)
    kickoff = s.add_milestone(actor, version, name="Kickoff", offset_days=2, fee_share_percent=Decimal("40"))
    golive = s.add_milestone(actor, version, name="Go-live", offset_days=15, fee_share_percent=Decimal("60"),
                             is_first_value=True, requires_signoff=True, is_customer_visible=True)
    a = s.add_task(actor, kickoff, name="A kickoff call", offset_days=0, duration_days=1, estimated_minutes=90,
                   assignee_role="manager", visibility="shared")
    b = s.add_task(actor, kickoff, name="B configure", offset_days=1, duration_days=3, estimated_minutes=600)
    c = s.add_task(actor, golive, name="C train users", offset_days=10, duration_days=2, estimated_minutes=240,
                   assignee_role="customer", visibility="shared")
    s.set_predecessors(actor, b, [a.id])
    s.set_predecessors(actor, c, [b.id])
    s.add_criterion(actor, version, outcome="Faster month-end close", metric="Days to close", baseline="10",
                    target="4", due_offset_days=90)
    db.session.commit()
    return version, {"kickoff": kickoff, "golive": golive, "a": a, "b": b, "c": c}


def exported(version_id: int) -> dict:
    db.session.expire_all()
    return s.export_version(s.load_version(version_id))


def dependency_rows() -> set[tuple[int, int]]:
    return set(db.session.execute(sa.select(template_task_dependencies.c.task_id,
                                            template_task_dependencies.c.predecessor_id)).all())


def count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


@pytest.fixture
def admin(ctx, make):
    return make.user(role="admin")


# --- 1. a published version never changes what was made from it -----------------------------------


def test_editing_a_template_after_publishing_changes_no_existing_project(ctx, make, admin):
    from psa.projects.models import Milestone, Project, Task, task_dependencies
    from psa.projects.services import create_project

    v1, items = build(admin)
    s.publish_version(admin, v1)
    db.session.commit()
    v1_export = exported(v1.id)
    project = create_project(admin, account=make.account(), name="Globex onboarding", kickoff_date=date(2026, 11, 2),
                             manager=make.user(role="manager"), template_version=v1, fee_amount=Decimal("12000"))
    db.session.commit()

    def plan():
        db.session.expire_all()
        milestones = db.session.execute(sa.select(Milestone.name, Milestone.baseline_due_date, Milestone.due_date)
                                        .where(Milestone.project_id == project.id).order_by(Milestone.position)).all()
        tasks = db.session.execute(sa.select(Task.name, Task.baseline_start_date, Task.start_date, Task.due_date,
                                             Task.duration_days, Task.estimated_minutes)
                                   .where(Task.project_id == project.id).order_by(Task.milestone_id, Task.position)).all()
        links = db.session.execute(sa.select(sa.func.count()).select_from(task_dependencies)).scalar()
        return milestones, tasks, links

    before = plan()
    # Kickoff is due 2 working days after Mon 2 Nov; A starts on kickoff, B a day later for 3 days.
    assert before[0][0] == ("Kickoff", date(2026, 11, 4), date(2026, 11, 4))
    assert before[1][:2] == [("A kickoff call", date(2026, 11, 2), date(2026, 11, 2), date(2026, 11, 2), 1, 90),
                             ("B configure", date(2026, 11, 3), date(2026, 11, 3), date(2026, 11, 5), 3, 600)]
    assert before[2] == 2

    v2 = s.new_draft(admin, v1.template)
    db.session.commit()
    assert (v2.number, v2.state) == (2, "draft")
    v2_b = db.session.scalar(sa.select(TemplateTask).join(TemplateMilestone)
                             .where(TemplateMilestone.version_id == v2.id, TemplateTask.name == "B configure"))
    s.update_task(admin, v2_b, name="B configure the workspace", offset_days=4, duration_days=5,
                  estimated_minutes=900, assignee_role="consultant", visibility="internal")
    v2_kickoff = db.session.scalar(sa.select(TemplateMilestone).where(TemplateMilestone.version_id == v2.id,
                                                                      TemplateMilestone.name == "Kickoff"))
    s.update_milestone(admin, v2_kickoff, name="Kickoff", offset_days=6, fee_share_percent=Decimal("40"))
    s.publish_version(admin, v2)
    db.session.commit()

    assert plan() == before
    assert db.session.get(Project, project.id).template_version_id == v1.id
    assert exported(v1.id) == v1_export
    assert [t["name"] for m in exported(v2.id)["milestones"] for t in m["tasks"]] == [
        "A kickoff call", "B configure the workspace", "C train users"]

    # and v1 itself refuses every change
    kickoff_v1 = db.session.get(TemplateMilestone, items["kickoff"].id)
    with pytest.raises(Conflict):
        s.update_milestone(admin, kickoff_v1, name="Changed", offset_days=9)
    with pytest.raises(Conflict):
        s.publish_version(admin, db.session.get(TemplateVersion, v1.id))


@pytest.mark.parametrize("operation", [
    "details", "add_milestone", "update_milestone", "delete_milestone", "move_milestone", "add_task", "update_task",
    "delete_task", "predecessors", "move_task", "add_criterion", "delete_criterion", "publish"])
def test_every_change_to_a_published_version_is_a_conflict(ctx, admin, operation):
    version, items = build(admin)
    s.publish_version(admin, version)
    db.session.commit()
    before = exported(version.id)
    criterion = db.session.scalar(sa.select(TemplateCriterion).where(TemplateCriterion.version_id == version.id))
    m, t = items["kickoff"], items["b"]
    calls = {
        "details": lambda: s.update_version_details(admin, version, name="X", description="", target_ttv_days=5,
                                                    notes=""),
        "add_milestone": lambda: s.add_milestone(admin, version, name="More"),
        "update_milestone": lambda: s.update_milestone(admin, m, name="Renamed"),
        "delete_milestone": lambda: s.delete_milestone(admin, m),
        "move_milestone": lambda: s.move(admin, m, 1),
        "add_task": lambda: s.add_task(admin, m, name="More"),
        "update_task": lambda: s.update_task(admin, t, name="Renamed"),
        "delete_task": lambda: s.delete_task(admin, t),
        "predecessors": lambda: s.set_predecessors(admin, t, []),
        "move_task": lambda: s.move(admin, t, -1),
        "add_criterion": lambda: s.add_criterion(admin, version, outcome="More"),
        "delete_criterion": lambda: s.delete_criterion(admin, criterion),
        "publish": lambda: s.publish_version(admin, version),
    }
    with pytest.raises(Conflict, match="published"):
        calls[operation]()
    db.session.rollback()
    assert exported(version.id) == before


# --- 2. predecessors -----------------------------------------------------------------------------


def test_a_cycle_of_predecessors_is_refused_naming_the_tasks(ctx, admin):
    version, items = build(admin)  # A → B → C already
    before = dependency_rows()
    with pytest.raises(ValidationError) as refused:
        s.set_predecessors(admin, items["a"], [items["c"].id])
    message = refused.value.errors["predecessors"]
    assert message == "That would make a cycle: “A kickoff call” → “C train users” → “B configure” → “A kickoff call”."
    db.session.rollback()
    assert dependency_rows() == before


def test_a_task_cannot_wait_for_itself(ctx, admin):
    _version, items = build(admin)
    with pytest.raises(ValidationError, match="cannot be its own predecessor") as refused:
        s.set_predecessors(admin, items["b"], [items["a"].id, items["b"].id])
    assert list(refused.value.errors) == ["predecessors"]


def test_a_predecessor_from_another_template_is_refused(ctx, admin):
    _version, items = build(admin)
    _other, other_items = build(admin, name="Another template")
    before = dependency_rows()
    with pytest.raises(ValidationError) as refused:
        s.set_predecessors(admin, items["c"], [items["b"].id, other_items["a"].id])
    assert refused.value.errors == {"predecessors": "A predecessor must be a task of this template version."}
    db.session.rollback()
    assert dependency_rows() == before


def test_predecessors_are_replaced_and_can_be_cleared(ctx, admin):
    _version, items = build(admin)
    a, b, c = items["a"], items["b"], items["c"]
    s.set_predecessors(admin, c, [a.id, b.id])
    assert {(c.id, a.id), (c.id, b.id)} <= dependency_rows()
    s.set_predecessors(admin, c, [])
    assert dependency_rows() == {(b.id, a.id)}


# --- 3. publishing -------------------------------------------------------------------------------


def test_publish_refuses_fee_shares_that_do_not_sum_to_100_naming_the_total(ctx, admin):
    version, items = build(admin)
    s.update_milestone(admin, items["golive"], name="Go-live", offset_days=15, fee_share_percent=Decimal("35.5"),
                       is_first_value=True)
    with pytest.raises(ValidationError) as refused:
        s.publish_version(admin, version)
    assert "75.50 %" in refused.value.errors["publish"] and "not 100 %" in refused.value.errors["publish"]
    db.session.rollback()
    assert db.session.get(TemplateVersion, version.id).state == "draft"


def test_publish_refuses_a_version_without_milestones(ctx, admin):
    version = s.create_template(admin, name="Empty")
    with pytest.raises(ValidationError, match="Add at least one milestone"):
        s.publish_version(admin, version)


def test_only_one_milestone_may_be_the_first_value(ctx, admin):
    version, items = build(admin)  # Go-live is the first value
    with pytest.raises(ValidationError) as refused:
        s.update_milestone(admin, items["kickoff"], name="Kickoff", offset_days=2, fee_share_percent=Decimal("40"),
                           is_first_value=True)
    assert refused.value.errors == {"is_first_value": "“Go-live” is already the first-value milestone."}
    db.session.rollback()
    with pytest.raises(ValidationError, match="already the first-value"):
        s.add_milestone(admin, db.session.get(TemplateVersion, version.id), name="Value", is_first_value=True)
    db.session.rollback()
    # and publishing checks it again, for data that reached the table another way
    db.session.get(TemplateMilestone, items["kickoff"].id).is_first_value = True
    db.session.flush()
    with pytest.raises(ValidationError) as refused:
        s.publish_version(admin, db.session.get(TemplateVersion, version.id))
    assert refused.value.errors["publish"] == "Only one milestone can be the first value; now: Kickoff, Go-live."


def test_publish_freezes_and_records_who(ctx, admin):
    version, _items = build(admin)
    assert s.publish_problems(s.load_version(version.id)) == []
    s.publish_version(admin, version)
    assert (version.state, version.published_by_id) == ("published", admin.id)
    assert version.published_at is not None
    assert s.published_versions() == [(version.id, "Standard onboarding (v1)")]


# --- 4. bad input --------------------------------------------------------------------------------

LONG = "x" * 201


@pytest.mark.parametrize(("fields", "field"), [
    ({"name": ""}, "name"),
    ({"name": "   "}, "name"),
    ({"name": LONG}, "name"),
    ({"offset_days": -1}, "offset_days"),
    ({"offset_days": "three"}, "offset_days"),
    ({"offset_days": None}, "offset_days"),
    ({"offset_days": 10001}, "offset_days"),
    ({"fee_share_percent": Decimal("100.01")}, "fee_share_percent"),
    ({"fee_share_percent": Decimal("-1")}, "fee_share_percent"),
    ({"fee_share_percent": "lots"}, "fee_share_percent"),
    ({"fee_share_percent": Decimal("NaN")}, "fee_share_percent"),
    ({"fee_share_percent": "Infinity"}, "fee_share_percent"),
])
def test_bad_milestone_input_is_refused_at_the_field(ctx, admin, fields, field):
    version, items = build(admin)
    before = exported(version.id)
    good = dict(name="Milestone", offset_days=3, fee_share_percent=Decimal("10"))
    for call in (lambda: s.add_milestone(admin, version, **{**good, **fields}),
                 lambda: s.update_milestone(admin, items["kickoff"], **{**good, **fields})):
        with pytest.raises(ValidationError) as refused:
            call()
        assert list(refused.value.errors) == [field]
        db.session.rollback()
    assert exported(version.id) == before


@pytest.mark.parametrize(("fields", "field"), [
    ({"name": ""}, "name"),
    ({"name": LONG}, "name"),
    ({"offset_days": -1}, "offset_days"),
    ({"duration_days": 0}, "duration_days"),
    ({"duration_days": "two"}, "duration_days"),
    ({"estimated_minutes": -1}, "estimated_minutes"),
    ({"assignee_role": "wizard"}, "assignee_role"),
    ({"assignee_role": None}, "assignee_role"),
    ({"visibility": "public"}, "visibility"),
])
def test_bad_task_input_is_refused_at_the_field(ctx, admin, fields, field):
    version, items = build(admin)
    before = exported(version.id)
    good = dict(name="Task", offset_days=1, duration_days=2, estimated_minutes=60, assignee_role="consultant",
                visibility="internal")
    for call in (lambda: s.add_task(admin, items["kickoff"], **{**good, **fields}),
                 lambda: s.update_task(admin, items["b"], **{**good, **fields})):
        with pytest.raises(ValidationError) as refused:
            call()
        assert list(refused.value.errors) == [field]
        db.session.rollback()
    assert exported(version.id) == before


def test_a_large_estimate_is_accepted(ctx, admin):
    _version, items = build(admin)
    task = s.update_task(admin, items["b"], name="Data migration", offset_days=1, duration_days=40,
                         estimated_minutes=300 * 60)
    assert task.estimated_minutes == 18000


@pytest.mark.parametrize(("fields", "field"), [
    ({"name": ""}, "name"),
    ({"name": "x" * 121}, "name"),
    ({"name": "standard ONBOARDING"}, "name"),  # taken, whatever the case
    ({"target_ttv_days": 0}, "target_ttv_days"),
    ({"target_ttv_days": -5}, "target_ttv_days"),
    ({"target_ttv_days": 10**12}, "target_ttv_days"),
])
def test_bad_template_details_are_refused_at_the_field(ctx, admin, fields, field):
    version, _items = build(admin)
    good = dict(name="Premium onboarding", description="", target_ttv_days=30)
    with pytest.raises(ValidationError) as refused:
        s.create_template(admin, **{**good, **fields})
    assert list(refused.value.errors) == [field]
    db.session.rollback()
    assert count(Template) == 1
    if fields.get("name") == "standard ONBOARDING":
        return  # its own name is fine for the template itself
    with pytest.raises(ValidationError) as refused:
        s.update_version_details(admin, version, notes="", **{**good, **fields})
    assert list(refused.value.errors) == [field]
    db.session.rollback()
    assert db.session.get(Template, version.template_id).name == "Standard onboarding"


def test_version_details_are_saved(ctx, admin):
    version, _items = build(admin)
    s.update_version_details(admin, version, name=" Standard onboarding 2026 ", description="New", target_ttv_days=None,
                             notes="Shorter kickoff")
    db.session.commit()
    saved = exported(version.id)
    assert saved["template"] == {"name": "Standard onboarding 2026", "description": "New"}
    assert saved["version"] == {"number": 1, "target_ttv_days": None, "notes": "Shorter kickoff"}


def test_a_criterion_needs_an_outcome(ctx, admin):
    version, _items = build(admin)
    with pytest.raises(ValidationError) as refused:
        s.add_criterion(admin, version, outcome="  ")
    assert list(refused.value.errors) == ["outcome"]
    with pytest.raises(ValidationError) as refused:
        s.add_criterion(admin, version, outcome="Fewer tickets", due_offset_days=-1)
    assert list(refused.value.errors) == ["due_offset_days"]


# --- 5. export and import ------------------------------------------------------------------------


def without(data: dict, *, number=True, name=False) -> dict:
    data = copy.deepcopy(data)
    if number:
        data["version"].pop("number")
    if name:
        data["template"].pop("name")
    return data


def test_export_then_import_loses_nothing(ctx, admin):
    v1, _items = build(admin)
    s.update_version_details(admin, v1, name="Standard onboarding", description="Eight weeks to value",
                             target_ttv_days=45, notes="First cut")
    s.publish_version(admin, v1)
    db.session.commit()
    original = exported(v1.id)
    assert original["milestones"][1]["tasks"][0]["predecessors"] == ["t2"]

    # the same name: the next version of that template
    v2 = s.import_template(admin, copy.deepcopy(original))
    db.session.commit()
    assert (v2.template_id, v2.number, v2.state) == (v1.template_id, 2, "draft")
    assert without(exported(v2.id)) == without(original)

    # another name: a new template
    renamed = copy.deepcopy(original)
    renamed["template"]["name"] = "Imported onboarding"
    v3 = s.import_template(admin, renamed)
    db.session.commit()
    assert v3.template_id != v1.template_id and v3.number == 1
    again = exported(v3.id)
    assert again["template"]["name"] == "Imported onboarding"
    assert without(again, name=True) == without(original, name=True)
    assert count(Template) == 2


def _broken(original: dict, case: str):
    data = copy.deepcopy(original)
    tasks = data["milestones"][0]["tasks"]
    if case == "wrong format":
        return {"format": "something-else", **{k: v for k, v in data.items() if k != "format"}}
    if case == "a list":
        return [data]
    if case == "format version":
        data["format_version"] = 99
    elif case == "unknown predecessor":
        tasks[1]["predecessors"] = ["t9"]
    elif case == "cycle":
        tasks[0]["predecessors"] = ["t3"]  # A waits for C, which waits for B, which waits for A
    elif case == "own predecessor":
        tasks[0]["predecessors"] = ["t1"]
    elif case == "duplicate key":
        tasks[1]["key"] = "t1"
    elif case == "milestones not a list":
        data["milestones"] = {"name": "Kickoff"}
    elif case == "bad duration":
        tasks[0]["duration_days"] = 0
    elif case == "unknown role":
        tasks[0]["assignee_role"] = "wizard"
    elif case == "fee share not a number":
        data["milestones"][0]["fee_share_percent"] = "NaN"
    elif case == "two first values":
        data["milestones"][0]["is_first_value"] = True
    elif case == "no template name":
        data["template"] = {"name": "  "}
    elif case == "template name too long":
        data["template"]["name"] = "y" * 121
    elif case == "name not text":
        data["template"]["name"] = 42
        tasks[0]["name"] = ["A"]
    elif case == "tasks not a list":
        data["milestones"][0]["tasks"] = 7
    elif case == "predecessors not a list":
        tasks[1]["predecessors"] = 1
    elif case == "criteria not a list":
        data["criteria"] = 3
    elif case == "target ttv 0":
        data["version"]["target_ttv_days"] = 0
    return data


BROKEN = ["wrong format", "a list", "format version", "unknown predecessor", "cycle", "own predecessor",
          "duplicate key", "milestones not a list", "bad duration", "unknown role", "fee share not a number",
          "two first values", "no template name", "template name too long", "name not text", "tasks not a list",
          "predecessors not a list", "criteria not a list", "target ttv 0"]


@pytest.mark.parametrize("case", BROKEN)
def test_a_broken_import_is_refused_at_the_file_and_creates_nothing(ctx, admin, case):
    v1, _items = build(admin)
    original = exported(v1.id)
    original["template"]["name"] = "Fresh import"
    rows = (count(Template), count(TemplateVersion), count(TemplateMilestone), count(TemplateTask),
            count(TemplateCriterion), len(dependency_rows()))
    with pytest.raises(ValidationError) as refused:
        s.import_template(admin, _broken(original, case))
    assert list(refused.value.errors) == ["file"], refused.value.errors
    db.session.rollback()
    assert (count(Template), count(TemplateVersion), count(TemplateMilestone), count(TemplateTask),
            count(TemplateCriterion), len(dependency_rows())) == rows


def test_import_names_the_problem(ctx, admin):
    v1, _items = build(admin)
    data = exported(v1.id)
    data["template"]["name"] = "Fresh import"
    data["milestones"][0]["tasks"][0]["predecessors"] = ["t3"]
    with pytest.raises(ValidationError) as refused:
        s.import_template(admin, data)
    assert refused.value.errors["file"] == (
        "The file has a problem: cycle A kickoff call → C train users → B configure → A kickoff call")


def test_import_into_a_template_that_has_a_draft_is_refused(ctx, admin):
    v1, _items = build(admin)  # still a draft
    with pytest.raises(ValidationError, match="already has a draft"):
        s.import_template(admin, exported(v1.id))


# --- 6. copies and order -------------------------------------------------------------------------


def test_new_draft_copies_the_newest_version_and_is_reused(ctx, admin):
    v1, _items = build(admin)
    s.publish_version(admin, v1)
    draft = s.new_draft(admin, v1.template)
    db.session.commit()
    assert s.new_draft(admin, v1.template).id == draft.id
    assert without(exported(draft.id)) == without(exported(v1.id))
    rows = s.latest_versions()
    assert [(t.name, latest.number, published.number) for t, latest, published in rows] == [
        ("Standard onboarding", 2, 1)]


def test_duplicate_copies_everything_under_a_new_name(ctx, admin):
    v1, _items = build(admin)
    s.publish_version(admin, v1)
    copy_v1 = s.duplicate_template(admin, v1.template, "Premium onboarding")
    db.session.commit()
    assert (copy_v1.number, copy_v1.state, copy_v1.template.name) == (1, "draft", "Premium onboarding")
    assert without(exported(copy_v1.id), name=True) == without(exported(v1.id), name=True)
    with pytest.raises(ValidationError) as refused:
        s.duplicate_template(admin, v1.template, "premium ONBOARDING")
    assert refused.value.errors == {"name": "A template with this name already exists."}


def test_move_swaps_neighbours_and_stops_at_the_ends(ctx, admin):
    version, items = build(admin)
    s.add_criterion(admin, version, outcome="Fewer tickets")

    def order():
        db.session.commit()
        data = exported(version.id)
        return ([m["name"] for m in data["milestones"]], [t["name"] for m in data["milestones"] for t in m["tasks"]],
                [c["outcome"] for c in data["criteria"]])

    s.move(admin, items["golive"], -1)
    s.move(admin, items["b"], -1)
    assert order() == (["Go-live", "Kickoff"], ["C train users", "B configure", "A kickoff call"],
                       ["Faster month-end close", "Fewer tickets"])
    s.move(admin, db.session.get(TemplateMilestone, items["golive"].id), -1)  # already first: nothing happens
    s.move(admin, db.session.get(TemplateTask, items["a"].id), 1)  # already last of its milestone
    criterion = db.session.scalar(sa.select(TemplateCriterion).where(TemplateCriterion.outcome == "Fewer tickets"))
    s.move(admin, criterion, -1)
    assert order() == (["Go-live", "Kickoff"], ["C train users", "B configure", "A kickoff call"],
                       ["Fewer tickets", "Faster month-end close"])


def test_deleting_a_task_or_milestone_removes_its_links(ctx, admin):
    version, items = build(admin)
    s.delete_task(admin, items["b"])  # A → B → C: both links go
    db.session.commit()
    assert dependency_rows() == set()
    s.delete_milestone(admin, db.session.get(TemplateMilestone, items["kickoff"].id))
    db.session.commit()
    data = exported(version.id)
    assert [m["name"] for m in data["milestones"]] == ["Go-live"]
    assert count(TemplateTask) == 1
    criterion = db.session.scalar(sa.select(TemplateCriterion))
    s.delete_criterion(admin, criterion)
    db.session.commit()
    assert exported(version.id)["criteria"] == []
