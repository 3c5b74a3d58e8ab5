"""``make bench``, issue 15's rows: daily short-sale volume and ``flows`` against DuckDB.

bench.py generates the full-market data (short interest, membership, index ETF prices, the
leveraged funds' assets); this module adds, cached under ``.bench/data-Ny/regsho/``, a daily Reg SHO
short-volume history in FINRA's CNMS layout (``CNMSshvolYYYYMMDD.txt``: the header, the rows, the
record-count line, CRLF) over every NYSE session of the bench's years (``fetch/calendar.py``) through
the last price day, for the index members plus other symbols of the same short-interest universe
(9,500 symbols a day: ~12 M rows over 5 years, like FINRA's consolidated files). Then it times:

- the whole history ingested into a store holding the rest of the bench's data (once);
- one day's file ingested into that store (target < 1 s);
- the short-volume columns of ``scan``: no command computes them alone, so ``scan -f json`` on the
  store with the table less the same scan on the store without it, against one DuckDB process
  running the project's own ``sql/membership.sql`` and ``sql/short_volume.sql`` over
  ``read_parquet`` of the store (target 1.5x); the two give the same numbers for the newest day;
- ``flows -f json`` against one DuckDB process computing the same rows from the store's Parquet
  files (``sql/dollar_volume.sql``, ``sql/short_volume.sql`` and the rebalance rule of letf.py in
  SQL; target 1.5x); the numbers are checked equal.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from positioning_cli.bench import Row

SV_VERSION = 2  # bump when the short-volume generator below changes
SV_SYMBOLS = 9500  # a day's symbols in the full form: ~12 M rows over five years
SV_SYMBOLS_QUICK = 4000
SV_SEED = 20261502
SQL_DIR = str(Path(__file__).parent / "analytics" / "sql")  # the project's SQL files, read as text

# The short-volume column group of scan, per index on the newest day held: the project's own SQL
# files run on the store's Parquet files (the library feeds them Arrow tables of the same rows).
DUCK_SV = """
import json, sys, duckdb
store, sql = sys.argv[1], sys.argv[2]
def query_text(name): return open(f"{sql}/{name}.sql").read()
con = duckdb.connect()
con.execute("SET enable_progress_bar = false")
con.execute(f"CREATE VIEW short_volume AS SELECT * FROM read_parquet('{store}/short_volume/*/*.parquet', hive_partitioning = false)")
con.execute(f"CREATE VIEW members AS SELECT * FROM read_parquet('{store}/members/*/*.parquet', hive_partitioning = false)")
newest = con.execute("SELECT max(date) FROM short_volume").fetchone()[0]
con.execute("SET VARIABLE sv_from = ?::DATE", [newest])
con.execute("SET VARIABLE as_of = ?::DATE", [newest])
con.execute(query_text("membership"))
con.execute(query_text("short_volume"))
rows = con.execute("SELECT key, date::VARCHAR, ratio, avg_5d, avg_20d, pct_1y, z_1y FROM sv_stats WHERE kind = 'index' ORDER BY key").fetchall()
json.dump({r[0]: list(r[1:]) for r in rows}, sys.stdout)
"""

# flows: per index and proxy session (the last N sessions of its ETF), the proxy's return, the
# leveraged funds' rebalance A*L*(L-1)*r/(1+L*r) (A: reported assets, else the previous session's
# times 1+L*r), the dollar-volume figures of sql/dollar_volume.sql and the short-volume ratio of
# sql/short_volume.sql.
DUCK_FLOWS = """
import json, sys, duckdb
store, sql, days, funds = sys.argv[1], sys.argv[2], int(sys.argv[3]), json.loads(sys.argv[4])
def query_text(name): return open(f"{sql}/{name}.sql").read()
proxies = {"SPX": "SPY", "NDX": "QQQ", "RUT": "IWM"}
con = duckdb.connect()
con.execute("SET enable_progress_bar = false")
for t in ("short_volume", "members", "prices", "funds", "short_interest"):
    con.execute(f"CREATE VIEW {t} AS SELECT * FROM read_parquet('{store}/{t}/*/*.parquet', hive_partitioning = false)")
