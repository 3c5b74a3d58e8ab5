"""Fetch runs: request what a source owes, validate, keep the raw payload, ingest it through ``api.ingest``.

One run per source: for each item, a conditional GET (ETag / Last-Modified from the raw index);
304 -> unchanged; "not published" statuses -> a calendar state (due before the late time, then late,
then missing), never an error on their own; any other failure -> a one-line message, and the run
goes on. Then every raw file of the run is handed to ``api.ingest`` (the same parser and the same
atomic commit as ``positioning ingest`` of that file; files already ingested byte for byte are
skipped, so a run killed between download and commit is finished by the next one).

Exit codes (errors.ExitCode): 0 every report due is held; 8 a report is late or missing upstream;
9 a download or validation failed (what did arrive was ingested first).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from positioning_cli.errors import ExitCode, FetchError, InputError
from positioning_cli.fetch import calendar as cal
from positioning_cli.fetch.calendar import now_et
from positioning_cli.fetch.config import Config
from positioning_cli.fetch.http import USER_AGENT, Client, HttpSettings
from positioning_cli.fetch.raw import RawStore, fetch_lock
from positioning_cli.fetch.sources import SOURCES, Context, Item, Source

Progress = Callable[[str, int, int], None]


def http_settings(config: Config, sources: Sequence[Source]) -> HttpSettings:
    contact = config.get("sec-contact")
    scale = config.number("http-interval-scale")
    intervals = {host: gap * scale for s in sources for host, gap in s.min_interval.items()}
    return HttpSettings(
        user_agent=f"{USER_AGENT} ({contact})" if contact else USER_AGENT,
        mirror=config.get("mirror"),
        timeout=config.number("http-timeout"),
        retries=int(config.number("http-retries")),
        backoff=config.number("http-backoff"),
        proxy=config.get("proxy"),
        ca_bundle=config.get("ca-bundle"),
        min_interval=intervals,
    )


@dataclass
class SourceResult:
    source: str
    label: str
    requested: int = 0
    downloaded: int = 0
    unchanged: int = 0
    files_ingested: int = 0
    rows_changed: int = 0
    not_published: dict[date, str] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    state: str = "current"
    newest_held: date | None = None
    next_key: date | None = None
    next_release: datetime | None = None
    notes: list[str] = field(default_factory=list)

    def line(self) -> str:
        parts = [
            f"{self.requested} requested",
            f"{self.downloaded} downloaded",
            f"{self.unchanged} unchanged",
        ]
        parts.append(f"{self.files_ingested} file(s) ingested ({self.rows_changed:,} rows new or changed)")
        if self.not_published:
            keys = ", ".join(f"{k} {s}" for k, s in sorted(self.not_published.items()))
            parts.append(f"not published: {keys}")
        if self.failures:
            parts.append(f"{len(self.failures)} failed")
        held = self.newest_held.isoformat() if self.newest_held else "none"
        parts.append(f"newest held {held}")
        if self.next_key and self.next_release:
            parts.append(f"next {self.next_key} at {self.next_release:%Y-%m-%d %H:%M} ET")
        return f"{self.label}: {self.state}: " + ", ".join(parts)


def _state(
    src: Source,
    manifest: Mapping[str, object],
    now: datetime,
    result: SourceResult,
    until: date | None = None,
) -> None:
    """The source's state: its latest report released by rule (within ``--until``) and what was not published."""
    held = src.held(manifest)
    expected = src.expected(now)
    latest = cal.latest_released([e for e in expected if until is None or e.key <= until], now)
    nxt = cal.next_expected(expected, now)
    states = [latest.state(src.is_held(latest.key, held), now)] if latest else []
    states += list(result.not_published.values())
    result.state = cal.worst(states)
    result.newest_held = max(held) if held else None
    if nxt:
        result.next_key, result.next_release = nxt.key, nxt.release


def _download(
    src: Source, item: Item, client: Client, raw: RawStore, ctx: Context, result: SourceResult
) -> Path | None:
    """One item: the raw file to ingest (new or unchanged), or None (not published, or failed)."""
    if src.reuse_raw and raw.entry(item.name):
        result.unchanged += 1
        return raw.path(item.name)
    try:
        reply = src.download(client, item, raw.conditional_headers(item.name), ctx)
    except FetchError as exc:
        result.failures.append(exc.message)
        return None
    if reply.status == 304 and raw.entry(item.name):
        result.unchanged += 1
        return raw.path(item.name)
    if src.unpublished(reply):
        result.not_published[item.key] = item.expected.state(False, ctx.now) if item.expected else "missing"
        return None
    if reply.status != 200:
        result.failures.append(f"{src.label}: {item.url}: HTTP {reply.status}")
        return None
    try:
        src.validate(item, reply)
    except FetchError as exc:
        result.failures.append(exc.message)
        return None
    result.downloaded += 1
    return raw.save(
        src.raw_name(item, reply),
        reply.body,
        url=reply.url,
        etag=reply.header("etag"),
        last_modified=reply.header("last-modified"),
    )


