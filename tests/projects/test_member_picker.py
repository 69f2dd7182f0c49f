"""Members are picked from a checkbox list with a filter (no Ctrl-click multi-select that drops everyone on
one plain click): every active person is a labelled checkbox, the project's members come checked, and the
line under the list names who is chosen."""

from __future__ import annotations

import re
from datetime import date

from tests.conftest import login_as
from tests.projects.helpers import create_project


def _boxes(page: str) -> dict[str, bool]:
    """value -> checked, for every member checkbox of the page."""
    found = re.findall(r'<input class="form-check-input" type="checkbox" name="member_ids"\s+value="(\d+)" '
                       r'id="[^"]+"( checked)?>', page)
    return {value: bool(checked) for value, checked in found}


def test_members_are_checkboxes_with_labels_and_the_project_members_come_checked(app, client, make):
    manager = make.user(role="manager", name="Mia Manager")
    cleo = make.user(role="consultant", name="Cleo Consultant")
    carl = make.user(role="consultant", name="Carl Consultant")
    account = make.account(name="Acme Corp")
    login_as(client, manager)

    page = client.get("/projects/new").get_data(as_text=True)
    assert _boxes(page) == {str(manager.id): False, str(cleo.id): False, str(carl.id): False}
    assert re.search(r'<label class="form-check-label" for="member_ids-\d+">Cleo Consultant</label>', page)
    assert 'for="member_ids-filter"' in page and "data-checkbox-filter" in page and "None chosen." in page
    assert "<select" not in page.split('id="member_ids"', 1)[1].split("</fieldset>", 1)[0]

    project = create_project(app, None, manager.id, account.id, date(2030, 1, 7), member_ids=(cleo.id,))
    page = client.get(f"/projects/{project['id']}/edit").get_data(as_text=True)
    boxes = _boxes(page)
    assert boxes[str(cleo.id)] and boxes[str(manager.id)] and not boxes[str(carl.id)]
    assert "Chosen: " in page and "Cleo Consultant" in page.split("Chosen: ", 1)[1].split("</div>", 1)[0]
