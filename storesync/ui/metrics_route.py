"""`GET /metrics`: Prometheus text from every process (`storesync.core.metrics`), with the
worker queues' depth read from the broker at scrape time.

Production needs `Authorization: Bearer <STORESYNC_METRICS_TOKEN>` (no token set: the page is
off); embedded mode answers this machine without one (a token, when set, opens it to others)."""

from __future__ import annotations

import hmac

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from storesync.channels.resilience import circuit_states
from storesync.core import metrics
from storesync.settings import RunMode, get_settings, is_loopback


def _queue_lengths() -> dict[str, int]:
    """Messages waiting per Dramatiq queue (the embedded in-process broker's, or Redis's)."""
    from workers.broker import broker

    lengths: dict[str, int] = {}
    queues = getattr(broker, "queues", None)  # the in-process StubBroker's: name → Queue
    client = getattr(broker, "client", None)  # Redis: each queue is a list of message ids
    namespace = getattr(broker, "namespace", "dramatiq")
    for name in sorted(broker.get_declared_queues()):
        if isinstance(queues, dict) and name in queues:
            lengths[name] = queues[name].qsize()
        elif client is not None:
            lengths[name] = int(client.llen(f"{namespace}:{name}"))
    return lengths


async def metrics_page(request: Request) -> Response:
    cfg = get_settings()
    client = request.client.host if request.client else ""
    open_here = cfg.env is RunMode.EMBEDDED and is_loopback(client)
    if not open_here:
        if not cfg.metrics_token:
            return PlainTextResponse("metrics are off: set STORESYNC_METRICS_TOKEN", 404)
        given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), cfg.metrics_token.encode()):
            return PlainTextResponse("a metrics token is needed", 401)
    body, content_type = await run_in_threadpool(
        metrics.render,
        [metrics.queue_depth(_queue_lengths), metrics.circuit_state(circuit_states)],
    )
    return Response(body, media_type=content_type)


routes = [Route("/metrics", metrics_page)]
