"""Sign-in throttling: failed passwords per account and per address, email-sending requests per
email and per address; in this process and shared through Redis."""

from __future__ import annotations

import itertools
import os
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import cast

import pytest
import redis

from storesync.api.errors import STATUS
from storesync.core.clock import set_clock
from storesync.core.errors import ErrorType
from storesync.settings import Settings
from storesync.tenancy.auth.throttle import (
    MAIL_ADDRESS,
    MAIL_EMAIL,
    SIGNIN_ACCOUNT,
    SIGNIN_ADDRESS,
    Key,
    Limit,
    MemoryThrottle,
    RedisThrottle,
    SignInGuard,
    Throttle,
    TooManyAttempts,
    address_subject,
    email_subject,
    throttle_for,
)
from tests.conftest import unavailable

REDIS_URL = os.environ.get("STORESYNC_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
START = datetime(2031, 3, 14, 9, 0, tzinfo=UTC)
Advance = Callable[[float], None]
_addresses = itertools.count()


@pytest.fixture
def advance() -> Iterator[Advance]:
    """The mocked clock starts at START; `advance(seconds)` moves it on."""
    now = [START]
    set_clock(lambda: now[0])

    def move(seconds: float) -> None:
        now[0] += timedelta(seconds=seconds)

    yield move
    set_clock(None)


@pytest.fixture
def redis_client() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as error:
        unavailable("Redis", error)
    yield client
    client.close()


@pytest.fixture
def redis_prefix(redis_client: redis.Redis) -> Iterator[str]:
    """A key prefix of this test's own; its keys are deleted afterwards."""
    prefix = f"storesync:test:throttle:{uuid.uuid4().hex}:"
    yield prefix
    for name in redis_client.scan_iter(match=f"{prefix}*"):
        redis_client.delete(name)


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def throttle(request: pytest.FixtureRequest, advance: Advance) -> Throttle:
    if request.param == "memory":
        return MemoryThrottle()
    client = request.getfixturevalue("redis_client")
    return RedisThrottle(client, prefix=request.getfixturevalue("redis_prefix"))


@pytest.fixture
def guard(throttle: Throttle) -> SignInGuard:
    return SignInGuard(throttle)


def _email() -> str:
    return f"owner-{uuid.uuid4().hex[:8]}@example.com"


def _address() -> str:
    n = next(_addresses)
    return f"198.{18 + n // 62500}.{n // 250 % 250}.{n % 250 + 1}"


def _refusal(action: Callable[[], None]) -> TooManyAttempts:
    with pytest.raises(TooManyAttempts) as caught:
        action()
    return caught.value


def _fail(guard: SignInGuard, email: str, address: str, times: int) -> None:
    for _ in range(times):
        guard.check(email, address)
        guard.failure(email, address)


# -- sign-in -------------------------------------------------------------------------------------


def test_the_eleventh_wrong_password_in_a_minute_is_refused_while_another_account_signs_in(
    guard: SignInGuard, advance: Advance
) -> None:
    email, address = _email(), _address()
    for _ in range(10):
        guard.check(email, address)
        guard.failure(email, address)
        advance(3)

    refused = _refusal(lambda: guard.check(email, address))

    assert refused.type is ErrorType.RATE_LIMIT and STATUS[refused.type] == 429
    assert refused.code == "too_many_attempts"
    assert 0 < refused.retry_after <= 60
    assert refused.retry_after == 60 - 30  # the first failure, 30 s ago, lapses in 30 s
    assert refused.details == {"retry_after": 30}
    assert refused.message == "too many attempts; try again in 30 s"
    guard.check(_email(), address)  # another account, same address: still allowed
    guard.success(_email())


def test_the_refusal_reads_the_same_for_an_unknown_and_a_known_account(
    guard: SignInGuard,
) -> None:
    address = _address()
    known, unknown = _email(), _email()
    _fail(guard, known, address, 10)
    _fail(guard, unknown, address, 10)

    one = _refusal(lambda: guard.check(known, address))
    two = _refusal(lambda: guard.check(unknown, address))

    assert one.to_dict() == two.to_dict()
    assert known not in one.message and "exist" not in one.message


def test_an_address_is_refused_after_thirty_failures_across_accounts(guard: SignInGuard) -> None:
    address = _address()
    for _ in range(SIGNIN_ADDRESS.attempts // 5):
        _fail(guard, _email(), address, 5)

    refused = _refusal(lambda: guard.check(_email(), address))

    assert refused.code == "too_many_attempts" and 0 < refused.retry_after <= 60
    guard.check(_email(), _address())  # another address is not held back


def test_the_window_slides(guard: SignInGuard, advance: Advance) -> None:
    email, address = _email(), _address()
    _fail(guard, email, address, 5)
    advance(30)
    _fail(guard, email, address, 5)
    advance(29)
    assert _refusal(lambda: guard.check(email, address)).retry_after == 1

    advance(2)  # 61 s after the first five: they lapsed, the last five still count
    guard.check(email, address)
    _fail(guard, email, address, 5)
    assert _refusal(lambda: guard.check(email, address)).retry_after == 29

    advance(61)
    guard.check(email, address)


def test_success_clears_the_account_but_not_the_address(guard: SignInGuard) -> None:
    email, address = _email(), _address()
    _fail(guard, email, address, 10)
    _refusal(lambda: guard.check(email, address))

    guard.success(email)

    guard.check(email, address)
    for _ in range(4):  # 10 + 4 * 5 = 30 on the address, though the account was cleared
        _fail(guard, _email(), address, 5)
    _refusal(lambda: guard.check(email, address))
    guard.check(email, _address())


def test_the_account_is_the_normalised_email(guard: SignInGuard) -> None:
    address = _address()
    _fail(guard, "Owner@Example.COM ", address, 10)

    _refusal(lambda: guard.check("owner@example.com", _address()))


def test_ipv6_clients_are_counted_by_their_64_and_mapped_ipv4_as_ipv4() -> None:
    assert address_subject("2001:db8:1:2:aaaa::1") == address_subject("2001:db8:1:2:bbbb::9")
    assert address_subject("2001:db8:1:2::1") != address_subject("2001:db8:1:3::1")
    assert address_subject("::ffff:203.0.113.7") == "203.0.113.7"
    assert address_subject("") == "unknown"
    assert len(address_subject("x" * 10_000)) == 32
    assert email_subject("A@B.C") == email_subject(" a@b.c") and len(email_subject("a@b.c")) == 32


# -- email-sending requests ----------------------------------------------------------------------


def test_five_emails_per_address_in_fifteen_minutes_then_refused(
    guard: SignInGuard, advance: Advance
) -> None:
    email, address = _email(), _address()
    for _ in range(MAIL_EMAIL.attempts):
        guard.check_mail_request(email, address)
        advance(60)

    refused = _refusal(lambda: guard.check_mail_request(email, _address()))

    assert refused.code == "too_many_requests" and refused.type is ErrorType.RATE_LIMIT
    assert refused.retry_after == 15 * 60 - 5 * 60
    assert refused.message == "too many requests; try again in 10 min"
    guard.check_mail_request(_email(), address)
    advance(refused.retry_after)
    guard.check_mail_request(email, address)


def test_an_address_may_ask_for_twenty_emails_and_a_refused_request_counts_nothing(
    guard: SignInGuard,
) -> None:
    address, flooded = _address(), _email()
    for _ in range(MAIL_EMAIL.attempts):
        guard.check_mail_request(flooded, address)
    for _ in range(10):  # refused on the email: the address's count does not move
        _refusal(lambda: guard.check_mail_request(flooded, address))
    for _ in range(MAIL_ADDRESS.attempts - MAIL_EMAIL.attempts):
        guard.check_mail_request(_email(), address)

    refused = _refusal(lambda: guard.check_mail_request(_email(), address))

    assert refused.code == "too_many_requests" and 0 < refused.retry_after <= 15 * 60


def test_hit_lets_exactly_the_limit_through_under_concurrency(throttle: Throttle) -> None:
    key = Key(MAIL_EMAIL, uuid.uuid4().hex)
    allowed: list[bool] = []
    lock = threading.Lock()

    def request() -> None:
        for _ in range(10):
            wait = throttle.hit([key])
            with lock:
                allowed.append(wait is None)

    threads = [threading.Thread(target=request) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert allowed.count(True) == MAIL_EMAIL.attempts and len(allowed) == 80


# -- the in-process throttle ---------------------------------------------------------------------


def test_memory_stays_bounded_and_lapsed_keys_go_first(advance: Advance) -> None:
    throttle = MemoryThrottle(max_keys=100)
    live, brief = Key(SIGNIN_ACCOUNT, "live"), Limit("test:brief", attempts=1, window_seconds=1)
    for _ in range(10):
        throttle.failed([live])
    for n in range(60):
        throttle.failed([Key(brief, f"lapsed-{n}")])
    advance(2)

    for n in range(40):  # 101 keys: the 60 lapsed ones go, not the least recently counted
        throttle.failed([Key(SIGNIN_ADDRESS, f"new-{n}")])

    assert len(throttle) == 41
    assert throttle.retry_after([live]) == 58
    for n in range(40, 10_000):
        throttle.failed([Key(SIGNIN_ADDRESS, f"new-{n}")])
    assert len(throttle) <= 100
    newest = Key(SIGNIN_ADDRESS, "new-9999")
    for _ in range(SIGNIN_ADDRESS.attempts - 1):
        throttle.failed([newest])
    assert throttle.retry_after([newest]) == 60


def test_memory_keeps_at_most_the_limit_of_stamps_per_key(advance: Advance) -> None:
    throttle = MemoryThrottle()
    key = Key(SIGNIN_ACCOUNT, "busy")
    for _ in range(10_000):
        throttle.failed([key])

    assert len(throttle._events[key.name][1]) == SIGNIN_ACCOUNT.attempts
    assert throttle.retry_after([key]) == 60


# -- the Redis throttle --------------------------------------------------------------------------


@pytest.mark.redis
def test_two_processes_share_the_counts(
    redis_prefix: str, advance: Advance, redis_client: redis.Redis
) -> None:
    one = SignInGuard(RedisThrottle(redis_client, prefix=redis_prefix))
    other_client = redis.Redis.from_url(REDIS_URL, socket_timeout=2)  # its own connections
    two = SignInGuard(RedisThrottle(other_client, prefix=redis_prefix))
    email, address = _email(), _address()
    for n in range(10):
        (one if n % 2 else two).failure(email, address)

    refused = _refusal(lambda: two.check(email, address))
    _refusal(lambda: one.check(email, address))
    one.success(email)

    two.check(email, address)
    assert refused.retry_after == 60
    other_client.close()


@pytest.mark.redis
def test_redis_keys_expire_with_their_window_and_hold_at_most_the_limit(
    redis_prefix: str, advance: Advance, redis_client: redis.Redis
) -> None:
    guard = SignInGuard(RedisThrottle(redis_client, prefix=redis_prefix))
    email, address = _email(), _address()
    for _ in range(25):
        guard.failure(email, address)
    guard.check_mail_request(email, address)

    names = {n.decode() for n in redis_client.scan_iter(match=f"{redis_prefix}*")}
    account = f"{redis_prefix}signin:account:{email_subject(email)}"
    mail = f"{redis_prefix}mail:email:{email_subject(email)}"

    assert names == {
        account,
        f"{redis_prefix}signin:address:{address}",
        mail,
        f"{redis_prefix}mail:address:{address}",
    }
    account_ttl, mail_ttl = (cast(int, redis_client.pttl(name)) for name in (account, mail))
    assert 0 < account_ttl <= 60_000
    assert 60_000 < mail_ttl <= 15 * 60_000
    assert redis_client.zcard(account) == SIGNIN_ACCOUNT.attempts
    assert email not in "".join(names)  # Redis holds a digest, not the address of a person


def test_redis_unreachable_fails_open() -> None:
    throttle = RedisThrottle(redis.Redis.from_url("redis://127.0.0.1:1/0", socket_timeout=0.5))
    key = Key(SIGNIN_ACCOUNT, "anyone")

    throttle.failed([key])
    throttle.reset(key)

    assert throttle.retry_after([key]) is None and throttle.hit([key]) is None


def test_the_settings_choose_memory_without_a_redis_url_and_redis_with_one() -> None:
    embedded = Settings()
    production = Settings(redis_url="redis://127.0.0.1:6379/15")

    assert isinstance(throttle_for(embedded), MemoryThrottle)
    assert throttle_for(embedded) is throttle_for(Settings())  # one per process
    assert isinstance(throttle_for(production), RedisThrottle)
    assert throttle_for(production) is throttle_for(production)


def test_long_waits_read_in_minutes_and_short_ones_in_seconds() -> None:
    assert TooManyAttempts(41.2).message == "too many attempts; try again in 42 s"
    assert TooManyAttempts(0.01).retry_after == 1
    assert TooManyAttempts(119).message == "too many attempts; try again in 119 s"
    mail = TooManyAttempts(899.5, code="too_many_requests")
    assert mail.message == "too many requests; try again in 15 min"
    assert mail.details == {"retry_after": 900}