shipped = ", ".join(f"('{f}', '{i}', {lev})" for f, i, lev in funds)
pairs = ", ".join(f"('{i}', '{s}')" for i, s in proxies.items())
con.execute(f'''
CREATE TEMP TABLE px AS
WITH p AS (
  SELECT x.idx, pr.symbol, pr.date AS d, pr.close,
    lag(pr.date) OVER w AS prev_d, lag(pr.close) OVER w AS prev_close,
    row_number() OVER (PARTITION BY pr.symbol ORDER BY pr.date DESC) AS back
  FROM prices AS pr JOIN (VALUES {pairs}) AS x(idx, sym) ON pr.symbol = x.sym
  WINDOW w AS (PARTITION BY pr.symbol ORDER BY pr.date)
)
SELECT idx, symbol, d, prev_d, close / prev_close - 1.0 AS r FROM p WHERE back <= {days} AND prev_d IS NOT NULL
''')
con.execute("CREATE TEMP TABLE flow_days AS SELECT DISTINCT d FROM px")
first, last = con.execute("SELECT min(d), max(d) FROM flow_days").fetchone()
con.execute("SET VARIABLE sv_from = ?::DATE", [first])
con.execute("SET VARIABLE as_of = ?::DATE", [last])
con.execute(query_text("membership"))
con.execute(query_text("dollar_volume"))
con.execute(query_text("short_volume"))
rows = con.execute(f'''
WITH f AS (
  SELECT fu.fund, fu.date, fu.aum, coalesce(fu.leverage, s.lev) AS lev, upper(coalesce(fu."index", s.idx)) AS idx
  FROM funds AS fu LEFT JOIN (VALUES {shipped}) AS s(fund, idx, lev) ON s.fund = fu.fund
),
reb AS (
  SELECT px.idx, px.d,
    sum(a * f.lev * (f.lev - 1.0) * px.r / (1.0 + f.lev * px.r)) AS usd, count(a) AS n
  FROM px JOIN (SELECT DISTINCT fund, idx, lev FROM f) AS f ON f.idx = px.idx
  LEFT JOIN f AS now ON now.fund = f.fund AND now.date = px.d
  LEFT JOIN f AS prev ON prev.fund = f.fund AND prev.date = px.prev_d,
  LATERAL (SELECT coalesce(now.aum, prev.aum * (1.0 + f.lev * px.r)) AS a)
  GROUP BY px.idx, px.d
)
SELECT px.idx, px.d::VARCHAR, px.r, reb.usd, dv.adv_usd, dv.si_usd, dv.cover_days, sv.ratio
FROM px LEFT JOIN reb USING (idx, d)
LEFT JOIN dv_index AS dv ON dv."index" = px.idx AND dv.d = px.d
LEFT JOIN sv_series AS sv ON sv.kind = 'index' AND sv.key = px.idx AND sv.d = px.d
ORDER BY px.idx, px.d
''').fetchall()
json.dump([list(r) for r in rows], sys.stdout)
"""


def sv_data(data: Path, years: int, quick: bool) -> tuple[Path, int]:
    """The cached Reg SHO history for the bench data set ``data``; its folder and row count."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv

    from positioning_cli.bench import END
    from positioning_cli.fetch.calendar import sessions_between
    from positioning_cli.symbols import normalise_symbol

    n_symbols = SV_SYMBOLS_QUICK if quick else SV_SYMBOLS
    start, end = date(END.year - years, 11, 1), END + timedelta(days=21)  # the price files' last day
    params = {"version": SV_VERSION, "symbols": n_symbols, "start": start.isoformat(), "end": end.isoformat()}
    out = data / ("regsho-quick" if quick else "regsho")
    stamp = out / "sv-params.json"
    if stamp.exists() and {**json.loads(stamp.read_text()), "rows": 0} == {**params, "rows": 0}:
        return out, params_rows(stamp)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    print(f"generating {years}-year daily short-volume history under {out} ...", flush=True)
    # the same symbols as the bench's FINRA data: every index member, then other plain tickers of
    # the newest short-interest file, in file order (deterministic)
    members: list[str] = []
    for f in sorted((data / "members").glob("*.csv")):
        members += pacsv.read_csv(f).column("symbol").to_pylist()
    newest_si = sorted((data / "short_interest").glob("shrt*.csv.gz"))[-1]
    si = pacsv.read_csv(newest_si, parse_options=pacsv.ParseOptions(delimiter="|"))
    # one row per stored symbol, as in FINRA's files: none whose stored spelling (symbols.py drops
    # class separators: BIR.A and BIRA are one symbol) is already taken
    seen = {normalise_symbol(m) for m in members}
    symbols = list(dict.fromkeys(members))
    for s in si.column("symbolCode").to_pylist():
        if len(symbols) >= n_symbols:
            break
        if s.isalpha() and s.isupper() and len(s) <= 5 and normalise_symbol(s) not in seen:
            symbols.append(s)
            seen.add(normalise_symbol(s))
    n = len(symbols)
    rng = np.random.default_rng(SV_SEED)
    adv = np.rint(rng.lognormal(12.5, 1.6, n)) + 100.0
    base = rng.uniform(0.30, 0.55, n)
    sym_col = pa.array([s.replace(".", "/") for s in symbols])  # Reg SHO spells classes BRK/B
    market = pa.array(np.array(["B,Q,N", "Q,N", "B,Q,N", "Q"])[rng.integers(0, 4, n)])
    opts = pacsv.WriteOptions(delimiter="|", eol="\r\n", quoting_style="none", quoting_header="none")
    rows = 0
    for day in sessions_between(start, end):
        total = np.rint(adv * rng.lognormal(0.0, 0.35, n))
        short = np.rint(total * np.clip(base + rng.normal(0.0, 0.04, n), 0.05, 0.95))
        exempt = np.rint(short * rng.uniform(0.0, 0.02, n))
        stamp_day = day.strftime("%Y%m%d")
        table = pa.table(
            {
                "Date": pa.array([stamp_day] * n),
                "Symbol": sym_col,
                "ShortVolume": short.astype(np.int64),
                "ShortExemptVolume": exempt.astype(np.int64),
                "TotalVolume": total.astype(np.int64),
                "Market": market,
            }
        )
        path = out / f"CNMSshvol{stamp_day}.txt"
        with pa.OSFile(str(path), "wb") as sink:
            pacsv.write_csv(table, sink, opts)
            sink.write(f"{n}\r\n".encode())
        rows += n
    stamp.write_text(json.dumps({**params, "rows": rows}))
    return out, rows


