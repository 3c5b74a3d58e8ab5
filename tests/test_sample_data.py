"""The committed sample_data/ is exactly what the generator writes, well-formed, and tells the intended story.

Files are parsed here with the csv module only (independently of the project's ingest code), and the NYSE
calendar is checked against a hard-coded list of real holidays rather than against the generator's rules.
"""

from __future__ import annotations

import csv
import gzip
import re
import statistics
from datetime import date, timedelta
from pathlib import Path

import pytest

from positioning_cli import sample_data as sd

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data"

FINRA_HEADER = (
    "accountingYearMonthNumber|symbolCode|issueName|issuerServicesGroupExchangeCode|marketClassCode|"
    "currentShortPositionQuantity|previousShortPositionQuantity|stockSplitFlag|averageDailyVolumeQuantity|"
    "daysToCoverQuantity|revisionFlag|changePercent|changePreviousNumber|settlementDate"
)
MEMBERS_HEADER = "index,as_of,symbol,name,sector,shares_outstanding,float_shares,weight"
PRICE_HEADER = "Date,Open,High,Low,Close,Adj Close,Volume"

# Real NYSE full-day closures 2019-2026 (incl. the 2025-01-09 national day of mourning).
NYSE_HOLIDAYS = {
    date.fromisoformat(d)
    for d in (
        "2019-01-01 2019-01-21 2019-02-18 2019-04-19 2019-05-27 2019-07-04 2019-09-02 2019-11-28 2019-12-25 "
        "2020-01-01 2020-01-20 2020-02-17 2020-04-10 2020-05-25 2020-07-03 2020-09-07 2020-11-26 2020-12-25 "
        "2021-01-01 2021-01-18 2021-02-15 2021-04-02 2021-05-31 2021-07-05 2021-09-06 2021-11-25 2021-12-24 "
        "2022-01-17 2022-02-21 2022-04-15 2022-05-30 2022-06-20 2022-07-04 2022-09-05 2022-11-24 2022-12-26 "
        "2023-01-02 2023-01-16 2023-02-20 2023-04-07 2023-05-29 2023-06-19 2023-07-04 2023-09-04 2023-11-23 "
        "2023-12-25 2024-01-01 2024-01-15 2024-02-19 2024-03-29 2024-05-27 2024-06-19 2024-07-04 2024-09-02 "
        "2024-11-28 2024-12-25 2025-01-01 2025-01-09 2025-01-20 2025-02-17 2025-04-18 2025-05-26 2025-06-19 "
        "2025-07-04 2025-09-01 2025-11-27 2025-12-25 2026-01-01 2026-01-19 2026-02-16 2026-04-03 2026-05-25 "
        "2026-06-19 2026-07-03 2026-09-07 2026-11-26 2026-12-25"
    ).split()
}


def _bday(d: date) -> bool:
    return d.weekday() < 5 and d not in NYSE_HOLIDAYS


def _roll_back(d: date) -> date:
    while not _bday(d):
        d -= timedelta(days=1)
    return d


def _norm(symbol: str) -> str:
    return re.sub(r"[./\- ]+", "", symbol.strip().upper())


