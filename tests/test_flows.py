"""Leveraged-ETF rebalancing and `flows`: the rule by hand, and a small store recomputed in plain Python."""

from __future__ import annotations

import json
import math
from datetime import date, timedelta
from pathlib import Path

import pytest

from positioning_cli import api, letf
from positioning_cli.errors import InputError
from positioning_cli.ingest import ParseOptions, parse_file

from .conftest import run_cli, store_bytes


@pytest.mark.parametrize(
    ("a0", "leverage", "r"),
    [(100.0, 3.0, 0.01), (100.0, -3.0, 0.01), (100.0, 2.0, -0.02), (50.0, -2.0, -0.03)],
)
def test_rebalance_restores_the_leverage(a0: float, leverage: float, r: float) -> None:
    # By hand: after the move the fund holds exposure L*a0*(1+r) against assets a0*(1+L*r); it must
    # trade the difference to L times the new assets.
    assets = a0 * (1 + leverage * r)
    trade = leverage * assets - leverage * a0 * (1 + r)
    assert letf.rebalance(assets, leverage, r) == pytest.approx(trade, rel=1e-12)
    # bull and bear funds alike buy after an up day
    assert (letf.rebalance(assets, leverage, r) > 0) == (r > 0)


def test_rebalance_examples_and_wipe_out() -> None:
    assert letf.rebalance(103.0, 3.0, 0.01) == pytest.approx(6.0)  # 3x: 303 held, 309 wanted
    assert letf.rebalance(97.0, -3.0, 0.01) == pytest.approx(12.0)  # -3x: -303 held, -291 wanted
    with pytest.raises(ValueError, match="wiped out"):
        letf.rebalance(1.0, 3.0, -0.4)


def test_funds_file_rules(tmp_path: Path) -> None:
    good = tmp_path / "assets.csv"
    good.write_text("Fund,Date,AUM\ntqqq,2026-11-19,100\n")  # names matched case-insensitively
    table = parse_file("funds", good).table
    assert table.column("fund").to_pylist() == ["TQQQ"] and table.column("aum").to_pylist() == [100.0]
    custom = tmp_path / "custom.csv"
    custom.write_text("fund,date,aum,leverage,index\nXYZU,2026-11-19,5,3,NDX\n")
    assert parse_file("funds", custom).table.column("leverage").to_pylist() == [3.0]
    for name, text, words in [
        (
            "unknown.csv",
            "fund,date,aum\nTQQQ,2026-11-19,1\nXYZU,2026-11-19,5\n",
            ["unknown.csv:3:", "XYZU", "leverage"],
        ),
        ("negative.csv", "fund,date,aum\nTQQQ,2026-11-19,-1\n", ["negative.csv:2:", "negative"]),
        ("baddate.csv", "fund,date,aum\nTQQQ,19/11/2026,1\n", ["baddate.csv:2:", "not a date"]),
        ("index.csv", "fund,date,aum,leverage,index\nX,2026-11-19,1,2,DAX\n", ["index.csv:2:", "DAX"]),
    ]:
        path = tmp_path / name
        path.write_text(text)
        with pytest.raises(InputError) as info:
            parse_file("funds", path, ParseOptions())
        for word in words:
            assert word in str(info.value), str(info.value)


def _sessions(n: int, last: date) -> list[date]:
    days, d = [], last
    while len(days) < n:
        if d.weekday() < 5:
            days.append(d)
        d -= timedelta(days=1)
    return days[::-1]


def _price_file(path: Path, days: list[date], closes: list[float], volumes: list[int]) -> None:
    lines = ["Date,Open,High,Low,Close,Adj Close,Volume"]
    lines += [f"{d},{c},{c},{c},{c},{c},{v}" for d, c, v in zip(days, closes, volumes, strict=True)]
    path.write_text("\n".join(lines) + "\n")


