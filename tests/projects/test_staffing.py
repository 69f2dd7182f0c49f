"""Template roles mapped to people (psa/projects/staffing.py), with assignments worked out by hand."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from psa.core.errors import ValidationError
from psa.projects.staffing import check_chosen, plan_assignments, role_defaults


def person(i, name, role, active=True):
    return SimpleNamespace(id=i, name=name, role=role, is_active=active)


MIA = person(1, "Mia Manager", "manager")
CLEO = person(2, "Cleo Consultant", "consultant")
CARL = person(3, "Carl Consultant", "consultant")
LEO = person(4, "Leo Leader", "leader")

#: (id, role, estimated minutes) in plan order
PLAN = [(10, "manager", 120), (11, "consultant", 600), (12, "consultant", 120), (13, "customer", 0),
        (14, "consultant", 240), (15, "consultant", 0), (16, "leader", 60)]


def test_two_consultants_share_the_consultant_tasks_by_estimated_hours():
    # Carl sorts before Cleo. 11 (10 h) -> Carl (0 h, first by name); 12 (2 h) -> Cleo (0 h);
    # 14 (4 h) -> Cleo (2 h < 10 h); 15 (0 h) -> Cleo (6 h < 10 h). Manager task -> Mia; no leader on the
    # project -> Mia; the customer's task is left out.
    assert plan_assignments(PLAN, manager=MIA, members=[CLEO, CARL]) == {
        10: 1, 11: 3, 12: 2, 14: 2, 15: 2, 16: 1}


def test_the_only_holder_of_a_role_takes_all_of_it_and_a_chosen_person_overrides():
    assert plan_assignments(PLAN, manager=MIA, members=[CLEO, LEO]) == {
        10: 1, 11: 2, 12: 2, 14: 2, 15: 2, 16: 4}
    chosen = {"consultant": CARL, "manager": None}
    assert plan_assignments(PLAN, manager=MIA, members=[CLEO, CARL], chosen=chosen) == {
        10: 1, 11: 3, 12: 3, 14: 3, 15: 3, 16: 1}


def test_equal_hours_alternate_by_count():
    tasks = [(1, "consultant", 0), (2, "consultant", 0), (3, "consultant", 0)]
    assert plan_assignments(tasks, manager=MIA, members=[CLEO, CARL]) == {1: 3, 2: 2, 3: 3}


def test_inactive_members_get_nothing():
    gone = person(5, "Ann Away", "consultant", active=False)
    assert plan_assignments([(1, "consultant", 60)], manager=MIA, members=[gone, CLEO]) == {1: 2}


def test_the_form_says_what_each_role_gets():
    words = role_defaults(MIA, [CLEO, CARL])
    assert words["manager"] == "The project manager (Mia Manager)"
    assert words["consultant"] == "Shared among the 2 consultants on the project"
    assert words["leader"] == "The project manager (Mia Manager): no leader on the project"
    assert role_defaults(MIA, [CLEO])["consultant"] == "The only consultant on the project (Cleo Consultant)"


def test_a_chosen_person_must_be_on_the_project():
    with pytest.raises(ValidationError) as refused:
        check_chosen({"consultant": LEO}, MIA, [CLEO])
    assert refused.value.errors == {"assign_consultant": "Choose the project manager or one of the members."}
    check_chosen({"consultant": CLEO, "manager": None}, MIA, [CLEO])
