"""Sign in, see the dashboard, sign out: in headless Chromium, at desktop and at phone width."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from tests.factories import PASSWORD

PHONE = {"width": 390, "height": 844}


def _sign_in(page, live_server, user):
    page.goto(f"{live_server}/login")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.fill('input[name="email"]', user.email)
    page.fill('input[name="password"]', PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name=f"Welcome, {user.name}")).to_be_visible()
    assert urlsplit(page.url).path == "/"
    # the heading shows before the scripts at the end of <body> have run; Bootstrap's collapse
    # only answers a click once its script has attached, so wait for the page's load event
    page.wait_for_load_state("load")


def _assert_signed_out(page):
    expect(page.get_by_text("You are signed out.")).to_be_visible()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    assert urlsplit(page.url).path == "/login"


def _assert_clean(page, live_server):
    """No CSP violation or script error, and every request (Bootstrap included) went to the app."""
    log = page.log
    assert log.csp_violations == [], log.csp_violations
    assert log.errors == [], log.errors
    foreign = [url for url in log.requests if urlsplit(url).hostname != "127.0.0.1"]
    assert foreign == [], foreign
    bootstrap = [url for url in log.requests if "bootstrap" in urlsplit(url).path]
    assert any(url.endswith(".css") for url in bootstrap), log.requests
    assert any(url.endswith(".js") for url in bootstrap), log.requests
    assert all(url.startswith(live_server + "/") for url in bootstrap), bootstrap


@pytest.mark.browser
def test_sign_in_and_out(page, live_server, make):
    user = make.user(name="Dana Browser")
    _sign_in(page, live_server, user)

    sign_out = page.get_by_role("button", name="Sign out")
    expect(sign_out).to_be_visible()
    sign_out.click()

    _assert_signed_out(page)
    _assert_clean(page, live_server)


@pytest.mark.browser
@pytest.mark.parametrize("page", [PHONE], indirect=True, ids=["phone"])
def test_sign_out_from_the_collapsed_navbar(page, live_server, make):
    user = make.user(name="Pat Phone")
    _sign_in(page, live_server, user)

    sign_out = page.get_by_role("button", name="Sign out")
    toggler = page.get_by_role("button", name="Toggle navigation")
    expect(sign_out).to_be_hidden()
    expect(toggler).to_have_attribute("aria-expanded", "false")
    toggler.click()
    expect(toggler).to_have_attribute("aria-expanded", "true")
    # Bootstrap animates the menu open ("collapsing"); click only once it has settled ("collapse show")
    expect(page.locator("#mainnav")).to_have_class(re.compile(r"\bcollapse\b.*\bshow\b"))
    expect(sign_out).to_be_visible()
    sign_out.click()

    _assert_signed_out(page)
    _assert_clean(page, live_server)
