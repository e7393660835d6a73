"""`storesync inventory ...` commands."""

from __future__ import annotations

from typing import Annotated

import typer

from storesync.db import session_scope
from storesync.inventory import service as inventory
from storesync.tenancy.context import RequestContext
from storesync.tenancy.service import find_organization_id, list_organization_ids

inventory_app = typer.Typer(help="Stock and its ledger.", no_args_is_help=True)


@inventory_app.command("check")
def check(
    org: Annotated[str | None, typer.Option(help="Organization slug or id (default: all).")] = None,
) -> None:
    """Verify that every stock row equals the sums of its ledger; exit 1 on any mismatch."""
    with session_scope() as session:
        org_ids = (
            [find_organization_id(session, ref=org)] if org else list_organization_ids(session)
        )
    bad = 0
    for org_id in org_ids:
        with session_scope(RequestContext.system(org_id)) as session:
            mismatches = inventory.check_ledger(session, organization_id=org_id)
        for m in mismatches:
            typer.echo(
                f"organization {org_id} item {m.inventory_item_id}: on_hand {m.on_hand} "
                f"(ledger {m.ledger_on_hand}), reserved {m.reserved} (ledger {m.ledger_reserved})"
            )
        bad += len(mismatches)
    typer.echo(f"checked {len(org_ids)} organization(s): {bad} mismatch(es)")
    raise typer.Exit(1 if bad else 0)
