"""The one HTTP client every source uses: timeouts, retries with backoff, per-host rate limits, a mirror.

httpx is imported when the first request is made, so ``--help`` stays fast. Behaviour:

- a timeout on every request (connect and read);
- retries with exponential backoff (``backoff * 2**n``, capped) on timeouts, connection errors,
  truncated bodies, 429 and 5xx, honouring ``Retry-After`` (seconds or an HTTP date);
- a minimum interval between two requests to the same host (the sources' published limits);
- proxies and CA bundles from the usual environment variables (``HTTPS_PROXY``, ``NO_PROXY``,
  ``SSL_CERT_FILE``, ``REQUESTS_CA_BUNDLE``, ``CURL_CA_BUNDLE``) unless the config names them; TLS
  verification always on; gzip; an identifying User-Agent;
- a mirror: ``https://HOST/PATH?QUERY`` is requested as ``MIRROR/HOST/PATH?QUERY`` (corporate
  mirrors, air-gapped machines, and the tests' local server).

Every HTTP status comes back to the caller as a ``Reply`` (sources decide what 403 means); only a
request that never got a complete answer raises ``FetchError``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from positioning_cli import __version__
from positioning_cli.errors import FetchError

if TYPE_CHECKING:
    import ssl

    import httpx

USER_AGENT = f"positioning/{__version__}"  # plus " (contact)" when one is configured
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
CA_BUNDLE_VARS = ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


@dataclass(frozen=True)
class HttpSettings:
    user_agent: str = USER_AGENT
    mirror: str | None = None
    timeout: float = 60.0  # seconds, connect and each read
    retries: int = 4  # attempts after the first
    backoff: float = 1.0  # first wait; doubles per attempt (tests make it tiny)
    max_wait: float = 120.0  # longest single wait, Retry-After included; longer means give up now
    proxy: str | None = None  # None: from the environment
    ca_bundle: str | None = None  # None: from the environment, else certifi's
    min_interval: Mapping[str, float] = field(default_factory=dict)  # host -> seconds between requests


@dataclass(frozen=True)
class Reply:
    url: str  # the URL as the source names it (before the mirror)
    status: int
    headers: Mapping[str, str]  # lower-case names
    body: bytes

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")


def mirrored(url: str, mirror: str | None) -> str:
    """``https://HOST/PATH?Q`` -> ``MIRROR/HOST/PATH?Q`` (unchanged without a mirror)."""
    if not mirror:
        return url
    parts = urlsplit(url)
    rest = parts.path + (f"?{parts.query}" if parts.query else "")
    return f"{mirror.rstrip('/')}/{parts.netloc}{rest}"


def retry_after(value: str, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta seconds or an HTTP date); None if absent/bad."""
    value = value.strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class Client:
    """A polite HTTP client. Use as a context manager; one per run."""

    def __init__(
        self,
        settings: HttpSettings,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self._sleep = sleep
        self._clock = clock
        self._last: dict[str, float] = {}
        self._http: httpx.Client | None = None

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    def _client(self) -> httpx.Client:
        if self._http is None:
            import httpx

            s = self.settings
            bundle = s.ca_bundle or next((os.environ[v] for v in CA_BUNDLE_VARS if os.environ.get(v)), None)
            verify: ssl.SSLContext | bool = True
            if bundle:
                import ssl

                is_dir = os.path.isdir(bundle)  # verification stays on, with these roots
                verify = ssl.create_default_context(
                    cafile=None if is_dir else bundle, capath=bundle if is_dir else None
                )
            self._http = httpx.Client(
                timeout=httpx.Timeout(s.timeout, connect=min(s.timeout, 30.0)),
                follow_redirects=True,
                verify=verify,  # never False
                proxy=s.proxy,
                trust_env=True,  # HTTP(S)_PROXY, NO_PROXY, SSL_CERT_FILE/DIR
                headers={"User-Agent": s.user_agent, "Accept-Encoding": "gzip, deflate"},
            )
        return self._http

    def _throttle(self, host: str) -> None:
        gap = self.settings.min_interval.get(host, 0.0)
        last = self._last.get(host)
        if gap > 0 and last is not None:
            wait = last + gap - self._clock()
            if wait > 0:
                self._sleep(wait)
        self._last[host] = self._clock()

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        json: object = None,
        auth: tuple[str, str] | None = None,
        what: str = "fetch",
    ) -> Reply:
        """One logical request with its retries; ``what`` names the source in error messages."""
        import httpx

        target = mirrored(url, self.settings.mirror)
        host = urlsplit(url).netloc
        attempts = self.settings.retries + 1
        for attempt in range(attempts):
            self._throttle(host)
            wait: float | None
            try:
                r = self._client().request(method, target, headers=dict(headers or {}), json=json, auth=auth)
                body = r.content  # httpx raises on a body shorter than its Content-Length
            except httpx.TimeoutException:
                problem, wait = f"timed out after {self.settings.timeout:g}s", None
            except (httpx.TransportError, httpx.DecodingError) as exc:
                problem, wait = f"{type(exc).__name__}: {' '.join(str(exc).split())[:120]}", None
            else:
                reply = Reply(url, r.status_code, {k.lower(): v for k, v in r.headers.items()}, body)
                if r.status_code not in RETRY_STATUSES:
                    return reply
                problem, wait = f"HTTP {r.status_code}", retry_after(reply.header("retry-after"))
                if attempt == attempts - 1:
                    return reply
            delay = self.settings.backoff * 2**attempt if wait is None else wait
            if attempt == attempts - 1:
                break
            if delay > self.settings.max_wait:
                raise FetchError(f"{what}: {url}: {problem}; the server asks to retry in {delay:.0f}s")
            self._sleep(delay)
        raise FetchError(f"{what}: {url}: {problem} ({attempts} attempts)")

    def get(self, url: str, *, headers: Mapping[str, str] | None = None, what: str = "fetch") -> Reply:
        return self.request("GET", url, headers=headers, what=what)
