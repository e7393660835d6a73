"""`storesync catalog ...` commands."""

from __future__ import annotations

import typer

catalog_app = typer.Typer(help="Master catalog: import and export.", no_args_is_help=True)
