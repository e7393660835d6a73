"""The backend's log lines carry time, level, process/thread and logger; marketplace requests
show at DEBUG only; secrets in them never reach the output."""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator

import pytest

from storesync.channels.logs import install_log_redaction
from storesync.core.logs import configure_logging


@pytest.fixture
def output() -> Iterator[tuple[io.StringIO, logging.Handler]]:
    root, httpx_logger = logging.getLogger(), logging.getLogger("httpx")
    before = (root.level, httpx_logger.level, list(root.handlers))
    handler = configure_logging("INFO")
    install_log_redaction()  # start-up's wiring installs it beside the handler
    buffer = io.StringIO()
    handler.setStream(buffer)  # type: ignore[attr-defined]
    yield buffer, handler
    root.handlers[:] = before[2]
    root.setLevel(before[0])
    httpx_logger.setLevel(before[1])


def test_a_line_names_its_time_level_and_logger(
    output: tuple[io.StringIO, logging.Handler],
) -> None:
    buffer, _ = output
    logging.getLogger("storesync.sync.demo").info("pushed %d listings", 3)
    logging.getLogger("storesync.sync.demo").debug("not at INFO")

    lines = buffer.getvalue().splitlines()
    assert len(lines) == 1
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO \[\d+ \S+\] storesync\.sync\.demo: "
        r"pushed 3 listings",
        lines[0],
    ), lines[0]


def test_marketplace_requests_show_at_debug_only_and_without_secrets(
    output: tuple[io.StringIO, logging.Handler],
) -> None:
    buffer, handler = output
    url = "https://partner.shopeemobile.com/api?access_token=SECRET1&sign=SECRET2&shop_id=7"
    logging.getLogger("httpx").info("HTTP Request: GET %s", url)
    assert buffer.getvalue() == ""  # INFO: requests are left out

    assert configure_logging("DEBUG") is handler  # the same handler, not a second one
    logging.getLogger("httpx").info("HTTP Request: GET %s", url)

    text = buffer.getvalue()
    assert "access_token=<hidden>&sign=<hidden>&shop_id=7" in text
    assert "SECRET" not in text
    assert sum(h.get_name() == "storesync" for h in logging.getLogger().handlers) == 1


def test_json_lines_carry_what_the_work_is_bound_to_and_no_secret(
    output: tuple[io.StringIO, logging.Handler],
) -> None:
    import json

    from storesync.core.logs import bound

    buffer, handler = output
    assert configure_logging("DEBUG", "json") is handler
    log = logging.getLogger("storesync.sync.demo")
    with bound(organization="org-1", job="job-9"):
        with bound(store="store-3"):
            log.info("pushed %d listings", 3)
        logging.getLogger("httpx").info(
            "HTTP Request: GET %s", "https://partner.shopeemobile.com/api?access_token=SECRET1"
        )
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("failed")
    configure_logging("INFO")  # back to text: one handler still
    log.info("plain again")

    lines = buffer.getvalue().splitlines()
    first, request, failed = (json.loads(line) for line in lines[:3])
    assert set(first) == {
        "time", "level", "logger", "message", "process", "thread", "organization", "job", "store"
    }  # fmt: skip
    assert (first["level"], first["logger"], first["message"]) == (
        "INFO",
        "storesync.sync.demo",
        "pushed 3 listings",
    )
    assert (first["organization"], first["store"], first["job"]) == ("org-1", "store-3", "job-9")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", first["time"])
    assert "store" not in request and request["job"] == "job-9"
    assert request["message"].endswith("access_token=<hidden>")
    assert "SECRET" not in buffer.getvalue()
    assert "organization" not in failed and "ValueError: boom" in failed["exception"]
    assert lines[3].endswith("storesync.sync.demo: plain again")
