"""Accounts in the browser: an owner invites someone who already has their own organization;
they accept in their own browser, switch between the two organizations, and the owner's Audit
page lists the acceptance. Screenshots at phone and desk widths."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.browsing import emailed_link, new_page, no_horizontal_scroll, sign_up, wait_text

pytestmark = pytest.mark.browser
PASSWORD = "a strong pass"


def _switch(page: Any, organization: str) -> None:
    page.click("#org-switch-side")
    page.get_by_role("option", name=organization).click()
    wait_text(page, "#org-name", organization)


def test_invite_accept_switch_and_audit(running_app: str, browser: Any, screenshots: Path) -> None:
    base, tag = running_app, uuid.uuid4().hex[:6]
    team, home = f"Toko Undang {tag}", f"Rumah {tag}"
    owner_email, guest_email = f"owner-{tag}@e.com", f"guest-{tag}@e.com"

    owner = new_page(browser)
    sign_up(owner, base, team, owner_email, PASSWORD)
    guest = new_page(browser)  # a second browser context: its own cookies
    sign_up(guest, base, home, guest_email, PASSWORD)

    owner.goto(f"{base}/settings")
    owner.wait_for_selector("#invite-submit")
    owner.fill("#invite-email", guest_email)
    owner.click("#invite-submit")
    wait_text(owner, ".invitation-email", guest_email)
    owner.screenshot(path=str(screenshots / "settings-invitations-1280.png"), full_page=True)
    members = owner.inner_text("#members")
    assert guest_email not in members.replace(owner.inner_text("#invitations"), "")

    guest.goto(emailed_link(base, guest_email))
    guest.wait_for_selector("#accept-invitation")
    wait_text(guest, "#invite-organization", team)
    guest.screenshot(path=str(screenshots / "welcome-invitation-1280.png"), full_page=True)
    guest.click("#accept-invitation")
    wait_text(guest, "#org-name", team)
    guest.wait_for_function("document.querySelector('#page-title')?.innerText === 'Dashboard'")

    _switch(guest, home)
    guest.goto(f"{base}/settings")  # the switch holds across pages: the session remembers it
    wait_text(guest, "#org-name", home)
    _switch(guest, team)
    assert guest.inner_text("#user-role").strip() == "staff"

    owner.goto(f"{base}/settings")
    wait_text(owner, ".member-email", guest_email)
    owner.goto(f"{base}/audit")
    wait_text(owner, ".audit-row", "member.join")
    rows = owner.locator(".audit-row").all_inner_texts()
    joined = [r for r in rows if "member.join" in r]
    assert len(joined) == 1 and guest_email in joined[0]
    assert any("member.invite" in r and owner_email in r for r in rows)
    owner.screenshot(path=str(screenshots / "audit-1280.png"), full_page=True)
    assert no_horizontal_scroll(owner)

    phone = owner.context.new_page()
    phone.set_viewport_size({"width": 375, "height": 800})
    phone.goto(f"{base}/audit")
    wait_text(phone, ".audit-row", "member.join")
    assert no_horizontal_scroll(phone)
    phone.screenshot(path=str(screenshots / "audit-375.png"), full_page=True)
    phone.goto(f"{base}/settings")
    phone.wait_for_selector("#account")
    assert no_horizontal_scroll(phone)
    phone.screenshot(path=str(screenshots / "settings-account-375.png"), full_page=True)

    # The invitation was used: its link now says so, and nobody else can take it.
    stranger = new_page(browser, 375)
    stranger.goto(emailed_link(base, guest_email))
    stranger.wait_for_selector("#welcome-invalid")
    assert no_horizontal_scroll(stranger)
    stranger.screenshot(path=str(screenshots / "welcome-used-375.png"), full_page=True)
