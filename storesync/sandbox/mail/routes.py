"""`GET /mail` (an HTML page) and `GET /mail.json` under the sandbox's control API, and so
behind the same guard."""

from __future__ import annotations

import html
from datetime import datetime
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route

from storesync.sandbox.mail.inbox import TRAILING, URL, SentMail, newest

# The page shows live invitation and reset links: keep it out of caches, and keep the page's
# address (it may carry `?token=`) out of the Referer when one is followed.
HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
}


def mail_routes(directory: Path) -> list[Route]:
    def page(_request: Request) -> HTMLResponse:  # sync: Starlette reads files in a thread
        return HTMLResponse(render(newest(directory), directory), headers=HEADERS)

    def listing(_request: Request) -> JSONResponse:
        return JSONResponse([m.to_json() for m in newest(directory)], headers=HEADERS)

    return [Route("/mail", page), Route("/mail.json", listing)]


def render(messages: list[SentMail], directory: Path) -> str:
    if messages:
        body = "".join(_message(m) for m in messages)
    else:
        body = f"<p>No mail yet. Messages appear here as they are written to {_e(directory)}.</p>"
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Sandbox: sent mail</title>"
        f"<style>{STYLE}</style></head><body><h1>Sent mail</h1>"
        f"<p class='note'>The newest {len(messages)} messages StoreSync sent (no mail left this "
        f"machine). JSON: <code>mail.json</code>.</p>{body}</body></html>"
    )


def _message(mail: SentMail) -> str:
    return (
        "<article>"
        f"<header><time datetime='{_e(mail.date)}'>{_e(_when(mail.date))}</time>"
        f"<div><strong>{_e(mail.subject)}</strong></div>"
        f"<div class='to'>to {_e(mail.to)}</div></header>"
        f"<pre>{linkify(mail.text)}</pre>"
        "</article>"
    )


def linkify(text: str) -> str:
    """Escape `text` and make its http(s) URLs links."""
    out, last = [], 0
    for match in URL.finditer(text):
        url = match.group(0).rstrip(TRAILING)
        out += [
            _e(text[last : match.start()]),
            f"<a href='{_e(url)}' rel='noreferrer'>{_e(url)}</a>",
        ]
        last = match.start() + len(url)
    out.append(_e(text[last:]))
    return "".join(out)


def _when(iso: str) -> str:
    try:
        return datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M:%S %Z").strip()
    except ValueError:
        return iso


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}"
    "article{border:1px solid #ddd;border-radius:6px;margin:1rem 0;padding:.75rem 1rem}"
    "header{display:grid;gap:.2rem}time,.to,.note{color:#666;font-size:.9rem}"
    "pre{white-space:pre-wrap;word-break:break-word;font-family:inherit;margin:.75rem 0 0}"
)
