"""The emails accounts send: an invitation, a sign-up confirmation (or, for an email that has
an account already, a note saying so), a password reset. Each has a text and an HTML part and
one link back to StoreSync's `/welcome` page, which reads the link's purpose."""

from __future__ import annotations

import html

from storesync.mail import Mail, send
from storesync.settings import get_settings

WELCOME_ROUTE = "/welcome"


def link_url(token: str) -> str:
    return f"{get_settings().public_url}{WELCOME_ROUTE}?token={token}"


def _mail(to: str, subject: str, lines: list[str], url: str, button: str) -> Mail:
    text = "\n\n".join([*lines, f"{button}: {url}", "— StoreSync"])
    paragraphs = "".join(f"<p>{html.escape(line)}</p>" for line in lines)
    body = (
        f'<div style="font-family:sans-serif;max-width:32rem">{paragraphs}'
        f'<p><a href="{html.escape(url)}" style="display:inline-block;padding:10px 16px;'
        f'background:#3e63dd;color:#fff;border-radius:6px;text-decoration:none">'
        f"{html.escape(button)}</a></p>"
        f'<p style="color:#666;font-size:12px">Or open {html.escape(url)}</p></div>'
    )
    return Mail(to=to, subject=subject, text=text, html=body)


def send_invitation(*, to: str, token: str, organization: str, role: str, by: str) -> None:
    send(
        _mail(
            to,
            f"You are invited to {organization} on StoreSync",
            [
                f"{by or 'A member'} invited you to join {organization} on StoreSync as {role}.",
                "The link works once and expires in 7 days.",
            ],
            link_url(token),
            "Accept the invitation",
        )
    )


def send_signup(*, to: str, token: str | None) -> None:
    """The confirmation link, or (token None: the email has an account) a sign-in hint."""
    settings = get_settings()
    if token is None:
        mail = _mail(
            to,
            "Your StoreSync account",
            [
                "Someone (perhaps you) tried to create a StoreSync account with this email, "
                "which already has one. Sign in instead; if you forgot your password, reset it "
                "from the sign-in page.",
                "If it was not you, you can ignore this email.",
            ],
            f"{settings.public_url}/signin",
            "Sign in",
        )
    else:
        mail = _mail(
            to,
            "Finish creating your StoreSync account",
            [
                "Open this link to choose your password and create your organization.",
                "It works once and expires in 24 hours. If you did not sign up, ignore this email.",
            ],
            link_url(token),
            "Finish signing up",
        )
    send(mail)


def send_reset(*, to: str, token: str | None) -> None:
    """A reset link; nothing at all for an email without an account (the page says the same)."""
    if token is None:
        return
    send(
        _mail(
            to,
            "Reset your StoreSync password",
            [
                "Open this link to choose a new password. It works once and expires in an "
                "hour; every browser signed in to your account will be signed out.",
                "If you did not ask for this, ignore this email: your password stays.",
            ],
            link_url(token),
            "Choose a new password",
        )
    )
