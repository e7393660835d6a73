"""`storesync apikey ...`: API keys of an organization, from the command line (the same service
as Settings → API keys)."""

from __future__ import annotations

import uuid
from typing import Annotated

import typer

from storesync.db import session_scope, writing
from storesync.tenancy import api_keys
from storesync.tenancy.system import system_context

apikey_app = typer.Typer(help="API keys for the merchant API (/api/v1).", no_args_is_help=True)

Organization = Annotated[
    str, typer.Option("--organization", "--org", help="The organization's slug or id.")
]


@apikey_app.command("create")
def create(
    organization: Organization,
    name: Annotated[str, typer.Option(help="What the key is for, e.g. 'ERP sync'.")],
    scope: Annotated[
        list[str] | None,
        typer.Option(
            "--scope",
            help="read, write, or <resource>:read|write (repeatable; default: read).",
        ),
    ] = None,
    role: Annotated[str, typer.Option(help="admin, staff or viewer.")] = "admin",
) -> None:
    """Create a key; the key itself is the last line printed (shown this once)."""
    with session_scope() as session:
        ctx = system_context(session, org_ref=organization)
    with writing(ctx) as session:
        created = api_keys.create_api_key(
            session, ctx=ctx, name=name, scopes=scope or api_keys.DEFAULT_SCOPES, role=role
        )
    key = created.key
    typer.echo(
        f"created API key {key.name!r} ({key.prefix}) with scopes {', '.join(key.scopes)} "
        f"and role {key.role}; store it now, it is not shown again:"
    )
    typer.echo(created.secret)


@apikey_app.command("list")
def list_keys(organization: Organization) -> None:
    """The organization's keys (never the keys themselves)."""
    with session_scope() as session:
        ctx = system_context(session, org_ref=organization)
    with session_scope(ctx) as session:
        keys = api_keys.list_api_keys(session, ctx=ctx)
    for key in keys:
        state = f"revoked {key.revoked_at:%Y-%m-%d}" if key.revoked_at else "active"
        used = f"{key.last_used_at:%Y-%m-%d %H:%M}" if key.last_used_at else "never"
        typer.echo(
            f"{key.id}  {key.prefix}  {key.name}  [{', '.join(key.scopes)}]  {key.role}  "
            f"{state}  last used {used}"
        )


@apikey_app.command("revoke")
def revoke(organization: Organization, key_id: uuid.UUID) -> None:
    """Refuse a key from now on."""
    with session_scope() as session:
        ctx = system_context(session, org_ref=organization)
    with writing(ctx) as session:
        key = api_keys.revoke_api_key(session, ctx=ctx, key_id=key_id)
    typer.echo(f"revoked API key {key.name!r} ({key.prefix})")
