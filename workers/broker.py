"""The Dramatiq broker: Redis when STORESYNC_REDIS_URL is set, else the in-process StubBroker."""

from __future__ import annotations

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker

from storesync.settings import get_settings


def make_broker() -> dramatiq.Broker:
    redis_url = get_settings().redis_url
    if redis_url:
        return RedisBroker(url=redis_url)
    return StubBroker()


broker = make_broker()
dramatiq.set_broker(broker)
