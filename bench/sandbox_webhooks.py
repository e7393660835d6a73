"""Acceptance run for the sandbox's order generator: `storesync sandbox --orders-per-minute N`
for a while, every webhook pushed to a local receiver that counts them and checks each
signature. Prints figures; asserts nothing.

    .venv/bin/python bench/sandbox_webhooks.py [--orders-per-minute 600] [--seconds 60]
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from storesync.sandbox.server import free_port, serve_in_thread  # noqa: E402

received: list[tuple[str, dict[str, str], bytes]] = []


async def hook(request: Request) -> Response:
    received.append((request.url.path, dict(request.headers), await request.body()))
    return Response(status_code=200)


def _verify(apps: dict, url: str, headers: dict[str, str], body: bytes) -> tuple[str, bool]:
    payload = json.loads(body)
    if "tts_notification_id" in payload:
        tiktok = apps["tiktok"]
        message = tiktok["app_key"].encode() + body
        key = tiktok["app_secret"].encode()
        platform = "tiktok"
    else:
        message = url.encode() + b"|" + body
        key = apps["shopee"]["partner_key"].encode()
        platform = "shopee"
    expected = hmac.new(key, message, hashlib.sha256).hexdigest()
    return platform, hmac.compare_digest(headers.get("authorization", ""), expected)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders-per-minute", type=float, default=600)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--products", type=int, default=200)
    args = parser.parse_args()
    with serve_in_thread(Starlette(routes=[Route("/hook", hook, methods=["POST"])])) as base:
        url = f"{base}/hook"
        port = free_port()
        sandbox = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "storesync.cli",
                "sandbox",
                "--port",
                str(port),
                "--products",
                str(args.products),
                "--orders-per-minute",
                str(args.orders_per_minute),
                "--webhook",
                url,
            ],
            cwd=ROOT,
            env={**os.environ, "STORESYNC_VAR_DIR": "/tmp/storesync-bench-var"},
        )
        control = f"http://127.0.0.1:{port}/sandbox"
        try:
            for _ in range(200):
                try:
                    apps = httpx.get(f"{control}/apps").json()
                    break
                except httpx.HTTPError:
                    time.sleep(0.05)
            started = time.monotonic()
            time.sleep(args.seconds)
            httpx.post(f"{control}/generator", json={"orders_per_minute": 0})
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                stats = httpx.get(f"{control}/webhooks").json()
                if (
                    stats["stats"]["delivered"] + stats["stats"]["failed"]
                    >= stats["stats"]["queued"]
                ):
                    break
                time.sleep(0.2)
            elapsed = time.monotonic() - started
            generator = httpx.get(f"{control}/generator").json()
        finally:
            sandbox.terminate()
            sandbox.wait(timeout=20)
    verified = Counter(_verify(apps, url, headers, body) for _, headers, body in received)
    print(
        f"ran {elapsed:5.1f} s at {args.orders_per_minute:g} orders/min: "
        f"{generator['placed']} orders placed ({generator['skipped']} skipped, out of stock)"
    )
    print(
        f"sandbox: {stats['events']} events, {stats['stats']['queued']} pushes queued, "
        f"{stats['stats']['delivered']} delivered, {stats['stats']['failed']} failed, "
        f"{stats['stats']['retried']} retries"
    )
    print(
        f"receiver: {len(received)} pushes received; signatures: "
        + ", ".join(f"{p} {'ok' if ok else 'BAD'} {n}" for (p, ok), n in sorted(verified.items()))
    )


if __name__ == "__main__":
    main()