def _ingest(
    src: Source, store_root: Path, paths: list[Path], raw: RawStore, result: SourceResult, wait: float
) -> None:
    from positioning_cli import api

    if not paths:
        return
    options = src.parse_options(store_root)
    try:
        reports = api.ingest(src.kind, paths, store_root, options, wait=wait)
    except InputError:
        reports = []
        for p in paths:  # one bad payload must not hold back the others
            try:
                reports += api.ingest(src.kind, [p], store_root, options, wait=wait)
            except InputError as exc:
                result.failures.append(f"{src.label}: {p.name}: does not parse: {exc.message}")
                raw.forget(p.name)  # fetched again next run, not skipped as unchanged
    for r in reports:
        if not r.skipped:
            result.files_ingested += 1
            result.rows_changed += r.changed


def run_source(
    src: Source,
    store_root: Path,
    client: Client,
    ctx: Context,
    *,
    since: date | None = None,
    until: date | None = None,
    progress: Progress | None = None,
    wait: float = 30.0,
) -> SourceResult:
    from positioning_cli.store import Store

    result = SourceResult(src.name, src.label)
    raw = RawStore(store_root, src.name)
    items = src.items(ctx, since, until)
    every: list[Item] = []
    while items:  # a second round when the source has follow-up items (SEC companyfacts)
        every += items
        result.requested += len(items)
        ready: list[Path] = []
        for n, item in enumerate(items):
            if progress:
                progress(f"{src.label}: {item.name}", n, len(items))
            path = _download(src, item, client, raw, ctx, result)
            if path is not None:
                ready.append(path)
        if progress:
            progress(f"{src.label}: ingesting", len(items), len(items))
        _ingest(src, store_root, ready, raw, result, wait)
        items = src.follow_up(ctx, store_root)
    result.notes = src.notes(every) + src.drain_notes()
    _state(src, Store(store_root).manifest(), ctx.now, result, until)
    return result


def fetch(
    store_root: Path,
    config: Config,
    names: Sequence[str],
    *,
    since: date | None = None,
    until: date | None = None,
    combined: bool = False,
    options: Mapping[str, object] | None = None,
    progress: Progress | None = None,
    wait: float = 30.0,
) -> list[SourceResult]:
    """Run the named sources (``SOURCES`` keys) in order under the store's fetch lock."""
    from positioning_cli.store import Store

    sources = [SOURCES[n] for n in names]
    now = now_et()
    results = []
    with fetch_lock(store_root, wait), Client(http_settings(config, sources)) as client:
        cid, secret = config.get("finra-client-id"), config.get("finra-client-secret")
        credentials = (cid, secret) if cid and secret else None
        for src in sources:
            ctx = Context(
                now,
                Store(store_root).manifest(),
                combined=combined,
                finra_credentials=credentials,
                options={"indices": config.get("indices"), **(options or {})},
                store_root=Path(store_root),
            )
            result = run_source(
                src, store_root, client, ctx, since=since, until=until, progress=progress, wait=wait
            )
            # a backfill-only source with nothing to do is silent, unless it is all that was asked for
            if result.requested or src.in_calendar or len(sources) == 1:
                results.append(result)
    return results


def exit_code(results: Sequence[SourceResult]) -> ExitCode:
    if any(r.failures for r in results):
        return ExitCode.FETCH
    if any(r.state in ("late", "missing") for r in results):
        return ExitCode.LATE
    return ExitCode.OK


def calendar_rows(store_root: Path, names: Sequence[str] | None = None) -> list[dict[str, object]]:
    """Per source: newest report held, latest released by rule, next expected (ET), and the state."""
    from positioning_cli.store import Store

    now = now_et()
    manifest = Store(store_root).manifest()
    rows: list[dict[str, object]] = []
    for name in names or [n for n, s in SOURCES.items() if s.in_calendar]:
        src = SOURCES[name]
        r = SourceResult(src.name, src.label)
        _state(src, manifest, now, r)
        latest = cal.latest_released(src.expected(now), now)
        rows.append(
            {
                "source": src.name,
                "newest_held": r.newest_held.isoformat() if r.newest_held else None,
                "latest_released": latest.key.isoformat() if latest else None,
                "next_report": r.next_key.isoformat() if r.next_key else None,
                "next_release_et": f"{r.next_release:%Y-%m-%d %H:%M}" if r.next_release else None,
                "state": r.state,
            }
        )
    return rows