def _files(root: Path) -> dict[str, bytes]:
    """Every generated file (not the README, not cot/, which another generator owns)."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "README.md" and p.relative_to(root).parts[0] != "cot"
    }


def _gunzip(raw: bytes) -> bytes:
    """Decompress, checking the header is deterministic: no file name, no time stamp."""
    assert raw[:3] == b"\x1f\x8b\x08", "not gzip/deflate"
    assert raw[3] == 0, "gzip header carries optional fields (a file name?)"
    assert raw[4:8] == b"\0\0\0\0", "gzip header carries a time stamp"
    return gzip.decompress(raw)


@pytest.fixture(scope="module")
def finra() -> dict[date, list[dict[str, str]]]:
    out: dict[date, list[dict[str, str]]] = {}
    paths = sorted((SAMPLE / "short_interest").iterdir())
    assert paths and all(re.fullmatch(r"shrt\d{8}\.csv\.gz", p.name) for p in paths)
    for path in paths:
        raw = _gunzip(path.read_bytes())
        assert b"\r" not in raw and raw.endswith(b"\n")
        text = raw.decode("ascii")
        assert text.split("\n", 1)[0] == FINRA_HEADER
        rows = list(csv.DictReader(text.splitlines(), delimiter="|"))
        d = date.fromisoformat(path.name[4:8] + "-" + path.name[8:10] + "-" + path.name[10:12])
        out[d] = rows
    return out


@pytest.fixture(scope="module")
def members() -> dict[str, dict[date, dict[str, dict[str, str]]]]:
    out: dict[str, dict[date, dict[str, dict[str, str]]]] = {}
    for index in ("RUT", "NDX", "SPX"):
        text = (SAMPLE / "members" / f"{index}.csv").read_bytes().decode("ascii")
        assert text.split("\n", 1)[0] == MEMBERS_HEADER and "\r" not in text
        snaps: dict[date, dict[str, dict[str, str]]] = {}
        for row in csv.DictReader(text.splitlines()):
            assert row["index"] == index
            snaps.setdefault(date.fromisoformat(row["as_of"]), {})[_norm(row["symbol"])] = row
        out[index] = snaps
    return out


def _members_at(snaps: dict[date, dict[str, dict[str, str]]], d: date) -> dict[str, dict[str, str]] | None:
    asof = [a for a in snaps if a <= d]
    return snaps[max(asof)] if asof else None


def _prices(name: str) -> list[dict[str, str]]:
    text = (SAMPLE / "prices" / f"{name}.csv").read_bytes().decode("ascii")
    assert text.split("\n", 1)[0] == PRICE_HEADER and "\r" not in text
    return list(csv.DictReader(text.splitlines()))


def _stock(file_symbol: str) -> list[dict[str, str]]:
    raw = _gunzip((SAMPLE / "prices" / "stocks" / f"{file_symbol}.csv.gz").read_bytes())
    assert b"\r" not in raw and raw.endswith(b"\n")
    text = raw.decode("ascii")
    assert text.split("\n", 1)[0] == PRICE_HEADER
    return list(csv.DictReader(text.splitlines()))


STOCK_START, PRICE_END = date(2024, 7, 1), date(2026, 11, 20)


# ---- (a) reproducible byte for byte --------------------------------------------------------------------


def test_regenerates_byte_identical(tmp_path: Path) -> None:
    written = sd.generate(
        tmp_path,
        seed=sd.DEFAULT_SEED,
        start=sd.DEFAULT_START,
        end=sd.DEFAULT_END,
        n_rut=sd.DEFAULT_N_RUT,
        n_ndx=sd.DEFAULT_N_NDX,
        n_spx=sd.DEFAULT_N_SPX,
        n_other=sd.DEFAULT_N_OTHER,
    )
    fresh = _files(tmp_path)
    committed = _files(SAMPLE)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in written) == sorted(fresh)
    assert sorted(fresh) == sorted(committed)
    # content first (a clearer failure), then the compressed bytes themselves
    content = {n: (_gunzip(b) if n.endswith(".gz") else b) for n, b in fresh.items()}
    different = [
        n for n in fresh if content[n] != (_gunzip(committed[n]) if n.endswith(".gz") else committed[n])
    ]
    assert not different, f"regenerated files differ: {different[:5]}"
    different = [name for name in fresh if fresh[name] != committed[name]]
    assert not different, f"same content, different gzip bytes (zlib version?): {different[:5]}"


def test_regeneration_removes_stale_files_and_leaves_cot_alone(tmp_path: Path) -> None:
    (tmp_path / "short_interest").mkdir()
    (tmp_path / "prices" / "stocks").mkdir(parents=True)
    (tmp_path / "cot").mkdir()
    (tmp_path / "short_volume").mkdir()
    stale = [
        tmp_path / "short_interest" / "shrt20200115.csv",  # the old plain spelling
        tmp_path / "short_interest" / "shrt19990115.csv.gz",
        tmp_path / "prices" / "stocks" / "ZZZZ.csv.gz",
        tmp_path / "short_volume" / "CNMSshvol20261030.txt.gz",  # the old unprefixed spelling
        tmp_path / "short_volume" / "sample-CNMSshvol19990115.txt.gz",  # FINRA-style, as until 2026-12
        tmp_path / "short_volume" / "sample-short-volume-CNMS-1999-01-15.txt.gz",
        tmp_path / "short_volume" / "sample-sv-CNMS-1999-01-15.txt.gz",
    ]
    kept = [
        tmp_path / "cot" / "FinFut26.txt.gz",
        tmp_path / "short_interest" / "notes.txt",
        tmp_path / "short_volume" / "notes.txt",
    ]
    for path in stale + kept:
        path.write_bytes(b"x")
    sd.generate(
        tmp_path,
        start=date(2026, 9, 1),
        end=date(2026, 10, 30),
        n_rut=20,
        n_ndx=10,
        n_spx=15,
        n_other=10,
        price_start=date(2026, 1, 1),
        stock_price_start=date(2026, 8, 3),
    )
    assert not any(p.exists() for p in stale)
    assert all(p.read_bytes() == b"x" for p in kept)
    assert (tmp_path / "short_interest" / "shrt20261030.csv.gz").exists()
    assert len(list((tmp_path / "prices" / "stocks").glob("*.csv.gz"))) >= 45


def test_sample_size_under_10_mb() -> None:
    total = sum(p.stat().st_size for p in SAMPLE.rglob("*") if p.is_file())
    assert total < 10_000_000


# ---- (b) format sanity ----------------------------------------------------------------------------------


def test_calendar_matches_real_nyse_holidays() -> None:
    for year in range(2019, 2027):
        assert {d for d in sd.nyse_holidays(year)} == {d for d in NYSE_HOLIDAYS if d.year == year}, year


def test_settlement_dates_follow_the_15th_and_month_end_rule(finra) -> None:
    dates = sorted(finra)
    expected = []
    y, m = 2020, 1
    while (y, m) <= (2026, 10):
        last = date(y + (m == 12), m % 12 + 1, 1) - timedelta(days=1)
        expected += [_roll_back(date(y, m, 15)), _roll_back(last)]
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    assert dates == expected
    assert dates[0] == date(2020, 1, 15) and dates[-1] == date(2026, 10, 30) and len(dates) >= 144
    assert all(_bday(d) for d in dates)


def test_finra_rows_are_consistent(finra) -> None:
    flags = {"R": 0, "S": 0, "blank_dtc": 0}
    for d, rows in finra.items():
        symbols = [r["symbolCode"] for r in rows]
        assert symbols == sorted(set(symbols)), d
        for r in rows:
            assert r["settlementDate"] == d.isoformat()
            assert r["accountingYearMonthNumber"] == d.strftime("%Y%m%d")
            assert re.fullmatch(r"[A-Z]{2,5}", r["symbolCode"]), r
            assert r["issueName"] and "|" not in r["issueName"]
            assert r["marketClassCode"] in {"NNM", "NSC", "NYSE", "AMEX", "ARCA", "OTC"}
            assert r["stockSplitFlag"] in {"", "S"} and r["revisionFlag"] in {"", "R"}
            cur = int(r["currentShortPositionQuantity"])
            prev = int(r["previousShortPositionQuantity"])
            adv = int(r["averageDailyVolumeQuantity"])
            assert cur >= 0 and prev >= 0 and adv >= 0
            assert int(r["changePreviousNumber"]) == cur - prev
            expected_pct = 100.0 * (cur / prev - 1.0) if prev else 0.0
            assert abs(float(r["changePercent"]) - expected_pct) <= 0.005 + 1e-9, r
            assert re.fullmatch(r"-?\d+\.\d\d", r["changePercent"]) and r["changePercent"] != "-0.00"
            if adv == 0:
                assert r["daysToCoverQuantity"] == ""
                flags["blank_dtc"] += 1
            else:
                assert re.fullmatch(r"\d+\.\d\d", r["daysToCoverQuantity"]), r
                assert abs(float(r["daysToCoverQuantity"]) - max(1.0, cur / adv)) <= 0.005 + 1e-9, r
            flags["R"] += r["revisionFlag"] == "R"
            flags["S"] += r["stockSplitFlag"] == "S"
    assert flags["R"] >= 12 and flags["S"] >= 6 and flags["blank_dtc"] > 0


def test_previous_matches_prior_file_unless_revised(finra) -> None:
    dates = sorted(finra)
    revisions = 0
    for before, after in zip(dates, dates[1:], strict=False):
        prior = {r["symbolCode"]: int(r["currentShortPositionQuantity"]) for r in finra[before]}
        for r in finra[after]:
            prev = int(r["previousShortPositionQuantity"])
            if r["symbolCode"] not in prior:
                assert prev == 0  # newly listed
            elif r["revisionFlag"] == "R":
                assert prev != prior[r["symbolCode"]]
                revisions += 1
            else:
                assert prev == prior[r["symbolCode"]], (after, r["symbolCode"])
    assert revisions >= 12


def test_membership_files(members, finra) -> None:
    last_symbols = {r["symbolCode"] for r in finra[max(finra)]}
    dotted = set()
    for index, snaps in members.items():
        assert len(snaps) == 8  # one snapshot per year 2019-2026
        for asof, rows in snaps.items():
            assert _bday(asof)
            if index == "RUT":
                assert asof.month == 6 and _roll_back(date(asof.year, 6, 30)) == asof
            else:
                assert asof.month == 1 and asof.day <= 4
            assert abs(sum(float(r["weight"]) for r in rows.values()) - 100.0) < 0.05
            for key, r in rows.items():
                so, fl = int(r["shares_outstanding"]), int(r["float_shares"])
                assert 0 < fl <= so
                assert r["sector"] in sd.SECTORS
                assert key in last_symbols  # every member ever listed still trades in the last FINRA file
                if "." in r["symbol"]:
                    dotted.add((r["symbol"], key))
    assert dotted and all(key == sym.replace(".", "") for sym, key in dotted)
    rut = list(members["RUT"].values())
    changes = [len(set(a) - set(b)) for a, b in zip(rut[1:], rut, strict=False)]
    assert all(1 <= c <= 10 for c in changes)
    nd, sp = _members_at(members["NDX"], date(2026, 1, 2)), _members_at(members["SPX"], date(2026, 1, 2))
    assert nd is not None and sp is not None
    assert 35 <= len(set(nd) & set(sp)) <= 55


def test_price_files() -> None:
    for name in ("SPY", "QQQ", "IWM", "^GSPC", "^NDX", "^RUT"):
        rows = _prices(name)
        days = [date.fromisoformat(r["Date"]) for r in rows]
        assert days[0] == date(2019, 1, 2) and days[-1] == date(2026, 11, 20)
        expected = [
            date(2019, 1, 1) + timedelta(days=k) for k in range((days[-1] - date(2019, 1, 1)).days + 1)
        ]
        assert days == [d for d in expected if _bday(d)]
        for r in rows:
            o, h, lo, c, adj = (float(r[k]) for k in ("Open", "High", "Low", "Close", "Adj Close"))
            assert lo <= min(o, c) and max(o, c) <= h and lo > 0
            assert 0.8 * c < adj <= c
            assert float(r["Volume"]) > 0


# ---- (c) the story ------------------------------------------------------------------------------------------


def test_last_date_medians(finra, members) -> None:
    last = max(finra)
    si = {_norm(r["symbolCode"]): int(r["currentShortPositionQuantity"]) for r in finra[last]}
    bounds = {"RUT": (5.0, 6.0), "NDX": (2.0, 3.0), "SPX": (2.0, 3.0)}
    for index, (lo, hi) in bounds.items():
        mem = _members_at(members[index], last)
        assert mem is not None
        pcts = [100.0 * si[s] / int(r["shares_outstanding"]) for s, r in mem.items() if s in si]
        assert len(pcts) == len(mem)
        assert lo <= statistics.median(pcts) <= hi, index
        if index == "RUT":
            assert 3 <= len([p for p in pcts if p > 15.0]) and max(pcts) <= 35.0


def test_rut_aggregate_short_interest_at_a_five_year_high(finra, members) -> None:
    totals = {}
    for d, rows in finra.items():
        mem = _members_at(members["RUT"], d)
        assert mem is not None
        si = {_norm(r["symbolCode"]): int(r["currentShortPositionQuantity"]) for r in rows}
        totals[d] = sum(si.get(s, 0) for s in mem)
    last = max(totals)
    window = [v for d, v in totals.items() if last - timedelta(days=5 * 365) < d < last]
    assert totals[last] > max(window)
    prev = sorted(totals)[-2]
    ytd_base = max(d for d in totals if d.year < last.year)
    base_12m = max(d for d in totals if d <= last - timedelta(days=365))
    assert 0.02 <= totals[last] / totals[prev] - 1 <= 0.05
    assert 0.35 <= totals[last] / totals[ytd_base] - 1 <= 0.50
    assert 0.20 <= totals[last] / totals[base_12m] - 1 <= 0.32


def test_iwm_grinds_higher() -> None:
    rows = _prices("IWM")
    last = date.fromisoformat(rows[-1]["Date"])
    close = float(rows[-1]["Close"])
    high_1y = max(
        float(r["Close"]) for r in rows if date.fromisoformat(r["Date"]) > last - timedelta(days=365)
    )
    assert close >= 0.95 * high_1y
    year_end = [float(r["Close"]) for r in rows if date.fromisoformat(r["Date"]).year < last.year][-1]
    assert 0.10 <= close / year_end - 1 <= 0.20


# ---- (d) individual stock prices ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stock_files() -> dict[str, str]:
    """FINRA-style symbol -> Yahoo-style file symbol (``DLTA`` -> ``DLT-A``)."""
    names = sorted(p.name for p in (SAMPLE / "prices" / "stocks").iterdir())
    assert names and all(re.fullmatch(r"[A-Z]{1,5}(-[A-Z])?\.csv\.gz", n) for n in names)
    out = {_norm(n[: -len(".csv.gz")]): n[: -len(".csv.gz")] for n in names}
    assert len(out) == len(names)
    return out


def test_one_stock_file_per_symbol_that_trades(finra, members, stock_files) -> None:
    trading = {r["symbolCode"] for d, rows in finra.items() if d >= STOCK_START for r in rows}
    assert set(stock_files) == trading
    assert stock_files["DLTA"] == "DLT-A" and stock_files["FAIB"] == "FAI-B"
    for snaps in members.values():  # every member from the 2024 snapshots on has prices
        for asof, rows in snaps.items():
            if asof.year >= 2024:
                assert set(rows) <= set(stock_files)


def _split_checks(finra) -> list[tuple[str, date, date]]:
    """(symbol, previous settlement date, flagged settlement date) of every S row inside the price window."""
    dates = sorted(finra)
    return [
        (r["symbolCode"], before, d)
        for before, d in zip(dates, dates[1:], strict=False)
        if before >= STOCK_START
        for r in finra[d]
        if r["stockSplitFlag"] == "S"
    ]


def test_stock_price_files_are_well_formed(finra, stock_files) -> None:
    splits = _split_checks(finra)
    assert len(splits) >= 3
    illiquid = [s for s in stock_files if s.endswith("F")][:6]
    sample = ["DLTA", "FAIB", *sorted({s for s, _, _ in splits}), *illiquid, *sorted(stock_files)[::40]]
    calendar = [STOCK_START + timedelta(days=k) for k in range((PRICE_END - STOCK_START).days + 1)]
    calendar = [d for d in calendar if _bday(d)]
    for sym in sample:
        rows = _stock(stock_files[sym])
        days = [date.fromisoformat(r["Date"]) for r in rows]
        assert days == [d for d in calendar if days[0] <= d <= days[-1]], sym  # every business day, in order
        assert days[0] == STOCK_START or days[0] > STOCK_START + timedelta(days=14), sym  # or listed later
        for r in rows:
            for key in ("Open", "High", "Low", "Close"):
                assert re.fullmatch(r"\d+\.\d\d", r[key]), (sym, r)
            assert re.fullmatch(r"\d+\.\d{6}", r["Adj Close"]) and re.fullmatch(r"\d+\.0", r["Volume"])
            o, h, lo, c = (float(r[k]) for k in ("Open", "High", "Low", "Close"))
            assert 0 < lo <= min(o, c) and max(o, c) <= h, (sym, r)
            assert 1.0 <= c <= 1000.0, (sym, r)
            assert 0.2 * c < float(r["Adj Close"]) <= c * 1.000001, (sym, r)
            if float(r["Volume"]) == 0:
                assert o == h == lo == c, (sym, r)  # no trade: the last close repeated

    # the unadjusted Close drops by the split ratio once, between the previous and the flagged report
    for sym, before, flagged in splits:
        rows = _stock(stock_files[sym])
        drops = []
        for a, b in zip(rows, rows[1:], strict=False):
            ratio = float(a["Close"]) / float(b["Close"])
            adj_ratio = float(a["Adj Close"]) / float(b["Adj Close"])
            if ratio > 1.6:
                drops.append((date.fromisoformat(b["Date"]), ratio, adj_ratio))
        assert len(drops) == 1, (sym, drops)
        day, ratio, adj_ratio = drops[0]
        assert before < day <= flagged, (sym, day)
        k = round(ratio)
        assert k in (2, 3) and abs(ratio / k - 1) < 0.2 and abs(adj_ratio - 1) < 0.2, (sym, ratio, adj_ratio)
        si = {r["symbolCode"]: r for r in finra[flagged]}[sym]
        assert (
            abs(int(si["currentShortPositionQuantity"]) / int(si["previousShortPositionQuantity"]) / k - 1)
            < 0.5
        )


def test_stock_volume_matches_finra_adv(finra, members, stock_files) -> None:
    dates = [d for d in sorted(finra) if d >= STOCK_START]
    symbols = sorted(_members_at(members["RUT"], dates[-1]) or {})[::25]
    symbols += sorted(_members_at(members["SPX"], dates[-1]) or {})[::30] + ["DLTA", "FAIB"]
    for sym in symbols:
        rows = _stock(stock_files[sym])
        adv = {
            d: {r["symbolCode"]: int(r["averageDailyVolumeQuantity"]) for r in finra[d]}[sym] for d in dates
        }
        for before, d in zip(dates, dates[1:], strict=False):
            volume = [float(r["Volume"]) for r in rows if before < date.fromisoformat(r["Date"]) <= d]
            mean = sum(volume) / len(volume)
            assert adv[d] / 3 <= mean <= adv[d] * 3, (sym, d, mean, adv[d])


def test_stock_levels_and_market_caps(members, stock_files) -> None:
    last = date(2026, 10, 30)
    closes = {}
    for sym, file_symbol in stock_files.items():
        text = gzip.decompress((SAMPLE / "prices" / "stocks" / f"{file_symbol}.csv.gz").read_bytes()).decode()
        hit = re.search(rf"^{last.isoformat()},(?:[^,]*,){{3}}([^,]*),", text, re.M)
        if hit:
            closes[sym] = float(hit.group(1))
    assert 3 <= len([c for c in closes.values() if c < 5.0]) <= 40  # something for a price gate to drop
    assert 3.0 <= min(closes.values()) and max(closes.values()) <= 900.0
    caps = {}
    for index in ("RUT", "SPX", "NDX"):
        mem = _members_at(members[index], last) or {}
        caps[index] = sorted(int(r["shares_outstanding"]) * closes[s] for s, r in mem.items())
    rut = caps["RUT"]
    assert 0.3e9 <= statistics.median(rut) <= 3e9
    assert len([c for c in rut if 0.15e9 <= c <= 8e9]) >= 0.9 * len(rut)
    for index in ("SPX", "NDX"):
        assert all(8e9 <= c <= 3e12 for c in caps[index]), index


def test_short_volume_files_in_finra_layout() -> None:
    files = sorted((SAMPLE / "short_volume").iterdir())
    # every name says the file is generated, then its facility and day in our own form (no name is FINRA's)
    pattern = r"sample-sv-([A-Z]{4})-(\d{4})-(\d\d)-(\d\d)\.txt\.gz"
    matches = [re.fullmatch(pattern, f.name) for f in files]
    assert files and all(matches)
    assert not any("shvol" in f.name for f in files)
    names = {"".join(m.groups()): f for m, f in zip(matches, files, strict=True) if m}  # CNMS20261120 -> file
    assert len([n for n in names if n.startswith("CNMS")]) == sd.SHORT_VOLUME_DAYS - 1
    for name, path in names.items():
        lines = _gunzip(path.read_bytes()).decode("ascii").split("\r\n")
        assert lines[0] == "Date|Symbol|ShortVolume|ShortExemptVolume|TotalVolume|Market"
        assert lines[-1] == ""  # CRLF after the record count
        body, count = lines[1:-2], int(lines[-2])
        assert count == len(body)
        for line in body:
            day, _symbol, short, exempt, total, _market = line.split("|")
            assert day == name[4:] and 0 <= int(exempt) <= int(short) <= int(total)
    # the first day has the facility files instead of the consolidated one: CNMS = their sum
    first = min(n[4:] for n in names)
    assert f"CNMS{first}" not in names
    assert {n[:4] for n in names if n[4:] == first} == {"FNQC", "FNRA", "FNSQ", "FNYX"}


def test_fund_assets_cover_the_default_funds() -> None:
    from positioning_cli.letf import DEFAULT_FUNDS

    text = _gunzip((SAMPLE / "funds" / "letf_assets.csv.gz").read_bytes()).decode("ascii")
    rows = [line.split(",") for line in text.splitlines()[1:]]
    assert {r[0] for r in rows} == {f.fund for f in DEFAULT_FUNDS}
    assert len(rows) == len(DEFAULT_FUNDS) * sd.SHORT_VOLUME_DAYS
    assert all(float(r[2]) > 0 for r in rows)
