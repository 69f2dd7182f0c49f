"""The signed-in home page and the notification inbox."""

from __future__ import annotations

from tests.conftest import login_as, post_form


def test_dashboard_shows_empty_states_for_a_new_user(client, make):
    login_as(client, make.user(name="Nina New"))
    html = client.get("/").get_data(as_text=True)
    assert "Welcome, Nina New" in html
    assert "Nothing needs your attention" in html


def test_navigation_follows_the_role(client, make):
    login_as(client, make.user(role="consultant"))
    html = client.get("/").get_data(as_text=True)
    assert "/admin/users" not in html and "/admin/accounts" not in html
    post_form(client, "/logout")
    login_as(client, make.user(role="admin"))
    html = client.get("/").get_data(as_text=True)
    assert "/admin/users" in html and "/admin/settings" in html and "/admin/accounts" in html


def test_notifications_show_and_mark_read(client, make):
    user = make.user()
    make.notification(user, message="Timesheet approved", link="/")
    make.notification(make.user(), message="Someone else's news")
    login_as(client, user)
    inbox = client.get("/notifications").get_data(as_text=True)
    assert "Timesheet approved" in inbox and "Someone else" not in inbox
    assert 'aria-label="1 unread"' in inbox
    response = post_form(client, "/notifications/read")
    assert response.status_code == 302
    assert 'aria-label="1 unread"' not in client.get("/notifications").get_data(as_text=True)


def test_notification_inbox_has_an_empty_state(client, make):
    login_as(client, make.user())
    assert "No notifications yet" in client.get("/notifications").get_data(as_text=True)
