"""The `/api/v1` application: the routers, the error envelope, the guard (body size,
idempotency), the per-key rate limiter, the OpenAPI document at `/api/v1/openapi.json` and a
readable page of it at `/api/v1/docs` (rendered here: no script from elsewhere)."""

from __future__ import annotations

import html
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse

from storesync.api.errors import DESCRIPTIONS, install_handlers
from storesync.api.guard import ApiGuard, RequestIds
from storesync.api.limits import Limiter, limiter_for
from storesync.api.routes import (
    audit,
    fulfilment,
    inventory,
    jobs,
    orders,
    products,
    publishing,
    stores,
    webhooks,
)
from storesync.settings import Settings, get_settings

PREFIX = "/api/v1"
DESCRIPTION = """StoreSync's merchant API: the catalog, stock, orders, stores, listings, sync jobs,
notifications and audit log of one organization, for the systems a merchant keeps beside
StoreSync.

Authenticate with `Authorization: Bearer <API key>` (Settings → API keys, or
`storesync apikey create`). A key's scopes (`read`, `write`, or `<resource>:read|write`) limit
what it may touch; its role is checked like a member's. Every POST accepts an
`Idempotency-Key` header: a repeat with the same key and body gets the first response and
changes nothing twice. Errors share one envelope: `type`, `code`, `message`, `details`
(`details.field` names the field of a validation error), `retryable`, `timestamp`. Lists are
keyset-paginated: pass `next_cursor` as `cursor` for the next page."""


def build_api(settings: Settings | None = None, *, limiter: Limiter | None = None) -> FastAPI:
    cfg = settings or get_settings()
    api = FastAPI(
        title="StoreSync API",
        version="1",
        description=DESCRIPTION,
        openapi_url="/openapi.json",
        docs_url=None,
        redoc_url=None,
        servers=[{"url": PREFIX}],
    )
    api.state.limiter = limiter or limiter_for(cfg)
    install_handlers(api)
    for module in (
        products,
        inventory,
        orders,
        fulfilment,
        stores,
        publishing,
        jobs,
        webhooks,
        audit,
    ):
        api.include_router(module.router)
    api.add_middleware(ApiGuard, max_body_bytes=cfg.api_max_body_bytes)
    api.add_middleware(RequestIds)  # outermost: the guard's lines name the request too

    api.openapi = lambda: _document(api)  # type: ignore[method-assign]

    @api.get("/docs", include_in_schema=False)
    def docs(_request: Request) -> HTMLResponse:
        return HTMLResponse(render_docs(api.openapi()))

    return api


def _document(api: FastAPI) -> dict[str, Any]:
    """FastAPI's document, plus what the guard may answer before any route runs: 413 on every
    write (a body over the cap), and on every POST 409 (the first request with its
    Idempotency-Key still running) and 422 (the key reused with another body)."""
    if api.openapi_schema is not None:
        return api.openapi_schema
    document = get_openapi(
        title=api.title,
        version=api.version,
        description=api.description,
        routes=api.routes,
        servers=api.servers,
    )
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/ApiError"}}}
    for operations in document.get("paths", {}).values():
        for method, operation in operations.items():
            answers = operation.setdefault("responses", {})
            extra = {"put": (413,), "patch": (413,), "delete": (413,), "post": (409, 413, 422)}
            for status in extra.get(method, ()):
                answers.setdefault(
                    str(status), {"description": DESCRIPTIONS[status], "content": error}
                )
    api.openapi_schema = document
    return document


def render_docs(document: dict[str, Any]) -> str:
    """The OpenAPI document as one page: every operation with its parameters, body and answers."""
    esc = html.escape
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>{esc(document['info']['title'])}</title>",
        "<style>body{font:15px/1.5 system-ui,sans-serif;max-width:960px;margin:2em auto;"
        "padding:0 1em}code,pre{background:#f4f4f5;padding:0 .3em;border-radius:4px}"
        "h3{margin-top:2em}.m{font-weight:700;text-transform:uppercase;margin-right:.5em}"
        "table{border-collapse:collapse}td{padding:.2em .8em .2em 0;vertical-align:top}</style>",
        "</head><body>",
        f"<h1>{esc(document['info']['title'])} v{esc(document['info']['version'])}</h1>",
        f"<p>Base URL: <code>{esc(PREFIX)}</code> · "
        f"<a href='{PREFIX}/openapi.json'>openapi.json</a></p>",
        f"<pre style='white-space:pre-wrap'>{esc(document['info'].get('description', ''))}</pre>",
    ]
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            parts.append(
                f"<h3 id='{esc(operation.get('operationId', ''))}'><span class='m'>"
                f"{esc(method)}</span><code>{esc(PREFIX + path)}</code></h3>"
            )
            if operation.get("summary"):
                parts.append(f"<p><b>{esc(operation['summary'])}</b></p>")
            if operation.get("description"):
                parts.append(f"<p>{esc(operation['description'])}</p>")
            params = operation.get("parameters", [])
            if params:
                rows = "".join(
                    f"<tr><td><code>{esc(p['name'])}</code></td><td>{esc(p['in'])}</td>"
                    f"<td>{'required' if p.get('required') else 'optional'}</td></tr>"
                    for p in params
                )
                parts.append(f"<table>{rows}</table>")
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body:
                ref = body.get("schema", {}).get("$ref", "")
                parts.append(f"<p>Body: <code>{esc(ref.rsplit('/', 1)[-1] or 'JSON')}</code></p>")
            answers = ", ".join(
                f"{esc(code)} {esc(answer.get('description', ''))}"
                for code, answer in operation.get("responses", {}).items()
            )
            parts.append(f"<p>Answers: {answers}</p>")
    parts.append("</body></html>")
    return "".join(parts)
