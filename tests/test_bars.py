"""Intraday bars (issue 15): `ingest bars`, 4-hour session bars and `scan --trend-bars 4h`.

Every figure is checked against a computation done another way: timestamps parsed with
``datetime.fromisoformat``, the 4-hour groups picked by hand, the trend by ``trend_state`` on them.
"""

from __future__ import annotations

import csv
import json
import math
import shutil
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from positioning_cli import bars as b
from positioning_cli.errors import ExitCode
from positioning_cli.fetch.calendar import early_closes, is_session
from positioning_cli.store import Store
from positioning_cli.trend import trend_state
from tests.conftest import SAMPLE, run_cli

NY = ZoneInfo("America/New_York")


def _stamp(day: date, hh: int, mm: int) -> datetime:
    return datetime.combine(day, time(hh, mm), tzinfo=NY)


def _us(t: datetime) -> int:
    return int(t.timestamp()) * 1_000_000


def _bars_of(stamps: list[datetime]) -> tuple[b.Bars, list[dict[str, float]]]:
    rows = []
    for i, _ in enumerate(stamps):
        c = 100.0 + 3 * math.sin(i / 3.0) + 0.1 * i
        rows.append(
            {"open": c - 0.2, "high": c + 0.4 + (i % 3) * 0.1, "low": c - 0.5, "close": c, "volume": 10.0 + i}
        )
    ts = np.array([_us(t) for t in stamps], dtype=np.int64).view("datetime64[us]")
    cols = {k: np.array([r[k] for r in rows]) for k in ("open", "high", "low", "close", "volume")}
    return b.Bars(ts, **cols), rows


