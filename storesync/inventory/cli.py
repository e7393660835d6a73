"""`storesync inventory ...` commands."""

from __future__ import annotations

import typer

inventory_app = typer.Typer(help="Stock and its ledger.", no_args_is_help=True)
