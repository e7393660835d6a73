"""The Dramatiq broker: Redis when STORESYNC_REDIS_URL is set, else the in-process StubBroker
(embedded mode runs a worker thread inside the app; see workers.runtime)."""

from __future__ import annotations

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker

from storesync.settings import get_settings


def make_broker(redis_url: str | None = None) -> dramatiq.Broker:
    url = redis_url if redis_url is not None else get_settings().redis_url
    if url:
        return RedisBroker(url=url)
    return StubBroker()


broker = make_broker()
dramatiq.set_broker(broker)