def test_four_hour_bars_by_hand_with_extended_hours_and_an_early_close() -> None:
    normal, early, summer = date(2026, 11, 25), date(2026, 11, 27), date(2026, 7, 1)
    assert early_closes()[early] == time(13, 0)  # the day after Thanksgiving: 13:00 close
    assert normal not in early_closes() and summer not in early_closes()
    # 30-minute bars from 08:00 to 17:30 (pre-market and after hours included), out of order
    stamps = [
        _stamp(d, m // 60, m % 60) for d in (early, normal, summer) for m in range(8 * 60, 17 * 60 + 31, 30)
    ]
    given, rows = _bars_of(stamps)
    got = b.session_bars(given, 30, early_closes=early_closes())

    def group(day: date, start: tuple[int, int], end: tuple[int, int]) -> dict[str, float]:
        picked = [
            r
            for t, r in zip(stamps, rows, strict=True)
            if t.date() == day and start <= (t.hour, t.minute) < end
        ]
        return {
            "ts": _us(_stamp(day, *start)),
            "open": picked[0]["open"],
            "high": max(r["high"] for r in picked),
            "low": min(r["low"] for r in picked),
            "close": picked[-1]["close"],
            "volume": sum(r["volume"] for r in picked),
            "n": len(picked),
        }

    want = [
        group(summer, (9, 30), (13, 30)),
        group(summer, (13, 30), (16, 0)),
        group(normal, (9, 30), (13, 30)),
        group(normal, (13, 30), (16, 0)),
        group(early, (9, 30), (13, 0)),  # the only bar of an early-close day
    ]
    assert [w["n"] for w in want] == [8, 5, 8, 5, 7]
    assert got.ts.view(np.int64).tolist() == [w["ts"] for w in want]
    # summer is EDT (UTC−4), November EST (UTC−5)
    assert str(got.ts[0]) == "2026-07-01T13:30:00.000000" and str(got.ts[2]) == "2026-11-25T14:30:00.000000"
    for k in ("open", "high", "low", "close", "volume"):
        assert getattr(got, k).tolist() == pytest.approx([w[k] for w in want], rel=1e-15), k


def test_bars_that_straddle_the_four_hour_grid_are_refused() -> None:
    day = date(2026, 11, 25)
    given, _ = _bars_of([_stamp(day, 9, 30) + timedelta(minutes=90 * i) for i in range(4)])
    with pytest.raises(ValueError, match="straddles"):
        b.session_bars(given, 90)


def test_interval_names_and_inference() -> None:
    assert [b.interval_minutes(x) for x in ("30m", "1h", "60m", "4h")] == [30, 60, 60, 240]
    assert [b.interval_name(m) for m in (30, 60, 240, 90)] == ["30m", "1h", "4h", "90m"]
    with pytest.raises(ValueError):
        b.interval_minutes("1d")


YF_ONE_ROW = """Datetime,Open,High,Low,Close,Adj Close,Volume
2026-11-20 09:30:00-05:00,600.5,602.25,599.75,601.0,601.0,1200
2026-11-20 10:30:00-05:00,601.0,603.5,600.5,603.0,603.0,900
2026-11-20 11:30:00-05:00,603.0,604.0,602.0,602.5,602.5,800
2026-11-23 09:30:00-05:00,602.5,603.0,601.0,601.5,601.5,700
2026-11-23 10:30:00-05:00,601.5,602.0,600.0,600.5,600.5,
"""
YF_MULTI = """Price,Close,High,Low,Open,Volume
Ticker,QQQ,QQQ,QQQ,QQQ,QQQ
Datetime,,,,,
2026-07-01 09:30:00-04:00,500.25,501.0,499.5,500.0,3000
2026-07-01 10:00:00-04:00,500.75,501.5,500.0,500.25,2500
2026-07-01 10:30:00-04:00,501.5,502.0,500.5,500.75,2000
"""


def _file_rows(text: str) -> list[dict[str, object]]:
    """The file read another way: csv + datetime.fromisoformat, in UTC."""
    lines = text.splitlines()
    multi = lines[0].startswith("Price")
    header = lines[0].split(",")
    body = lines[3:] if multi else lines[1:]
    out = []
    for rec in csv.reader(body):
        row = dict(zip(header, rec, strict=True))
        stamp = datetime.fromisoformat(rec[0])
        out.append(
            {
                "ts": stamp.astimezone(UTC),
                "date": stamp.astimezone(NY).date(),
                "open": float(row["Open"]),
                "high": float(row["High"]),
                "low": float(row["Low"]),
                "close": float(row["Close"]),
                "volume": int(row["Volume"]) if row["Volume"] else None,
            }
        )
    return out


@pytest.mark.parametrize(
    ("name", "text", "symbol", "interval"),
    [("SPY_1h.csv", YF_ONE_ROW, "SPY", "1h"), ("intraday.csv", YF_MULTI, "QQQ", "30m")],
)
def test_ingest_bars_stores_the_files_values_in_utc(
    tmp_path: Path, name: str, text: str, symbol: str, interval: str
) -> None:
    path = tmp_path / name
    path.write_text(text)
    store = tmp_path / "store"
    r = run_cli("ingest", "bars", str(path), store=store)
    assert r.code == 0, r.err
    got = Store(store).read("bars").sort_by("ts").to_pylist()
    want = _file_rows(text)
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert (g["symbol"], g["interval"], g["source_format"]) == (symbol, interval, "yfinance-intraday")
        assert {k: g[k] for k in w} == w


def _refused(tmp_path: Path, kind: str, text: str, *extra: str) -> str:
    path = tmp_path / "SPY.csv"
    path.write_text(text)
    r = run_cli("ingest", kind, str(path), *extra, store=tmp_path / "store")
    assert r.code == ExitCode.BAD_INPUT, (r.code, r.err)
    assert len(r.err.strip().splitlines()) == 1 and "Traceback" not in r.err
    assert not (tmp_path / "store" / "bars").exists()
    return r.err


def test_mixed_spacing_is_refused(tmp_path: Path) -> None:
    mixed = YF_ONE_ROW.replace("11:30:00", "11:00:00")  # 60 then 30 minutes apart
    assert "mixed spacing" in _refused(tmp_path, "bars", mixed)


def test_timestamps_need_an_offset_or_tz(tmp_path: Path) -> None:
    naive = YF_ONE_ROW.replace("-05:00", "")
    assert "--tz" in _refused(tmp_path, "bars", naive)
    path = tmp_path / "SPY.csv"
    r = run_cli("ingest", "bars", str(path), "--tz", "America/New_York", store=tmp_path / "store")
    assert r.code == 0, r.err
    got = Store(tmp_path / "store").read("bars").sort_by("ts").column("ts").to_pylist()
    assert got == [w["ts"] for w in _file_rows(YF_ONE_ROW)]


def test_daily_and_intraday_files_are_pointed_to_their_command(tmp_path: Path) -> None:
    daily = (SAMPLE / "prices" / "SPY.csv").read_text()
    assert "use `positioning ingest prices`" in _refused(tmp_path, "bars", daily)
    assert "use `positioning ingest bars`" in _refused(tmp_path, "prices", YF_ONE_ROW)


# ------------------------------------------------------------------------ scan --trend-bars 4h
AS_OF = date(2026, 10, 30)  # the demo's last settlement date


def _session_days() -> list[date]:
    d, out = date(2026, 7, 6), []
    while d <= AS_OF + timedelta(days=4):  # bars after the scan date must not count
        if is_session(d):
            out.append(d)
        d += timedelta(days=1)
    assert not set(out) & set(early_closes())
    return out


def _write_bars(path: Path, seed: float) -> list[tuple[datetime, float, float, float, float]]:
    """30-minute bars 08:00–17:00 New York with offsets; returns (start, open, high, low, close)."""
    rows = []
    lines = ["Datetime,Close,High,Low,Open,Volume"]
    for day in _session_days():
        for m in range(8 * 60, 17 * 60, 30):
            t = _stamp(day, m // 60, m % 60)
            i = len(rows)
            c = 100 * seed + 8 * math.sin(i / (25 + seed)) + 0.02 * i
            rows.append((t, c - 0.1, c + 0.3 + (i % 4) * 0.05, c - 0.4, c))
            lines.append(
                f"{t.isoformat(sep=' ')},{c!r},{c + 0.3 + (i % 4) * 0.05!r},{c - 0.4!r},{c - 0.1!r},{1000 + i}"
            )
    path.write_text("\n".join(lines) + "\n")
    return rows


def _four_hour(rows: list[tuple[datetime, float, float, float, float]]) -> tuple[list[datetime], ...]:
    """4-hour groups by hand: starts 09:30 and 13:30, bars before 09:30 and from 16:00 left out."""
    groups: dict[datetime, list[tuple[float, float, float, float]]] = {}
    for t, o, h, lo, c in rows:
        if not time(9, 30) <= t.time() < time(16, 0):
            continue
        start = _stamp(t.date(), 9, 30) if t.time() < time(13, 30) else _stamp(t.date(), 13, 30)
        groups.setdefault(start, []).append((o, h, lo, c))
    starts = sorted(groups)
    return (
        starts,
        [max(x[1] for x in groups[s]) for s in starts],
        [min(x[2] for x in groups[s]) for s in starts],
        [groups[s][-1][3] for s in starts],
    )


def test_scan_trend_on_four_hour_bars(demo_store: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    shutil.copytree(demo_store, store, symlinks=True)
    made = {}
    for k, sym in enumerate(("SPY", "QQQ", "IWM")):
        path = tmp_path / f"{sym}_30m.csv"
        made[sym] = _write_bars(path, 1.0 + k)
        r = run_cli("ingest", "bars", str(path), store=store)
        assert r.code == 0, r.err
    daily = json.loads(run_cli("scan", "-f", "json", store=store).out)
    assert "trend_bars" not in daily  # the default path is the daily one, unchanged
    r = run_cli("scan", "-f", "json", "--trend-bars", "4h", store=store)
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    assert doc["trend_bars"] == "4h"
    for row in doc["rows"]:
        sym = row["price_symbol"]
        starts, high, low, close = _four_hour(made[sym])
        ts = np.array([int(s.timestamp()) for s in starts]).astype("datetime64[s]")
        want = trend_state(ts, close, high, low, AS_OF)
        assert want.ema_stack is not None and not math.isnan(want.keltner_pos)
        assert row["ema_stack"] == want.ema_stack
        assert row["trend_label"] == want.label
        assert row["bollinger_pct_b"] == pytest.approx(want.bollinger_pct_b, rel=1e-12)
        assert row["keltner_pos"] == pytest.approx(want.keltner_pos, rel=1e-12)
        src = doc["trend_bars_source"][row["index"]]
        assert (src["symbol"], src["interval"]) == (sym, "30m")
        assert src["bars_4h"] == sum(s.date() <= AS_OF for s in starts)
    # the daily trend differs: the 4-hour path really read the bars
    assert [r["keltner_pos"] for r in doc["rows"]] != [r["keltner_pos"] for r in daily["rows"]]


def test_scan_trend_bars_without_bars_falls_back_to_daily(demo_store: Path) -> None:
    r = run_cli("scan", "-f", "json", "--trend-bars", "4h", "--index", "SPX", store=demo_store)
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    daily = json.loads(run_cli("scan", "-f", "json", "--index", "SPX", store=demo_store).out)
    assert doc["trend_bars_source"] == {"SPX": None}
    assert doc["rows"][0]["keltner_pos"] == daily["rows"][0]["keltner_pos"]
    assert any("no intraday bars for SPY" in w for w in doc["warnings"])
    one_day = json.loads(
        run_cli("scan", "-f", "json", "--trend-bars", "1d", "--index", "SPX", store=demo_store).out
    )
    assert one_day["trend_bars"] == "1d" and one_day["rows"] == daily["rows"]
    bad = run_cli("scan", "--trend-bars", "2h", store=demo_store)
    assert bad.code == ExitCode.USAGE and "--trend-bars" in bad.err