def stock_prices(data: Path, years: int) -> Path:
    """Cached Yahoo daily files (``stock-prices/<SYMBOL>.csv``) of every index member of the bench
    data, over the sessions from 1 July two years before the end (sample_data's default span) or the
    history's start if later, through the last price day: ``flows`` adds up the constituents'
    dollar volume. A random walk per symbol; the bench's short-interest files give no prices."""
    import numpy as np
    import pyarrow.csv as pacsv

    from positioning_cli.bench import END
    from positioning_cli.fetch.calendar import sessions_between
    from positioning_cli.sample_data import yahoo_symbol

    start = max(date(END.year - 2, 7, 1), date(END.year - years, 11, 1))
    end = END + timedelta(days=21)
    params = {"version": SV_VERSION, "start": start.isoformat(), "end": end.isoformat()}
    out = data / "stock-prices"
    stamp = data / "stock-prices.json"  # beside the folder: ingest reads every file in it
    if stamp.exists() and json.loads(stamp.read_text()) == params:
        return out
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    members: list[str] = []
    for f in sorted((data / "members").glob("*.csv")):
        members += pacsv.read_csv(f).column("symbol").to_pylist()
    symbols = sorted(set(members))
    days = [d.isoformat() for d in sessions_between(start, end)]
    rng = np.random.default_rng([SV_SEED, 2])
    n, t = len(symbols), len(days)
    close = np.exp(rng.uniform(2.0, 5.5, n)[None, :] + np.cumsum(rng.normal(0.0, 0.02, (t, n)), axis=0))
    volume = np.rint(rng.lognormal(13.5, 1.2, n)[None, :] * rng.lognormal(0.0, 0.3, (t, n)))
    for j, sym in enumerate(symbols):
        c, v = close[:, j], volume[:, j]
        lines = ["Date,Open,High,Low,Close,Adj Close,Volume"] + [
            f"{d},{x:.2f},{x * 1.01:.2f},{x * 0.99:.2f},{x:.2f},{x:.2f},{q:.0f}"
            for d, x, q in zip(days, c.tolist(), v.tolist(), strict=True)
        ]
        (out / f"{yahoo_symbol(sym)}.csv").write_text("\n".join(lines) + "\n")
    stamp.write_text(json.dumps(params))
    return out


