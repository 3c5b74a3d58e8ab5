"""`positioning fetch short-volume` against the local mirror (never the internet); clock pinned as in
test_fetch_cli: now = 2026-11-12 12:00 ET, so the sessions released are those through 2026-11-11."""

from __future__ import annotations

import json
from datetime import date

import pyarrow.parquet as pq

from tests.fetch_server import Reply
from tests.test_fetch_cli import Env, mirror  # noqa: F401  (the fixture)

PATH = "cdn.finra.org/equity/regsho/daily/CNMSshvol{d:%Y%m%d}.txt"
NOV9, NOV10, NOV11 = date(2026, 11, 9), date(2026, 11, 10), date(2026, 11, 11)


def cnms(d: date, rows: list[tuple[str, int, int]], count: int | None = None) -> bytes:
    lines = ["Date|Symbol|ShortVolume|ShortExemptVolume|TotalVolume|Market"]
    lines += [f"{d:%Y%m%d}|{s}|{short}|0|{total}|B,Q,N" for s, short, total in rows]
    lines.append(str(len(rows) if count is None else count))
    return ("\r\n".join(lines) + "\r\n").encode()


def _rows(store) -> set[tuple]:
    out = set()
    for p in (store / "short_volume").rglob("*.parquet"):
        for r in pq.read_table(p).to_pylist():
            out.add((r["date"], r["symbol"], r["facility"], r["short_volume"], r["total_volume"]))
    return out


def test_fetch_short_volume_ingests_released_sessions(mirror: Env) -> None:  # noqa: F811
    routes = mirror.server.routes
    routes.put(PATH.format(d=NOV9), cnms(NOV9, [("AAPL", 10, 40), ("BRK/B", 1, 4)]))
    routes.put(PATH.format(d=NOV10), cnms(NOV10, [("AAPL", 20, 50)]))
    # NOV11 not served: 403, as FINRA's CDN answers before publication; released 18:00 ET, late
    # only from the next session's 18:00: "due", exit 0
    r = mirror.run("fetch", "short-volume", "--since", "2026-11-09")
    assert r.code == 0, r.err
    assert r.err.startswith("FINRA short-sale volume: due: 3 requested, 2 downloaded"), r.err
    assert _rows(mirror.store) == {
        (NOV9, "AAPL", "CNMS", 10.0, 40.0),
        (NOV9, "BRKB", "CNMS", 1.0, 4.0),
        (NOV10, "AAPL", "CNMS", 20.0, 50.0),
    }
    assert (mirror.store / "raw/finra-shvol/CNMSshvol20261110.txt").read_bytes() == cnms(
        NOV10, [("AAPL", 20, 50)]
    )
    # held now: update keeps it current (re-fetches recent sessions, 304 for the unchanged ones)
    routes.put(PATH.format(d=NOV11), cnms(NOV11, [("AAPL", 30, 60)]))
    up = mirror.run("update")
    assert "FINRA short-sale volume:" in up.err
    assert (NOV11, "AAPL", "CNMS", 30.0, 60.0) in _rows(mirror.store)


def test_update_leaves_short_volume_alone_until_asked(mirror: Env) -> None:  # noqa: F811
    mirror.run("update")
    assert mirror.server.routes.requests(PATH.format(d=NOV10)) == []


def test_bad_payload_is_a_one_line_failure_and_no_data(mirror: Env) -> None:  # noqa: F811
    routes = mirror.server.routes
    routes.put(PATH.format(d=NOV10), cnms(NOV10, [("AAPL", 20, 50)], count=7))
    routes.script(
        PATH.format(d=NOV9), Reply(200, b"<html><body>blocked</body></html>", {"content-type": "text/html"})
    )
    r = mirror.run("fetch", "short-volume", "--since", "2026-11-09", "--until", "2026-11-10")
    assert r.code == 9, r.err
    assert "record-count line says 7 rows, the body holds 1" in r.err
    assert "HTML page" in r.err
    assert not (mirror.store / "short_volume").exists() or _rows(mirror.store) == set()
    cal = json.loads(mirror.run("calendar", "-f", "json").out)
    assert "finra-shvol" not in {row["source"] for row in cal["rows"]}
