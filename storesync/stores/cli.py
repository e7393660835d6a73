"""`storesync keys ...`: the Fernet keys that seal store credentials."""

from __future__ import annotations

from typing import Annotated

import typer
from cryptography.fernet import Fernet

from storesync.channels import connections
from storesync.db import session_scope
from storesync.notifications import webhooks
from storesync.settings import RunMode, get_settings
from storesync.tenancy.context import RequestContext
from storesync.tenancy.service import list_organization_ids

keys_app = typer.Typer(help="Encryption keys of store credentials.", no_args_is_help=True)


@keys_app.command("generate")
def generate() -> None:
    """Print a new Fernet key (put it first in STORESYNC_FERNET_KEYS, then run `keys rotate`)."""
    typer.echo(Fernet.generate_key().decode())


@keys_app.command("rotate")
def rotate(
    generate_key: Annotated[
        bool, typer.Option("--generate", help="Embedded mode: add a new key to var/ first.")
    ] = False,
) -> None:
    """Re-encrypt every store's credentials under the newest key (the first one configured)."""
    settings = get_settings()
    if generate_key:
        if settings.env is not RunMode.EMBEDDED:
            raise typer.BadParameter(
                "--generate only manages var/ keys in embedded mode; "
                "in production prepend a key to STORESYNC_FERNET_KEYS"
            )
        path = settings.var_dir / "fernet.keys"
        keys = [Fernet.generate_key().decode(), *settings.fernet_key_list]
        path.write_text(",".join(keys) + "\n")
        settings.fernet_keys = ",".join(keys)
    with session_scope() as session:
        org_ids = list_organization_ids(session)
    total = secrets = 0
    for org_id in org_ids:
        with session_scope(RequestContext.system(org_id)) as session:
            total += connections.rotate_credentials(
                session, ctx=RequestContext.system(org_id), settings=settings
            )
            secrets += webhooks.rotate_secrets(
                session, ctx=RequestContext.system(org_id), settings=settings
            )
    typer.echo(
        f"re-encrypted {total} store credential(s) in {len(org_ids)} organization(s) "
        f"under the newest of {len(settings.fernet_key_list)} key(s)"
    )
    if secrets:
        typer.echo(f"re-encrypted {secrets} webhook signing secret(s)")
