"""The boundary of a request: a body over the upload limit gets our 413 page, control characters get
our 400 page before any view runs, and the validators every path shares."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

import pytest

from psa.core.calendar import WorkCalendar
from psa.core.errors import ValidationError
from psa.core.validation import check_date, date_errors, db_id, parse_decimal, parse_int
from tests.conftest import csrf_token, login_as


def test_a_body_over_the_upload_limit_gets_the_413_page_not_a_500(app, make, client):
    admin = make.user(role="admin")
    login_as(client, admin)
    token = csrf_token(client, "/admin/settings")
    limit = app.config["MAX_CONTENT_LENGTH"]
    response = client.post("/admin/settings/logo", data={
        "csrf_token": token, "logo": (io.BytesIO(b"\x89PNG\r\n\x1a\n" + b"0" * limit), "big.png")},
        content_type="multipart/form-data")
    assert response.status_code == 413
    assert "The upload is larger than allowed." in response.get_data(as_text=True)


def test_a_nul_in_a_form_value_or_a_file_name_answers_400_and_writes_nothing(app, make, client):
    from tests.projects.helpers import create_project

    admin = make.user(role="admin")
    project = create_project(app, None, admin.id, make.account().id, date(2026, 9, 1))
    login_as(client, admin)
    token = csrf_token(client, f"/projects/{project['id']}")
    folder = app.config["UPLOAD_FOLDER"] + "/attachments"
    import os

    before = sorted(os.listdir(folder)) if os.path.isdir(folder) else []
    response = client.post(f"/projects/{project['id']}/attachments", data={
        "csrf_token": token, "attachment-task_id": "0",
        "attachment-file": (io.BytesIO(b"hello"), "notes\x00.txt")}, content_type="multipart/form-data")
    assert response.status_code == 400
    assert "cannot be stored" in response.get_data(as_text=True)
    response = client.post(f"/projects/{project['id']}/comments", data={
        "csrf_token": token, "comment-body": "hello\x00", "comment-visibility": "internal"})
    assert response.status_code == 400
    after = sorted(os.listdir(folder)) if os.path.isdir(folder) else []
    assert after == before


def test_a_zero_byte_attachment_is_refused_at_the_field(app, make, client):
    from tests.projects.helpers import create_project

    admin = make.user(role="admin")
    project = create_project(app, None, admin.id, make.account().id, date(2026, 9, 1))
    login_as(client, admin)
    token = csrf_token(client, f"/projects/{project['id']}")
    response = client.post(f"/projects/{project['id']}/attachments", data={
        "csrf_token": token, "attachment-task_id": "0",
        "attachment-file": (io.BytesIO(b""), "empty.txt")}, content_type="multipart/form-data")
    assert response.status_code == 400
    assert "The file is empty." in response.get_data(as_text=True)


def test_an_attachment_whose_transaction_rolls_back_leaves_no_file(ctx, make):
    from psa.auth.models import User
    from psa.extensions import db
    from psa.projects import services

    admin = make.user(role="admin")
    from tests.projects.helpers import create_project

    project = create_project(ctx, None, admin.id, make.account().id, date(2026, 9, 1))
    attachment = services.add_attachment(db.session.get(User, admin.id), services.load_project(project["id"]),
                                         filename="a.txt", data=b"abc")
    path = services.attachment_folder() / attachment.stored_name
    assert path.read_bytes() == b"abc"
    db.session.rollback()
    assert not path.exists()
    kept = services.add_attachment(db.session.get(User, admin.id), services.load_project(project["id"]),
                                   filename="b.txt", data=b"def")
    db.session.commit()
    db.session.rollback()  # a later rollback does not touch a committed file
    assert (services.attachment_folder() / kept.stored_name).read_bytes() == b"def"


@pytest.mark.parametrize("text", ["sNaN", "NaN", "-Infinity", "1e3", "1E-2", "9" * 30, "1.234", "", "1,5", "0x10"])
def test_parse_decimal_refuses_what_is_not_a_plain_amount(text):
    with pytest.raises(ValueError):
        parse_decimal(text, places=2)


def test_parse_decimal_reads_plain_amounts_and_minus_zero_is_zero():
    assert parse_decimal("95.50") == Decimal("95.50")
    assert parse_decimal(" 12 ") == Decimal("12")
    assert str(parse_decimal("-0")) == "0"
    assert parse_decimal(".5") == Decimal("0.5")


def test_parse_int_and_db_id_stay_within_the_database_integer():
    assert parse_int("2147483647") == 2**31 - 1
    for text in ("2147483648", "9" * 32, "1.5", "1e3", "", "NaN"):
        with pytest.raises(ValueError):
            parse_int(text)
    with pytest.raises(ValueError):
        db_id("0")
    assert db_id("12") == 12


def test_check_date_holds_the_window_of_spec_3():
    assert check_date(date(2000, 1, 1), "day") == date(2000, 1, 1)
    assert check_date(date(2099, 12, 31), "day") == date(2099, 12, 31)
    for day in (date(1999, 12, 31), date(2100, 1, 1), date.min, date.max):
        with pytest.raises(ValidationError) as caught:
            check_date(day, "day")
        assert caught.value.errors == {"day": "Enter a date from 2000-01-01 to 2099-12-31."}
    assert check_date(None, "day", required=False) is None
    assert date_errors(a=date(1, 1, 1), b=None, c=date(2050, 1, 1)) == {
        "a": "Enter a date from 2000-01-01 to 2099-12-31."}


def test_the_calendar_stops_at_the_edges_of_what_a_date_holds():
    calendar = WorkCalendar()
    assert calendar.add_working_days(date.max, 5) == date.max
    assert calendar.add_working_days(date.max, 0) == date.max  # 9999-12-31 is a Friday, a working day
    assert calendar.add_working_days(date(9999, 12, 25), 10) == date.max
    assert calendar.add_working_days(date.min, -3) == date.min
    assert calendar.add_working_days(date(2026, 10, 2), 1) == date(2026, 10, 5)  # Friday + 1 → Monday
    assert calendar.working_days_between(date.min, date.max) > 2_500_000