def params_rows(stamp: Path) -> int:
    return int(json.loads(stamp.read_text()).get("rows", 0))


def bench_flows(years: int, repeat: int, quick: bool) -> list[Row]:
    from positioning_cli import bench as b

    data = b._data(years)
    t0 = __import__("time").perf_counter()
    regsho, n_rows = sv_data(data, years, quick)
    print(f"  short-volume history: {n_rows:,} rows ({__import__('time').perf_counter() - t0:.0f} s)")
    files = sorted(regsho.glob("CNMSshvol*.txt"))
    hist, newest = files[:-1], files[-1]
    work = b.BENCH_DIR / f"work-{years}y" / ("sv-quick" if quick else "sv")
    work.mkdir(parents=True, exist_ok=True)
    hist_dir = work / "history"
    if not hist_dir.exists() or len(list(hist_dir.iterdir())) != len(hist):
        shutil.rmtree(hist_dir, ignore_errors=True)
        hist_dir.mkdir()
        for f in hist:
            os.link(f, hist_dir / f.name)
    # the store holding the rest: membership, index ETF and members' prices, the funds' assets, all
    # short interest
    ref = work / "store-ref"
    if not (work / "store-ref.done").exists():
        print(f"building the {years}-year reference store (no short volume) ...", flush=True)
        b._fresh_store_with_reference(ref, data)
        b._run([*b._pos(ref), "ingest", "funds", str(data / "funds")])
        b._run([*b._pos(ref), "ingest", "prices", str(stock_prices(data, years))])
        b._run([*b._pos(ref), "ingest", "short-interest", str(data / "short_interest")])
        (work / "store-ref.done").write_text("ok")
    rows: list[Row] = []

    # 1. the whole history but the newest day, once, into a copy of the reference store
    base = work / "store-base"
    hist_t = b.Timing()

    def copy_ref() -> None:
        shutil.rmtree(base, ignore_errors=True)
        shutil.copytree(ref, base)

    b._interleave(1, [(hist_t, copy_ref, [*b._pos(base), "ingest", "short-volume", str(hist_dir)])])
    rows.append((f"{years}y ingest sv history ({len(hist)} files)", hist_t, None, None))

    # 2. one day's file into the store holding the rest (target < 1 s)
    full = work / "store-full"

    def copy_base() -> None:
        shutil.rmtree(full, ignore_errors=True)
        shutil.copytree(base, full)

    one = b.Timing()
    b._interleave(repeat, [(one, copy_base, [*b._pos(full), "ingest", "short-volume", str(newest)])])
    rows.append((f"{years}y ingest sv 1 day (target <1 s)", one, None, None))

    # 3. the short-volume columns of scan: scan with the table less scan without it, vs DuckDB
    for warm in (ref, full):  # the levels cache as repeated runs find it (untimed)
        b._run([*b._pos(warm), "scan", "-f", "json"])
    with_sv, without, duck_sv = b.Timing(), b.Timing(), b.Timing()
    out = b._interleave(
        repeat,
        [
            (with_sv, None, [*b._pos(full), "scan", "-f", "json"]),
            (without, None, [*b._pos(ref), "scan", "-f", "json"]),
            (duck_sv, None, [sys.executable, "-c", DUCK_SV, str(full), SQL_DIR]),
        ],
    )
    diff = b.Timing(
        walls=[max(a - c, 0.0) for a, c in zip(with_sv.walls, without.walls, strict=True)],
        rss_kib=with_sv.rss_kib,
    )
    rows.append((f"{years}y scan with sv (3 indices)", with_sv, None, None))
    rows.append((f"{years}y scan without sv", without, None, None))
    rows.append((f"{years}y scan sv columns (diff; 1.5x)", diff, duck_sv, 1.5))
    _check_sv(out[0], out[2])

    # 4. flows against DuckDB computing the same rows (the shipped fund list passed as data)
    from positioning_cli.letf import DEFAULT_FUNDS

    shipped = json.dumps([[f.fund, f.index, f.leverage] for f in DEFAULT_FUNDS])
    fl, duck_fl = b.Timing(), b.Timing()
    out = b._interleave(
        repeat,
        [
            (fl, None, [*b._pos(full), "flows", "-f", "json"]),
            (duck_fl, None, [sys.executable, "-c", DUCK_FLOWS, str(full), SQL_DIR, "20", shipped]),
        ],
    )
    rows.append((f"{years}y flows, 20 days (1.5x)", fl, duck_fl, 1.5))
    _check_flows(out[0], out[1])
    return rows


