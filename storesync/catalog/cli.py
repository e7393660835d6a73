"""`storesync catalog ...` commands."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from storesync.catalog.schemas import ImportReport

catalog_app = typer.Typer(help="Master catalog: import and export.", no_args_is_help=True)

OrgOption = Annotated[
    str | None, typer.Option("--org", help="Organization slug or id (default: the only one).")
]


def _summary(report: ImportReport) -> str:
    verb = "would be" if report.dry_run else "were" if report.written else "would have been"
    return (
        f"{report.rows_total} rows read, {report.rows_invalid} bad; "
        f"products: {report.products_created} created, {report.products_updated} updated, "
        f"{report.products_unchanged} unchanged; "
        f"variants: {report.variants_created} created, {report.variants_updated} updated, "
        f"{report.variants_unchanged} unchanged; "
        f"{report.stock_changed} stock levels changed ({verb} written)"
    )


def _progress(rows: int) -> None:
    typer.echo(f"... {rows:,} rows read", err=True)


@catalog_app.command("import")
def import_command(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Validate and count only.")] = False,
    skip_invalid: Annotated[
        bool, typer.Option("--skip-invalid", help="Import the good rows, report the bad ones.")
    ] = False,
    org: OrgOption = None,
) -> None:
    """Import products, variants and stock from a CSV or JSON-lines (.jsonl) file.

    Exit code 1 when the file had bad rows and nothing was (or, in a dry run, would be)
    written."""
    from storesync.catalog.importer import detect_format, import_catalog
    from storesync.db import session_scope
    from storesync.tenancy.system import system_context

    with session_scope() as session:
        ctx = system_context(session, org_ref=org)
    with session_scope(ctx) as session, file.open(newline="", encoding="utf-8-sig") as source:
        report = import_catalog(
            session,
            ctx=ctx,
            source=source,
            fmt=detect_format(file.name),
            dry_run=dry_run,
            skip_invalid=skip_invalid,
            reference_id=file.name,
            progress=_progress,
        )
    for error in report.errors:
        typer.echo(str(error))
    typer.echo(_summary(report))
    if report.errors and report.rows_applied == 0:
        raise typer.Exit(1)


@catalog_app.command("export")
def export_command(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write (default: stdout).")
    ] = None,
    org: OrgOption = None,
) -> None:
    """Export the catalog as CSV (re-importable: `storesync catalog import` reads it back)."""
    from storesync.catalog.exporter import export_catalog
    from storesync.db import session_scope
    from storesync.tenancy.system import system_context

    with session_scope() as session:
        ctx = system_context(session, org_ref=org)
    with session_scope(ctx) as session:
        if output is None:
            rows = export_catalog(session, ctx=ctx, out=sys.stdout)
        else:
            with output.open("w", newline="", encoding="utf-8") as out:
                rows = export_catalog(session, ctx=ctx, out=out)
    typer.echo(f"{rows} variants exported", err=True)
