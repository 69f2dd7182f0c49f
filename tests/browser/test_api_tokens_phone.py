"""The API-token page at phone width (390 px) in headless Chromium: reached from the user menu, a token made (its
secret shown once, in a labelled read-only field), gone from the page after a reload, revoked with the confirm
dialog; no horizontal page scroll, no CSP violation or script error. Screenshots go to test-artifacts/."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ARTIFACTS
from tests.browser.test_sign_in_journey import PHONE, _assert_clean, _sign_in


def _fits(page, name: str) -> None:
    page.wait_for_load_state("load")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"api-tokens-{name}-390.png"), full_page=True)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], (name, width)


@pytest.mark.browser
@pytest.mark.parametrize("page", [PHONE], indirect=True, ids=["phone"])
def test_make_see_once_and_revoke_a_token_on_a_phone(page, live_server, make):
    user = make.user(role="consultant", name="Cleo Consultant")
    _sign_in(page, live_server, user)
    page.get_by_role("button", name="Toggle navigation").click()
    page.get_by_role("link", name="API tokens").click()
    expect(page.get_by_role("heading", name="API tokens", exact=True)).to_be_visible()
    expect(page.get_by_test_id("empty-state")).to_be_visible()
    _fits(page, "empty")

    page.get_by_label("Name").fill("Nightly export to the data warehouse")
    page.get_by_role("button", name="Create token").click()
    secret_field = page.get_by_label("Your new token")
    expect(secret_field).to_be_visible()
    secret = secret_field.input_value()
    assert re.fullmatch(r"psa_[A-Za-z0-9_-]{20,}", secret), secret
    _fits(page, "created")

    page.goto(f"{live_server}/account/api-tokens/")
    expect(page.get_by_test_id("token-row")).to_have_count(1)
    assert secret not in page.content()
    _fits(page, "list")

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Revoke").click()
    expect(page.get_by_text("revoked: it no longer works")).to_be_visible()
    expect(page.get_by_test_id("token-row").get_by_text("Revoked", exact=True)).to_be_visible()
    _fits(page, "revoked")
    _assert_clean(page, live_server)