def _close(a: object, b: object) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, str) or isinstance(b, str):
        return str(a) == str(b)
    x, y = float(a), float(b)  # type: ignore[arg-type]
    return math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-12)


def _check_sv(scan_json: str, duck_json: str) -> None:
    ours = {
        r["index"]: [r.get(k) for k in ("sv_date", "sv_ratio", "sv_ratio_avg_5d", "sv_ratio_avg_20d")]
        + [r.get("sv_ratio_pct_1y"), r.get("sv_ratio_z_1y")]
        for r in json.loads(scan_json)["rows"]
    }
    duck = json.loads(duck_json.strip().splitlines()[-1])
    bad = [i for i, vals in duck.items() if not all(map(_close, ours.get(i, [None] * 6), vals))]
    for idx in bad:
        print(f"WARNING: {idx}: positioning {ours.get(idx)} != DuckDB {duck[idx]}", flush=True)
    if not bad:
        print(
            "numbers checked: scan's short-volume ratio, 5/20-day averages, 1Y percentile and z-score "
            f"equal DuckDB's for {', '.join(sorted(duck))} on {next(iter(duck.values()))[0]}"
        )


def _check_flows(flows_json: str, duck_json: str) -> None:
    keys = ("index_return", "letf_rebalance_usd", "constituents_adv_usd", "short_interest_usd")
    ours = {
        (r["index"], r["date"]): [r[k] for k in keys] + [r["covering_days"], r["sv_ratio"]]
        for r in json.loads(flows_json)["rows"]
    }
    duck = {(r[0], r[1]): r[2:] for r in json.loads(duck_json.strip().splitlines()[-1])}
    bad = [k for k in duck if k not in ours or not all(map(_close, ours[k], duck[k]))]
    if set(ours) != set(duck):
        print(f"WARNING: flows rows differ: {len(ours)} ours, {len(duck)} DuckDB", flush=True)
    for k in bad[:5]:
        print(f"WARNING: flows {k}: positioning {ours.get(k)} != DuckDB {duck[k]}", flush=True)
    if not bad and set(ours) == set(duck):
        print(
            f"numbers checked: flows' return, rebalance, ADV$, dollar short interest, covering days and "
            f"short-volume ratio equal DuckDB's on all {len(duck)} rows"
        )
