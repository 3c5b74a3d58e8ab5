"""The HTTP client against a local server on 127.0.0.1: retries, Retry-After, timeouts, truncation, mirror."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from positioning_cli.errors import FetchError
from positioning_cli.fetch.http import Client, HttpSettings, mirrored, retry_after
from tests.fetch_server import Reply, Server, serve

URL = "https://cdn.finra.org/equity/otcmarket/biweekly/shrt20261030.csv"
PATH = "cdn.finra.org/equity/otcmarket/biweekly/shrt20261030.csv"


@pytest.fixture
def server() -> Iterator[Server]:
    yield from serve()


def _client(server: Server, waits: list[float], **kw: object) -> Client:
    settings = HttpSettings(mirror=server.url, backoff=0.25, retries=3, timeout=5.0, **kw)  # type: ignore[arg-type]
    return Client(settings, sleep=waits.append)


def test_mirror_rewrites_host_path_and_query() -> None:
    assert (
        mirrored("https://a.example/x/y.csv?q=1&r=2", "http://m:8/base/")
        == "http://m:8/base/a.example/x/y.csv?q=1&r=2"
    )
    assert mirrored("https://a.example/x", None) == "https://a.example/x"


def test_retry_after_seconds_and_http_date() -> None:
    assert retry_after("7") == 7.0
    now = datetime(2026, 11, 12, 12, tzinfo=UTC)
    assert retry_after(format_datetime(now + timedelta(seconds=30), usegmt=True), now.timestamp()) == 30.0
    assert retry_after("soon") is None


def test_429_honours_retry_after(server: Server) -> None:
    server.routes.script(PATH, Reply(429, b"slow down", {"Retry-After": "3"}), Reply(200, b"ok"))
    waits: list[float] = []
    with _client(server, waits) as c:
        r = c.get(URL)
    assert (r.status, r.body) == (200, b"ok")
    assert waits == [3.0]  # the server's figure, not the 0.25 s backoff
    assert len(server.routes.requests(PATH)) == 2


def test_500_then_200_backs_off_exponentially(server: Server) -> None:
    server.routes.script(PATH, Reply(500), Reply(503), Reply(200, b"ok"))
    waits: list[float] = []
    with _client(server, waits) as c:
        assert c.get(URL).body == b"ok"
    assert waits == [0.25, 0.5]


def test_persistent_500_returns_the_last_reply_after_the_retries(server: Server) -> None:
    server.routes.script(PATH, Reply(502))
    waits: list[float] = []
    with _client(server, waits) as c:
        assert c.get(URL).status == 502
    assert waits == [0.25, 0.5, 1.0]
    assert len(server.routes.requests(PATH)) == 4


def test_retry_after_longer_than_max_wait_gives_up_and_says_when(server: Server) -> None:
    server.routes.script(PATH, Reply(429, b"", {"Retry-After": "600"}))
    with _client(server, [], max_wait=60.0) as c, pytest.raises(FetchError, match=r"retry in 600s"):
        c.get(URL, what="FINRA short interest")


def test_timeout_is_a_fetch_error_naming_the_url(server: Server) -> None:
    server.routes.script(PATH, Reply(200, b"late", delay=1.5))
    settings = HttpSettings(mirror=server.url, timeout=0.3, retries=1, backoff=0.0)
    with Client(settings, sleep=lambda s: None) as c, pytest.raises(FetchError) as exc:
        c.get(URL, what="FINRA short interest")
    assert str(exc.value).startswith(f"FINRA short interest: {URL}: timed out")
    assert "\n" not in str(exc.value)


def test_truncated_body_is_a_fetch_error(server: Server) -> None:
    server.routes.script(PATH, Reply(200, b"x" * 10_000, truncate=True))
    with _client(server, []) as c, pytest.raises(FetchError, match=URL):
        c.get(URL)


def test_identifying_user_agent_and_gzip_are_sent(server: Server) -> None:
    server.routes.put(PATH, b"data")
    with Client(HttpSettings(mirror=server.url, user_agent="positioning/9 (me@example.com)")) as c:
        c.get(URL)
    sent = server.routes.requests(PATH)[0]
    assert sent["user-agent"] == "positioning/9 (me@example.com)"
    assert "gzip" in sent["accept-encoding"]


def test_per_host_minimum_interval() -> None:
    clock = iter([0.0, 0.4, 1.0, 5.0]).__next__  # set; check, set; other host: set
    waits: list[float] = []
    c = Client(HttpSettings(min_interval={"cdn.finra.org": 1.0}), sleep=waits.append, clock=clock)
    c._throttle("cdn.finra.org")
    c._throttle("cdn.finra.org")
    assert waits == [pytest.approx(0.6)]
    c._throttle("other.example")  # other hosts are not held back
    assert len(waits) == 1