def test_flows_against_plain_python(tmp_path: Path) -> None:
    days = _sessions(25, date(2026, 11, 20))
    src = tmp_path / "src"
    (src / "prices").mkdir(parents=True)
    qqq = [400 * (1 + 0.01 * math.sin(i)) for i in range(25)]
    _price_file(src / "prices" / "QQQ.csv", days, qqq, [1000] * 25)
    stock = {
        "AAA": ([50 + i for i in range(25)], [1000 + 10 * i for i in range(25)]),
        "BBB": ([20 - 0.1 * i for i in range(25)], [5000 - 7 * i for i in range(25)]),
    }
    for sym, (closes, vols) in stock.items():
        _price_file(src / "prices" / f"{sym}.csv", days, closes, vols)
    (src / "members.csv").write_text("index,as_of,symbol\nNDX,2026-01-02,AAA\nNDX,2026-01-02,BBB\n")
    # TQQQ reports every day; SQQQ skips the last day (its assets then come from the day before)
    funds = ["fund,date,aum"]
    funds += [f"TQQQ,{d},{1e9 + 1e7 * i:.0f}" for i, d in enumerate(days)]
    funds += [f"SQQQ,{d},{2e8 + 1e6 * i:.0f}" for i, d in enumerate(days[:-1])]
    (src / "funds.csv").write_text("\n".join(funds) + "\n")
    last = days[-1].strftime("%Y%m%d")
    (src / f"CNMSshvol{last}.txt").write_text(
        f"Date|Symbol|ShortVolume|ShortExemptVolume|TotalVolume|Market\r\n{last}|AAA|30|0|100|Q\r\n"
        f"{last}|BBB|10|0|300|Q\r\n{last}|QQQ|999|0|1000|Q\r\n3\r\n"
    )
    # short interest: AAA on two settlements (the later one inside the window), BBB on the first
    si_header = "symbolCode|settlementDate|currentShortPositionQuantity"
    (src / "si.csv").write_text(f"{si_header}\nAAA|{days[5]}|1000\nBBB|{days[5]}|300\nAAA|{days[-2]}|2000\n")
    store = tmp_path / "store"
    api.ingest("short-interest", [src / "si.csv"], store)
    api.ingest("prices", [src / "prices"], store)
    api.ingest("members", [src / "members.csv"], store)
    api.ingest("funds", [src / "funds.csv"], store)
    api.ingest("short-volume", [src / f"CNMSshvol{last}.txt"], store)

    run = run_cli("flows", "--index", "NDX", "--days", "3", "--format", "json", store=store)
    assert run.code == 0, run.err
    doc = json.loads(run.out)
    rows = doc["rows"]
    assert [r["date"] for r in rows] == [d.isoformat() for d in days[-3:]]
    for r in rows:
        k = days.index(date.fromisoformat(r["date"]))
        ret = qqq[k] / qqq[k - 1] - 1
        tq = 1e9 + 1e7 * k
        sq = 2e8 + 1e6 * k if k < 24 else (2e8 + 1e6 * 23) * (1 - 3 * ret)
        expected = tq * 3 * 2 * ret / (1 + 3 * ret) + sq * -3 * -4 * ret / (1 - 3 * ret)
        adv = sum(
            sum(c * v for c, v in zip(cl[k - 19 : k + 1], vo[k - 19 : k + 1], strict=True)) / 20
            for cl, vo in stock.values()
        )
        assert r["index_return"] == pytest.approx(ret, rel=1e-12)
        assert r["letf_rebalance_usd"] == pytest.approx(expected, rel=1e-9)
        assert r["letf_funds"] == 2
        assert r["constituents_adv_usd"] == pytest.approx(adv, rel=1e-12)
        assert r["letf_rebalance_pct_adv"] == pytest.approx(100 * expected / adv, rel=1e-9)
        aaa_si = 2000 if k >= 23 else 1000  # the latest settlement on or before the day
        si_usd = aaa_si * stock["AAA"][0][k] + 300 * stock["BBB"][0][k]
        assert r["short_interest_usd"] == pytest.approx(si_usd, rel=1e-12)
        assert r["covering_days"] == pytest.approx(si_usd / adv, rel=1e-12)
    assert rows[-1]["sv_ratio"] == pytest.approx(40 / 400) and rows[0]["sv_ratio"] is None
    assert "not short interest" in doc["short_volume_caveat"]
    # a bad funds file: exit 3, one line, the store unchanged
    before = store_bytes(store)
    (src / "bad.csv").write_text("fund,date,aum\nTQQQ,2026-11-20,lots\n")
    bad = run_cli("ingest", "funds", str(src / "bad.csv"), store=store)
    assert bad.code == 3 and "bad.csv:2:" in bad.err and len(bad.err.strip().splitlines()) == 1
    assert store_bytes(store) == before


def test_flows_needs_a_positive_day_count_and_proxy_prices(tmp_path: Path) -> None:
    from positioning_cli.errors import NoDataError, UsageError

    with pytest.raises(UsageError, match="--days"):
        api.flows(tmp_path / "store", days=0)
    members = tmp_path / "members.csv"
    members.write_text("index,as_of,symbol\nNDX,2026-01-02,AAA\n")
    api.ingest("members", [members], tmp_path / "store")
    with pytest.raises(NoDataError, match="no index proxy prices"):
        api.flows(tmp_path / "store", indices=["NDX"])
