"""The audit log's type filter is a list of what the features record, in words (not a free-text box)."""

from __future__ import annotations

import re

from psa.core.audit import record_audit
from psa.extensions import db
from tests.conftest import login_as


def test_the_type_filter_is_a_list_in_words_and_filters(app, client, make):
    admin = make.user(role="admin", name="Ada Admin")
    account = make.account(name="Acme Corp")
    with app.app_context():
        record_audit(None, "account.updated", account, {"name": "Acme"}, {"name": "Acme Corp"})
        db.session.commit()
    login_as(client, admin)
    page = client.get("/admin/audit").get_data(as_text=True)
    select = re.search(r'<select class="form-select" id="type" name="type">(.*?)</select>', page, re.S).group(1)
    assert '<option value="">Everything</option>' in select
    assert '<option value="account">Customer accounts</option>' in select and '<option value="task">Tasks</option>' in select
    assert '<input class="form-control" id="type"' not in page
    filtered = client.get("/admin/audit?type=account").get_data(as_text=True)
    assert '<option value="account" selected>Customer accounts</option>' in filtered
    assert "account.updated" in filtered
    assert "The system changed the name of <a href=\"/admin/accounts/" in filtered and "from “Acme” to “Acme Corp”" in filtered
    assert "account.updated" not in client.get("/admin/audit?type=user").get_data(as_text=True)
