"""`storesync sandbox`: the marketplace simulators served alone."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from storesync.sandbox.seed import SeedConfig


def sandbox_command(
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port on 127.0.0.1.")] = 8100,
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    seed: Annotated[int, typer.Option(help="Random seed of the seeded world.")] = 7,
    shops: Annotated[int, typer.Option(min=1, max=50, help="Shops per platform.")] = 1,
    products: Annotated[int, typer.Option(min=1, max=100_000, help="Products per shop.")] = 24,
    orders_per_minute: Annotated[
        float, typer.Option(min=0, help="Random orders placed per minute (0 = none).")
    ] = 0,
    webhook: Annotated[
        str | None, typer.Option(help="Callback URL to push both platforms' webhooks to.")
    ] = None,
    state_file: Annotated[
        Path | None, typer.Option(help="SQLite file that keeps the world across restarts.")
    ] = None,
) -> None:
    """Run the Shopee and TikTok Shop simulators and their control API."""
    import gc

    import uvicorn

    from storesync.sandbox.app import Sandbox

    sandbox = Sandbox(
        seed=SeedConfig(seed=seed, shops_per_platform=shops, products_per_shop=products),
        orders_per_minute=orders_per_minute,
        state_file=state_file,
    )
    # The seeded world is hundreds of thousands of long-lived objects; left to the cyclic
    # collector, every full collection walks all of them (about 100 ms for 20,000 products), and
    # a page of a large shop allocates enough to trigger one. Frozen, they are never scanned.
    gc.collect()
    gc.freeze()
    if webhook:
        sandbox.state.webhooks.update({"shopee": webhook, "tiktok": webhook})
    base = f"http://{host}:{port}"
    typer.echo(
        f"sandbox: Shopee {base}/shopee, TikTok {base}/tiktok and {base}/tiktok-auth, "
        f"control {base}/sandbox/apps"
    )
    uvicorn.run(sandbox.asgi(), host=host, port=port, log_level="warning", access_log=False)
