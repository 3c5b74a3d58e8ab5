"""The command line: a thin typer layer over ``api``. No maths and no file I/O here.

pandas and pyarrow are imported only inside the commands that need them, so ``--help`` and shell
completion stay fast. ``main`` is the one place that turns errors into exit codes.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperCommand

from positioning_cli import __version__
from positioning_cli.errors import ExitCode, PositioningError, UsageError


@dataclass
class _State:
    store: Path | None = None
    debug: bool = False


STATE = _State()

app = typer.Typer(
    rich_markup_mode=None,  # plain click help: rich is not imported for --help (~160 ms)
    name="positioning",
    help=(
        "Short-interest vs price positioning divergence scanner for the Russell 2000 (RUT), "
        "Nasdaq-100 (NDX) and S&P 500 (SPX).\n\n"
        "Ingest FINRA short interest, index membership and prices into a local Parquet store, then "
        "`positioning scan` ranks the indices by how far short interest and price diverge.\n\n"
        "Example: positioning ingest short-interest shrt20261030.csv && positioning scan"
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,
    context_settings={"help_option_names": ["-h", "--help"]},  # inherited by every subcommand
)
ingest_app = typer.Typer(
    rich_markup_mode=None,
    help="Load source files into the store (atomic: a bad file leaves the store untouched).",
    no_args_is_help=True,
)
app.add_typer(ingest_app, name="ingest")

# ---------------------------------------------------------------- shared options
_STORE_HELP = "Store folder (default: the user data dir, e.g. ~/.local/share/positioning/store)."
StoreOpt = Annotated[
    Path | None,
    typer.Option(
        "--store",
        envvar="POSITIONING_STORE",
        help=_STORE_HELP,
        show_default=False,
    ),
]
FormatOpt = Annotated[
    str,
    typer.Option(
        "--format",
        "-f",
        help="Output: auto (table on a terminal, JSON when piped), table, json, ndjson or csv.",
        case_sensitive=False,
    ),
]
WaitOpt = Annotated[
    float,
    typer.Option("--wait", help="Seconds to wait for another writer's lock before exiting with code 5."),
]
MapOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--map",
        help="FIELD=COLUMN: read store field FIELD from source column COLUMN (repeatable), e.g. "
        "--map short_interest=shares_sold_short.",
    ),
]
DateFormatOpt = Annotated[
    str | None, typer.Option("--date-format", help="strftime codes for dates in a mapped CSV, e.g. %m/%d/%y.")
]
InputFormatOpt = Annotated[
    str | None, typer.Option("--format", help="Input format; auto-detected from the header when omitted.")
]
KeepGoingOpt = Annotated[
    bool,
    typer.Option(
        "--keep-going",
        help="Commit the good files when some are bad; each bad file is one error line, and the exit code is 3.",
    ),
]
IngestQuietOpt = Annotated[
    bool,
    typer.Option(
        "--quiet", "-q", help="Print only problems: warnings and errors (no lines per file, no total)."
    ),
]
SummaryFormatOpt = Annotated[
    str,
    typer.Option(
        "-f",
        "--summary-format",
        help="text (a line per file and a total, on stderr) or json (one object on stdout).",
    ),
]


@dataclass(frozen=True)
class IngestFlags:
    """The options every ingest command shares: how long to wait, what to do with bad files, what to say."""

    wait: float
    keep_going: bool
    quiet: bool
    output: str


PathsArg = Annotated[
    list[Path],
    typer.Argument(help="Files or folders (gzip allowed; - reads standard input).", show_default=False),
]


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"positioning {__version__}\n")
        raise typer.Exit()


@app.callback()
def _root(
    store: StoreOpt = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
    version: Annotated[
        bool,
        typer.Option("--version", "-V", callback=_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    STATE.store = store
    STATE.debug = debug


def _store_path() -> Path:
    if STATE.store is not None:
        return STATE.store
    from positioning_cli.fetch.config import Config

    configured = Config().get("store")  # flag and POSITIONING_STORE were handled by typer above
    if configured:
        return Path(configured).expanduser()
    from positioning_cli.store import default_store_path

    return default_store_path()


def _mapping(items: list[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items or []:
        field, sep, column = item.partition("=")
        if not sep or not field.strip() or not column.strip():
            raise UsageError(f"--map {item!r}: expected FIELD=COLUMN")
        out[field.strip()] = column.strip()
    return out


def _run_ingest(kind: str, paths: list[Path], options: Any, flags: IngestFlags) -> None:
    """Ingest, then report: a line per file and a total (or only problems with --quiet, or JSON)."""
    from positioning_cli import api, ingest_report
    from positioning_cli.errors import FilesLeftOut

    output = flags.output.lower()
    if output not in ("text", "json"):
        raise UsageError(f"-f {flags.output!r}: expected text or json")
    err = sys.stderr
    with ingest_report.progress_bar(err, enabled=err.isatty() and not flags.quiet) as progress:
        reports = api.ingest(
            kind,
            paths,
            _store_path(),
            options,
            wait=flags.wait,
            progress=progress,
            keep_going=flags.keep_going,
        )
    if output == "json":
        import json

        sys.stdout.write(json.dumps(ingest_report.document(kind, reports), indent=2) + "\n")
    for r in reports:
        if r.error:
            err.write(f"error: {r.error}\n")
            continue
        if output == "text" and not flags.quiet:
            err.write(ingest_report.file_summary(r) + "\n")
        for w in r.warnings:
            err.write(f"warning: {r.path}: {w}\n")
    if output == "text" and not flags.quiet:
        err.write(ingest_report.total_line(reports) + "\n")
    failed = sum(1 for r in reports if r.error)
    if failed:
        rest = "nothing was committed" if failed == len(reports) else "the others were committed"
        raise FilesLeftOut(
            f"{failed} of {len(reports)} file(s) could not be ingested (each reported above); {rest}"
        )


# ---------------------------------------------------------------- ingest
@ingest_app.command("short-interest")
def ingest_short_interest_cmd(
    paths: PathsArg,
    fmt: InputFormatOpt = None,
    mapping: MapOpt = None,
    date_format: DateFormatOpt = None,
    wait: WaitOpt = 30.0,
    keep_going: KeepGoingOpt = False,
    quiet: IngestQuietOpt = False,
    output: SummaryFormatOpt = "text",
) -> None:
    """Ingest short-interest files: FINRA pipe (shrtYYYYMMDD.csv), FINRA API JSON/CSV, FINRA web export, or any CSV with --map.

    Examples:

      positioning ingest short-interest shrt20261030.csv

      positioning ingest short-interest finra_history/

      positioning ingest short-interest si.csv --map symbol=Ticker --map settlement_date=Date
      --map short_interest=Shares --date-format %m/%d/%y
    """
    from positioning_cli.ingest import ParseOptions

    opts = ParseOptions(format=fmt, mapping=_mapping(mapping), date_format=date_format)
    _run_ingest("short-interest", paths, opts, IngestFlags(wait, keep_going, quiet, output))


@ingest_app.command("prices")
def ingest_prices_cmd(
    paths: PathsArg,
    symbol: Annotated[
        str | None,
        typer.Option("--symbol", help="Symbol for the file (default: from its name, e.g. SPY.csv)."),
    ] = None,
    fmt: InputFormatOpt = None,
    wait: WaitOpt = 30.0,
    keep_going: KeepGoingOpt = False,
    quiet: IngestQuietOpt = False,
    output: SummaryFormatOpt = "text",
) -> None:
    """Ingest daily OHLCV prices: Yahoo, yfinance or Stooq CSV.

    Intraday files (a Datetime column with a UTC offset) go to `positioning ingest bars`.

    Examples:

      positioning ingest prices SPY.csv QQQ.csv IWM.csv

      positioning ingest prices ^spx_d.csv --symbol ^GSPC
    """
    from positioning_cli.ingest import ParseOptions

    _run_ingest(
        "prices", paths, ParseOptions(format=fmt, symbol=symbol), IngestFlags(wait, keep_going, quiet, output)
    )


@ingest_app.command("bars")
def ingest_bars_cmd(
    paths: PathsArg,
    symbol: Annotated[
        str | None,
        typer.Option(
            "--symbol", help="Symbol for the file (default: yfinance's Ticker row, else the file name)."
        ),
    ] = None,
    interval: Annotated[
        str | None,
        typer.Option("--interval", help="Bar length, e.g. 30m or 1h (default: the timestamps' spacing)."),
    ] = None,
    tz: Annotated[
        str | None,
        typer.Option(
            "--tz", help="Time zone of timestamps written without a UTC offset, e.g. America/New_York."
        ),
    ] = None,
    fmt: InputFormatOpt = None,
    wait: WaitOpt = 30.0,
    keep_going: KeepGoingOpt = False,
    quiet: IngestQuietOpt = False,
    output: SummaryFormatOpt = "text",
) -> None:
    """Ingest intraday bars (a Datetime column with a UTC offset, e.g. yfinance 1h or 30m) for `scan --trend-bars 4h`.

    Examples:

      positioning ingest bars SPY_1h.csv

      positioning ingest bars bars.csv --symbol QQQ --interval 30m --tz America/New_York
    """
    from positioning_cli.ingest import ParseOptions

    opts = ParseOptions(format=fmt, symbol=symbol, interval=interval, tz=tz)
    _run_ingest("bars", paths, opts, IngestFlags(wait, keep_going, quiet, output))


@ingest_app.command("members")
def ingest_members_cmd(
    paths: PathsArg,
    index: Annotated[
        str | None, typer.Option("--index", help="RUT, NDX or SPX (default: from the file when it says).")
    ] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="As-of date YYYY-MM-DD when the file has none.")
    ] = None,
    fmt: InputFormatOpt = None,
    mapping: MapOpt = None,
    date_format: DateFormatOpt = None,
    wait: WaitOpt = 30.0,
    keep_going: KeepGoingOpt = False,
    quiet: IngestQuietOpt = False,
    output: SummaryFormatOpt = "text",
) -> None:
    """Ingest index membership: S&P 500 lists, iShares holdings, Invesco QQQ holdings, or any CSV with --map.

    Examples:

      positioning ingest members IWM_holdings.csv --index RUT

      positioning ingest members constituents.csv --index SPX --as-of 2026-08-08

      positioning ingest members fundamentals.csv --index RUT --as-of 2026-06-26
      --map symbol=Ticker --map shares_outstanding=SharesOut --map float_shares=Float
    """
    from positioning_cli import api
    from positioning_cli.ingest import ParseOptions

    if index is not None:
        index = index.upper()
    opts = ParseOptions(
        format=fmt,
        mapping=_mapping(mapping),
        date_format=date_format,
        index=index,
        as_of=api.resolve_as_of(as_of),
    )
    _run_ingest("members", paths, opts, IngestFlags(wait, keep_going, quiet, output))


@ingest_app.command("cot")
def ingest_cot_cmd(
    paths: PathsArg,
    fmt: InputFormatOpt = None,
    wait: WaitOpt = 30.0,
    keep_going: KeepGoingOpt = False,
    quiet: IngestQuietOpt = False,
    output: SummaryFormatOpt = "text",
) -> None:
    """Ingest CFTC Traders in Financial Futures reports: FinFutYY.txt, FinComYY.txt or CFTC's zip of one.

    Every market in the file is kept, keyed on CFTC_Contract_Market_Code. The JSON records of CFTC's
    public reporting API (what `fetch cot` keeps when a zip fails) are read too.

    Examples:

      positioning ingest cot FinFut26.txt

      positioning ingest cot fut_fin_txt_2026.zip sample_data/cot
    """
    from positioning_cli.ingest import ParseOptions

    _run_ingest("cot", paths, ParseOptions(format=fmt), IngestFlags(wait, keep_going, quiet, output))


@ingest_app.command("short-volume")
def ingest_short_volume_cmd(
    paths: PathsArg,
    facility: Annotated[
        str | None,
        typer.Option(
            "--facility",
            help="Venue of the files: CNMS, FNQC, FNRA, FNSQ, FNYX, FORF, NYSE, ARCA, AMEX... "
            "(default: from the file name, e.g. CNMSshvol20210604.txt).",
        ),
    ] = None,
    fmt: InputFormatOpt = None,
    wait: WaitOpt = 30.0,
    keep_going: KeepGoingOpt = False,
    quiet: IngestQuietOpt = False,
    output: SummaryFormatOpt = "text",
) -> None:
    """Ingest daily short-sale volume: FINRA Reg SHO files (CNMSshvolYYYYMMDD.txt and the facility files) and NYSE group files.

    Short-sale volume is not short interest: a short sold and covered the same day adds volume and
    no position.

    Examples:

      positioning ingest short-volume CNMSshvol20260814.txt

      positioning ingest short-volume regsho/ nyse_short_volume/
    """
    from positioning_cli.ingest import ParseOptions

    opts = ParseOptions(format=fmt, facility=facility)
    _run_ingest("short-volume", paths, opts, IngestFlags(wait, keep_going, quiet, output))


@ingest_app.command("funds")
def ingest_funds_cmd(
    paths: PathsArg,
    fmt: InputFormatOpt = None,
    wait: WaitOpt = 30.0,
    keep_going: KeepGoingOpt = False,
    quiet: IngestQuietOpt = False,
    output: SummaryFormatOpt = "text",
) -> None:
    """Ingest leveraged-ETF net assets for `positioning flows`: a CSV with fund,date,aum.

    The shipped list knows TQQQ/SQQQ/QLD/QID (NDX), UPRO/SPXU/SPXL/SPXS/SSO/SDS (SPX) and
    TNA/TZA/UWM/TWM (RUT); another fund needs leverage and index columns.

    Examples:

      positioning ingest funds letf_assets.csv
    """
    from positioning_cli.ingest import ParseOptions

    _run_ingest("funds", paths, ParseOptions(format=fmt), IngestFlags(wait, keep_going, quiet, output))


@ingest_app.command("shares")
def ingest_shares_cmd(
    paths: PathsArg,
    tickers: Annotated[
        Path | None,
        typer.Option(
            "--tickers",
            help="SEC's ticker map company_tickers.json (default: the one beside each file).",
            show_default=False,
        ),
    ] = None,
    fmt: InputFormatOpt = None,
    wait: WaitOpt = 30.0,
    keep_going: KeepGoingOpt = False,
    quiet: IngestQuietOpt = False,
    output: SummaryFormatOpt = "text",
) -> None:
    """Ingest shares outstanding from SEC XBRL: frames or companyfacts JSON, with SEC's ticker map.

    The files name CIKs, not tickers: the map (https://www.sec.gov/files/company_tickers.json)
    gives each CIK's common tickers. `positioning fetch shares` keeps all three under
    STORE/raw/sec-shares/, and ingesting them gives exactly what the fetch gave.

    Examples:

      positioning ingest shares CY2024Q4I.json --tickers company_tickers.json

      positioning ingest shares STORE/raw/sec-shares/CIK0000320193.json
    """
    from positioning_cli.ingest import ParseOptions

    _run_ingest(
        "shares",
        paths,
        ParseOptions(format=fmt, tickers=tickers),
        IngestFlags(wait, keep_going, quiet, output),
    )


store_app = typer.Typer(rich_markup_mode=None, help="Inspect and check the store.", no_args_is_help=True)
app.add_typer(store_app, name="store")


@store_app.command("info")
def store_info_cmd(
    last: Annotated[int, typer.Option("--last", help="How many recent ingests to list.")] = 10,
    fmt: FormatOpt = "auto",
    columns: ColumnsOpt = None,
    wide: WideOpt = False,
) -> None:
    """Tables, rows, date ranges, sizes on disk and the last ingests.

    Examples:

      positioning store info

      positioning store info -f json | jq '.rows[] | {table, rows, last_date}'
    """
    from positioning_cli import api, render

    fmt = _check_format(fmt)  # a bad --format is a usage error before any work

    choice = TableChoice.of(columns, wide)
    _emit(
        api.store_info(_store_path(), last=last),
        fmt,
        api.STORE_INFO_KEYS,
        render.store_info_view,
        choice=choice,
    )


@store_app.command("forget")
def store_forget_cmd(
    source_file: Annotated[
        Path,
        typer.Argument(
            metavar="SOURCE_FILE",
            help="The ingested file (matched by its bytes), or the name it was ingested under.",
        ),
    ],
    wait: WaitOpt = 30.0,
) -> None:
    """Remove what one ingested file contributed, as a new commit.

    Each of its rows gives way to the value an earlier ingest gave that key, or goes. The past
    stays readable: --known-at before this commit still shows the file's rows.

    Examples:

      positioning store forget holdings.csv

      positioning scan --known-at 2026-08-20T12:00:00
    """
    from positioning_cli import api

    for entry in api.forget(_store_path(), source_file, wait=wait):
        sys.stderr.write(
            f"{entry['source_file']}: forgot its {entry['table']} ingest of {entry['ingested_at']}"
            f" ({int(entry.get('rows', 0)):,} rows)\n"
        )


@store_app.command("verify")
def store_verify_cmd(
    wait: WaitOpt = 60.0,
    fmt: FormatOpt = "auto",
) -> None:
    """Check schemas, checksums against the manifest, duplicate keys, orphan files and symlinks.

    Exits 0 when the store is healthy and 6 when any problem is found (each listed). Nothing is
    repaired.

    Examples:

      positioning store verify

      positioning store verify -f json | jq '.rows'
    """
    from positioning_cli import api, render

    fmt = _check_format(fmt)  # a bad --format is a usage error before any work
    from positioning_cli.errors import StoreError

    result = api.store_verify(_store_path(), wait=wait)
    _emit(result, fmt, api.VERIFY_KEYS, render.verify_view)
    if not result.extra["ok"]:
        sys.stdout.flush()
        raise StoreError(f"{_store_path()}: {len(result.rows)} problem(s) found")


# ---------------------------------------------------------------- read commands
AsOfOpt = Annotated[
    str | None, typer.Option("--as-of", help="Report on the latest settlement date on or before YYYY-MM-DD.")
]
IndexOpt = Annotated[str, typer.Option("--index", help="Comma-separated indices: RUT, NDX, SPX.")]
ProxyOpt = Annotated[
    list[str] | None,
    typer.Option("--proxy", help="INDEX=SYMBOL price proxy (repeatable), e.g. --proxy RUT=^RUT."),
]
KnownAtOpt = Annotated[
    str | None,
    typer.Option(
        "--known-at",
        help="Answer from what the store knew then (by ingest time): YYYY-MM-DD (end of day, UTC) or an ISO "
        "date-time. Re-running an old report gives the old answer.",
    ),
]
FailOnOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--fail-on",
        help="KEY OP VALUE on the JSON row keys (repeatable), e.g. 'divergence_score>=80' or "
        "'quadrant_key==pressing_into_strength': exit 7 when any row matches, after printing the output. "
        "Every row is checked, also those --top leaves out.",
    ),
]


OnceOpt = Annotated[
    bool,
    typer.Option(
        "--once",
        help="With --fail-on: exit 7 only the first time a row matches for a report date (remembered in "
        "the store), so a daily cron job mails once per report.",
    ),
]


TABLE_TOP = 20  # stocks a table shows when --top is not given
ColumnsOpt = Annotated[
    str | None,
    typer.Option(
        "--columns",
        help="Table columns to show, by their JSON key, in this order, e.g. symbol,si_pct_so,divergence_score.",
        show_default=False,
    ),
]
WideOpt = Annotated[
    bool,
    typer.Option(
        "--wide",
        help="Show every table column, even wider than the terminal (default: drop the least important to fit).",
    ),
]


@dataclass(frozen=True)
class TableChoice:
    """--columns and --wide: which table columns to show (tables only; JSON and CSV carry every key)."""

    columns: tuple[str, ...] = ()
    wide: bool = False

    @classmethod
    def of(cls, columns: str | None, wide: bool) -> TableChoice:
        names = tuple(c.strip() for c in (columns or "").split(",") if c.strip())
        if names and wide:
            raise UsageError("--columns and --wide: give one of them")
        return cls(names, wide)


def _indices(text: str) -> list[str]:
    return [i.strip().upper() for i in text.split(",") if i.strip()]


def _emit(
    result: Any,
    fmt: str,
    keys: Any,
    view: Any,
    fail_on: list[str] | None = None,
    label: str | tuple[str, ...] = "index",
    top: int | None = None,
    choice: TableChoice = TableChoice(),
    once: bool = False,
) -> None:
    """Output for every read command, then --fail-on: the exit code follows the result.

    ``top`` cuts the rows written (0 = all); --fail-on always sees every row of ``result``.
    ``once``: a match already reported for the same report date exits 0 (see alerts.py).
    """
    import dataclasses

    from positioning_cli import render, thresholds
    from positioning_cli.errors import ThresholdCrossed

    checks = thresholds.parse(fail_on or [], keys)  # a bad expression fails before any output
    shown = result if not top else dataclasses.replace(result, rows=result.rows[:top])
    try:
        _write(render, shown, fmt, keys, view, choice)
    except BrokenPipeError:
        # The reader went away (`| head`): not a failure. Handled here because click would turn it
        # into a silent exit 1.
        _silence_stdout()
        return
    hits = thresholds.matched(checks, result.rows, label)
    if hits and once:
        from positioning_cli import alerts

        rule = alerts.rule_id(result.command, fail_on or [])
        fresh, trouble = alerts.new_matches(_store_path(), rule, result.as_of, [who for _, who in hits])
        if trouble:
            sys.stderr.write(f"warning: {trouble}\n")
        if not fresh:
            day = result.as_of.isoformat() if result.as_of else "this report"
            sys.stderr.write(
                f"--fail-on: {len(hits)} match(es) already reported for {day} (--once); exit 0\n"
            )
            return
        hits = [h for h in hits if h[1] in fresh]
    if hits:
        raise ThresholdCrossed(thresholds.message([line for line, _ in hits]))


def _write(
    render: Any, result: Any, fmt: str, keys: Any, view: Any, choice: TableChoice = TableChoice()
) -> None:
    render.emit(
        result,
        _check_format(fmt),
        sys.stdout,
        sys.stderr,
        is_tty=sys.stdout.isatty(),
        keys=keys,
        table_renderer=view,
        width=_terminal_width(),
        columns=choice.columns,
        wide=choice.wide,
    )
    sys.stdout.flush()


@app.command("scan")
def scan_cmd(
    as_of: AsOfOpt = None,
    known_at: KnownAtOpt = None,
    index: IndexOpt = "RUT,NDX,SPX",
    by: Annotated[
        str, typer.Option("--by", help="Rank indices, sectors or stocks: index, sector, stock.")
    ] = "index",
    top: Annotated[
        int | None,
        typer.Option(
            "--top",
            help=f"With --by stock: rows to show (0 = all; default {TABLE_TOP} in a table, all in JSON/CSV). "
            "--fail-on checks every ranked row either way.",
            show_default=False,
        ),
    ] = None,
    show_excluded: Annotated[
        bool,
        typer.Option("--show-excluded", help="With --by stock: list the stocks the quality gates excluded."),
    ] = False,
    min_adv: Annotated[
        float, typer.Option("--min-adv", help="Gate: minimum average daily volume (shares).")
    ] = 100_000,
    min_price: Annotated[
        float, typer.Option("--min-price", help="Gate: minimum close on the settlement date.")
    ] = 5.0,
    min_dollar_volume: Annotated[
        float, typer.Option("--min-dollar-volume", help="Gate: minimum average daily volume × close.")
    ] = 1_000_000,
    max_si_pct: Annotated[
        float, typer.Option("--max-si-pct", help="Quarantine: SI above this % of shares outstanding.")
    ] = 100.0,
    include_split_flagged: Annotated[
        bool,
        typer.Option(
            "--include-split-flagged", help="Compute changes across FINRA split-flagged cycles (not advised)."
        ),
    ] = False,
    symbols: Annotated[
        str | None,
        typer.Option(
            "--symbols", help="With --by stock: only these stocks, e.g. GME,AMC (ranks stay overall)."
        ),
    ] = None,
    watchlist: Annotated[
        bool,
        typer.Option("--watchlist", help="With --by stock: only the stocks of the `watchlist` setting."),
    ] = False,
    sort: Annotated[
        str | None,
        typer.Option(
            "--sort",
            help="With --by stock: order by KEY (numbers largest first, text A-Z), KEY:asc or KEY:desc.",
        ),
    ] = None,
    proxy: ProxyOpt = None,
    trend_bars: Annotated[
        str | None,
        typer.Option(
            "--trend-bars",
            help="Trend state (EMA stack, Bollinger, Keltner) on 1d closes or 4h session bars "
            "(`ingest bars`; default 1d).",
        ),
    ] = None,
    fail_on: FailOnOpt = None,
    once: OnceOpt = False,
    fmt: FormatOpt = "auto",
    columns: ColumnsOpt = None,
    wide: WideOpt = False,
) -> None:
    """Rank the indices (or sectors, or stocks) by short-interest vs price divergence.

    Per index: coverage, total short interest, median SI % of shares outstanding, days to cover,
    changes since the last report / YTD / 12M, percentiles vs 1Y and 5Y, the index price over the
    same windows, the quadrant, the divergence score, the trend state and last report's rank.
    --by stock adds SI % of float, days to cover, the dollar change in SI split into quantity and
    price effects, and quality gates (excluded stocks are counted; --show-excluded lists them).

    Examples:

      positioning scan

      positioning scan --index RUT --as-of 2026-06-30

      positioning scan --by stock --index RUT --top 10

      positioning scan --by stock --symbols GME,AMC

      positioning scan --by stock --watchlist --sort si_pct_so

      positioning scan --by sector --index SPX

      positioning scan --trend-bars 4h   # trend on 4-hour bars (`ingest bars`)

      positioning scan --format json | jq '.rows[] | {index, divergence_score}'

      positioning scan --fail-on 'divergence_score>=80'   # exit 7 when an index crosses it

      positioning scan --fail-on 'divergence_score>=80' --once   # ... once per report date
    """
    from positioning_cli import api, render

    fmt = _check_format(fmt)  # a bad --format is a usage error before any work

    choice = TableChoice.of(columns, wide)
    indices = _indices(index)
    as_of_date = api.resolve_as_of(as_of)
    known = api.resolve_known_at(known_at)
    by = by.lower()
    if by == "index":
        proxies = dict(_mapping_pairs(proxy or [], "--proxy", "INDEX=SYMBOL"))
        result = api.scan(
            _store_path(),
            as_of=as_of_date,
            known_at=known,
            indices=indices,
            proxies=proxies,
            trend_bars=trend_bars,
        )
        _emit(result, fmt, api.SCAN_KEYS, render.scan_table, fail_on, choice=choice, once=once)
        return
    if by not in ("sector", "stock"):
        raise UsageError(f"--by {by!r}: expected index, sector or stock")
    if trend_bars is not None:
        raise UsageError("--trend-bars goes with --by index")
    chosen = _chosen_symbols(symbols, watchlist)
    if by != "stock" and (chosen or sort):
        raise UsageError("--symbols, --watchlist and --sort go with --by stock")
    from positioning_cli.stocks import GateConfig

    gates = GateConfig(min_adv, min_price, min_dollar_volume, max_si_pct, not include_split_flagged)
    if by == "stock":
        result = api.scan_stocks(
            _store_path(),
            as_of=as_of_date,
            known_at=known,
            indices=indices,
            top=0,  # every ranked row: --fail-on checks them all, machine formats carry them all
            gates=gates,
            show_excluded=show_excluded,
            symbols=chosen,
            sort=sort,
        )
        if top is None:
            top = TABLE_TOP if render.resolve_format(fmt, sys.stdout.isatty()) == "table" else 0
        _emit(
            result,
            fmt,
            api.stock_keys(),
            render.stock_view,
            fail_on,
            label="symbol",
            top=top,
            choice=choice,
            once=once,
        )
    else:
        result = api.scan_sectors(
            _store_path(), as_of=as_of_date, known_at=known, indices=indices, gates=gates
        )
        _emit(
            result,
            fmt,
            api.sector_keys(),
            render.sector_view,
            fail_on,
            label="sector",
            choice=choice,
            once=once,
        )


def _chosen_symbols(symbols: str | None, watchlist: bool) -> list[str]:
    """--symbols, and with --watchlist the `watchlist` setting (flag, POSITIONING_WATCHLIST, config file)."""
    chosen = [s.strip() for s in (symbols or "").split(",") if s.strip()]
    if watchlist:
        from positioning_cli.fetch.config import Config

        listed = Config().get("watchlist")
        if not listed:
            raise UsageError(
                "--watchlist: no watchlist set; `positioning config set watchlist GME,AMC` (or POSITIONING_WATCHLIST)"
            )
        chosen += [s.strip() for s in listed.split(",") if s.strip()]
    return chosen


@app.command("summary")
def summary_cmd(
    as_of: AsOfOpt = None,
    known_at: KnownAtOpt = None,
    index: IndexOpt = "RUT,NDX,SPX",
    proxy: ProxyOpt = None,
    explain: Annotated[
        bool, typer.Option("--explain", help="Show the dates, row counts and formula behind each number.")
    ] = False,
    fail_on: FailOnOpt = None,
    once: OnceOpt = False,
    fmt: FormatOpt = "auto",
    columns: ColumnsOpt = None,
    wide: WideOpt = False,
) -> None:
    """Percentile summary per index: each headline level vs its 1Y, 5Y and full history, with the price.

    Rows: median SI % of shares outstanding, total SI shares and value, days to cover, and the
    proxy's close — each with its percentiles and changes since the last report / YTD / 12M — then
    plain sentences built from those numbers (JSON: "text").

    Examples:

      positioning summary

      positioning summary --index RUT --explain

      positioning summary -f json | jq -r '.text.RUT[]'
    """
    from positioning_cli import api, render

    fmt = _check_format(fmt)  # a bad --format is a usage error before any work

    proxies = dict(_mapping_pairs(proxy or [], "--proxy", "INDEX=SYMBOL"))
    result = api.summary(
        _store_path(),
        as_of=api.resolve_as_of(as_of),
        known_at=api.resolve_known_at(known_at),
        indices=_indices(index),
        proxies=proxies,
        explain=explain,
    )
    _emit(
        result,
        fmt,
        api.SUMMARY_KEYS,
        render.summary_view,
        fail_on,
        label=("index", "metric"),
        choice=TableChoice.of(columns, wide),
        once=once,
    )


@app.command("stock")
def stock_cmd(
    symbol: Annotated[
        str, typer.Argument(metavar="SYMBOL", help="The stock, e.g. GME (any class spelling: BRK.B).")
    ],
    as_of: AsOfOpt = None,
    known_at: KnownAtOpt = None,
    last: Annotated[
        int, typer.Option("--last", help="How many settlement dates to show (0: every one held).")
    ] = 24,
    fmt: FormatOpt = "auto",
) -> None:
    """One stock's story: a row per settlement date, with sparklines.

    Short interest, SI % of shares outstanding and of float, days to cover, close, changes since
    the last report, 1Y percentiles and quadrant (the numbers `scan --by stock` ranks by, without
    its volume and price gates), its index memberships and sector, FINRA revisions (R) and splits (S)
    flagged.

    Examples:

      positioning stock GME

      positioning stock GME --last 0 -f csv > gme.csv
    """
    from positioning_cli import render, stock_story

    fmt = _check_format(fmt)  # a bad --format is a usage error before any work
    from positioning_cli import api

    result = stock_story.story(
        _store_path(),
        symbol,
        as_of=api.resolve_as_of(as_of),
        known_at=api.resolve_known_at(known_at),
        last=last,
    )
    _emit(result, fmt, stock_story.STORY_KEYS, render.stock_story_view)


@app.command("history")
def history_cmd(
    index: Annotated[str, typer.Option("--index", help="RUT, NDX or SPX.")],
    metric: Annotated[
        str, typer.Option("--metric", help="total_si_shares, median_si_pct_so, agg_days_to_cover, ...")
    ] = "total_si_shares",
    as_of: AsOfOpt = None,
    known_at: KnownAtOpt = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Only the reports settled on or after YYYY-MM-DD.")
    ] = None,
    last: Annotated[
        int | None, typer.Option("--last", help="Only the newest N reports (after --since).")
    ] = None,
    fmt: FormatOpt = "auto",
    columns: ColumnsOpt = None,
    wide: WideOpt = False,
) -> None:
    """The series behind the percentiles: one value per settlement date, with a sparkline.

    Metrics: total_si_shares, total_si_value, median_si_pct_so, median_si_pct_float,
    cap_weighted_si_pct_so, agg_days_to_cover, median_days_to_cover, members_with_si.

    Examples:

      positioning history --index RUT

      positioning history --index SPX --metric median_si_pct_so -f csv > spx_median.csv

      positioning history --index RUT --last 12

      positioning history --index RUT --since 2025-01-01
    """
    from positioning_cli import api, render

    fmt = _check_format(fmt)  # a bad --format is a usage error before any work

    result = api.history(
        _store_path(),
        index=index.upper(),
        metric=metric,
        as_of=api.resolve_as_of(as_of),
        known_at=api.resolve_known_at(known_at),
        since=_date_opt(since, "--since"),
        last=last,
    )
    _emit(result, fmt, api.HISTORY_KEYS, render.history_view, choice=TableChoice.of(columns, wide))


@app.command("flows")
def flows_cmd(
    index: IndexOpt = "RUT,NDX,SPX",
    days: Annotated[int, typer.Option("--days", help="Sessions to show, newest last.")] = 20,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Show the sessions up to YYYY-MM-DD (default: the newest held)."),
    ] = None,
    known_at: KnownAtOpt = None,
    proxy: ProxyOpt = None,
    fmt: FormatOpt = "auto",
) -> None:
    """Flows per index and session: index return, leveraged-ETF rebalance ($ and % of the constituents'
    dollar volume) and the short-sale volume ratio, with a sparkline per column on a terminal.

    The rebalance of a fund with leverage L and net assets A after an index return r is
    A·L·(L−1)·r/(1+L·r): buying after up days for bull and bear funds alike. Short-sale volume is
    a flow, not short interest.

    Examples:

      positioning flows

      positioning flows --index NDX --days 60 -f csv > ndx_flows.csv
    """
    from positioning_cli import api, render

    fmt = _check_format(fmt)
    result = api.flows(
        _store_path(),
        indices=_indices(index),
        days=days,
        as_of=api.resolve_as_of(as_of),
        known_at=api.resolve_known_at(known_at),
        proxies=dict(_mapping_pairs(proxy or [], "--proxy", "INDEX=SYMBOL")),
    )
    _emit(result, fmt, api.FLOWS_KEYS, render.flows_view)


@app.command("nowcast")
def nowcast_cmd(
    index: IndexOpt = "RUT,NDX,SPX",
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of", help="Nowcast as on YYYY-MM-DD: only reports settled and prices, volume up to then."
        ),
    ] = None,
    known_at: KnownAtOpt = None,
    proxy: ProxyOpt = None,
    fail_on: FailOnOpt = None,
    fmt: FormatOpt = "auto",
    columns: ColumnsOpt = None,
    wide: WideOpt = False,
) -> None:
    """Expected change of each index's total short interest on the next settlement date (not yet
    published), with the walk-forward backtest that judges it against "no change".

    Inputs over the interval since the newest report held: the price proxy's return, the previous
    report's change, the short-sale volume ratio against its 20-day average (each only with enough
    history). Fitted by least squares on the store's own reports; when the model does not beat "no
    change" out of sample, it says so and forecasts no change. Every estimate has its 80% band.

    Examples:

      positioning nowcast

      positioning nowcast --index RUT --as-of 2026-11-13 -f json
    """
    from positioning_cli import api, render

    fmt = _check_format(fmt)
    result = api.nowcast(
        _store_path(),
        indices=_indices(index),
        as_of=api.resolve_as_of(as_of),
        known_at=api.resolve_known_at(known_at),
        proxies=dict(_mapping_pairs(proxy or [], "--proxy", "INDEX=SYMBOL")),
    )
    _emit(result, fmt, api.NOWCAST_KEYS, render.nowcast_view, fail_on, choice=TableChoice.of(columns, wide))


@app.command("cot")
def cot_cmd(
    contract: Annotated[
        str, typer.Option("--contract", help="Comma-separated ES, NQ, RTY (or SPX, NDX, RUT) or a CFTC code.")
    ] = "ES,NQ,RTY",
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Read the latest report dated on or before YYYY-MM-DD.")
    ] = None,
    combined: Annotated[
        bool,
        typer.Option(
            "--combined", help="Use the futures-and-options combined report (default: futures only)."
        ),
    ] = False,
    known_at: KnownAtOpt = None,
    fail_on: FailOnOpt = None,
    once: OnceOpt = False,
    fmt: FormatOpt = "auto",
    columns: ColumnsOpt = None,
    wide: WideOpt = False,
) -> None:
    """Futures positioning from the CFTC Traders in Financial Futures report.

    For leveraged funds and asset managers: net contracts, net % of open interest, change over 1
    and 4 weeks, percentiles vs 1Y, 3Y and all history held, the 52-week COT index and z-score,
    and "largest net short in N weeks".

    Examples:

      positioning cot

      positioning cot --contract ES --as-of 2024-07-23

      positioning cot -f json | jq '.rows[] | select(.group == "lev_money") | {contract, net, pct_1y}'
    """
    from positioning_cli import api, render

    fmt = _check_format(fmt)  # a bad --format is a usage error before any work

    contracts = [c.strip() for c in contract.split(",") if c.strip()]
    result = api.cot(
        _store_path(),
        contracts=contracts,
        as_of=api.resolve_as_of(as_of),
        known_at=api.resolve_known_at(known_at),
        combined=combined,
    )
    _emit(
        result,
        fmt,
        api.COT_KEYS,
        render.cot_view,
        fail_on,
        label=("contract", "group"),
        choice=TableChoice.of(columns, wide),
        once=once,
    )


# ---------------------------------------------------------------- fetch, update, calendar, config
fetch_app = typer.Typer(
    rich_markup_mode=None,
    help="Download public sources into the store (raw payloads kept under STORE/raw/), then ingest them.",
    no_args_is_help=True,
)
app.add_typer(fetch_app, name="fetch")
config_app = typer.Typer(
    rich_markup_mode=None, help="Show or change settings (positioning.toml).", no_args_is_help=True
)
app.add_typer(config_app, name="config")

MirrorOpt = Annotated[
    str | None,
    typer.Option(
        "--mirror",
        help="Fetch https://HOST/PATH from MIRROR/HOST/PATH instead (also POSITIONING_MIRROR or `mirror` in the config).",
        show_default=False,
    ),
]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No summary lines (errors are still printed).")]


def _fetch_and_report(
    names: list[str], mirror: str | None, quiet: bool, wait: float, notes: Sequence[str] = (), **kw: Any
) -> None:
    from positioning_cli import ingest_report
    from positioning_cli.errors import FetchError, LateError, StoreError
    from positioning_cli.fetch import run
    from positioning_cli.fetch.config import Config

    config = Config({"mirror": mirror, "store": str(STATE.store) if STATE.store else None})
    err = sys.stderr
    with ingest_report.progress_bar(err, enabled=err.isatty() and not quiet) as progress:
        results = run.fetch(_store_path(), config, names, progress=progress, wait=wait, **kw)
    for r in results:
        for message in r.failures:
            err.write(f"error: {message}\n")
        if not quiet:
            err.write(r.line() + "\n")
            for note in r.notes:
                err.write(f"note: {note}\n")
    if not quiet:
        for note in notes:
            err.write(f"note: {note}\n")
    code = run.exit_code(results)
    failed = [m for r in results for m in r.failures]
    if code == ExitCode.FETCH:
        raise FetchError(f"{len(failed)} download(s) failed; what arrived was ingested")
    if code == ExitCode.LATE:
        late = [f"{r.label} {r.state}" for r in results if r.state in ("late", "missing")]
        raise LateError("report late or missing upstream: " + ", ".join(late))
    if code != ExitCode.OK:  # pragma: no cover - exit_code returns only the three above
        raise StoreError(f"unexpected fetch outcome {code}")


def _date_opt(text: str | None, option: str) -> Any:
    if text is None:
        return None
    from datetime import date

    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{option} {text!r}: expected YYYY-MM-DD") from None


@fetch_app.command("short-interest")
def fetch_short_interest_cmd(
    since: Annotated[str | None, typer.Option("--since", help="First settlement date YYYY-MM-DD.")] = None,
    until: Annotated[str | None, typer.Option("--until", help="Last settlement date YYYY-MM-DD.")] = None,
    mirror: MirrorOpt = None,
    quiet: QuietOpt = False,
    wait: WaitOpt = 30.0,
) -> None:
    """FINRA's bi-monthly short-interest files (shrtYYYYMMDD.csv on FINRA's CDN) for every settlement date.

    Settlement dates come from the NYSE calendar (the 15th and month end, rolled back to a session).
    Default range: from the newest date held, always re-fetching the two latest cycles (FINRA revises
    in place); on an empty store five years back. Exit 8 when a report is late upstream, 9 when a
    download failed.

    Examples:

      positioning fetch short-interest

      positioning fetch short-interest --since 2024-01-01 --until 2024-12-31
    """
    _fetch_and_report(
        ["finra-si", "finra-api"],  # the API only for dates before the CDN has exchange-listed rows
        mirror,
        quiet,
        wait,
        since=_date_opt(since, "--since"),
        until=_date_opt(until, "--until"),
    )


@fetch_app.command("cot")
def fetch_cot_cmd(
    since: Annotated[int | None, typer.Option("--since", help="First year (2006 onwards).")] = None,
    combined: Annotated[
        bool, typer.Option("--combined", help="Futures-and-options combined instead of futures only.")
    ] = False,
    mirror: MirrorOpt = None,
    quiet: QuietOpt = False,
    wait: WaitOpt = 30.0,
) -> None:
    """CFTC Traders in Financial Futures: the yearly zips and the 2006-2016 bundle from cftc.gov.

    Default: from the year of the newest report held (everything since 2006 on an empty store).
    A zip that fails (HTTP error, HTML page, a zip that does not open) is replaced by the same
    years from CFTC's public reporting API (publicreporting.cftc.gov), with a note.

    Examples:

      positioning fetch cot

      positioning fetch cot --since 2020 --combined
    """
    from datetime import date

    start = date(since, 1, 1) if since else None
    _fetch_and_report(["cftc-tff"], mirror, quiet, wait, since=start, combined=combined)


@fetch_app.command("short-volume")
def fetch_short_volume_cmd(
    since: Annotated[
        str | None,
        typer.Option(
            "--since", help="First session YYYY-MM-DD (default: from the newest held, else 60 sessions back)."
        ),
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="Last session YYYY-MM-DD (default: today).")
    ] = None,
    mirror: MirrorOpt = None,
    quiet: QuietOpt = False,
    wait: WaitOpt = 30.0,
) -> None:
    """FINRA's consolidated daily short-sale volume files (CNMSshvolYYYYMMDD.txt on FINRA's CDN), one per session.

    Posted by 18:00 ET each session. Once the store holds short volume, `update` keeps it current
    (re-fetching the last 5 sessions, which FINRA may correct). Short-sale volume is not short interest.

    Examples:

      positioning fetch short-volume

      positioning fetch short-volume --since 2025-11-01
    """
    start = _date_opt(since, "--since")
    end = _date_opt(until, "--until")
    if start is None:
        from positioning_cli.fetch.sources import FinraShortVolume

        start = FinraShortVolume.first_since(_store_path())
    _fetch_and_report(["finra-shvol"], mirror, quiet, wait, since=start, until=end)


def _list_opt(values: list[str] | None) -> list[str]:
    """Repeated options and comma-separated values alike: ``--index RUT,SPX`` or ``--index RUT --index SPX``."""
    return [v.strip() for text in values or [] for v in text.split(",") if v.strip()]


@fetch_app.command("members")
def fetch_members_cmd(
    index: Annotated[
        list[str] | None,
        typer.Option(
            "--index",
            metavar="INDEX",
            help="RUT (iShares IWM), SPX (iShares IVV) or NDX (Invesco QQQ); default all three.",
        ),
    ] = None,
    as_of: Annotated[
        list[str] | None,
        typer.Option(
            "--as-of", metavar="DATE", help="Past holdings date YYYY-MM-DD (iShares only; repeatable)."
        ),
    ] = None,
    mirror: MirrorOpt = None,
    quiet: QuietOpt = False,
    wait: WaitOpt = 30.0,
) -> None:
    """Index membership from the funds' holdings files, ingested as each index's snapshot with sectors.

    RUT and SPX from iShares (IWM, IVV; --as-of asks for past holdings, where iShares serves them),
    NDX from Invesco (QQQ, today's holdings only). Each file must name the fund of its index and,
    with --as-of, hold that date. `update` refreshes each index once a month.

    Examples:

      positioning fetch members

      positioning fetch members --index RUT --as-of 2025-06-30 --as-of 2025-12-31
    """
    from positioning_cli.schema import INDICES

    indices = [i.upper() for i in _list_opt(index)]
    unknown = [i for i in indices if i not in INDICES]
    if unknown:
        raise UsageError(f"--index {unknown[0]}: expected one of {', '.join(INDICES)}")
    dates = [_date_opt(d, "--as-of") for d in _list_opt(as_of)]
    if dates and "NDX" in indices:
        raise UsageError("--as-of: Invesco serves today's QQQ (NDX) holdings only; drop NDX or --as-of")
    if not indices:
        indices = ["RUT", "SPX"] if dates else list(INDICES)
    names = (["ishares"] if {"RUT", "SPX"} & set(indices) else []) + (["invesco"] if "NDX" in indices else [])
    options = {"indices": indices, "as_of": dates, "members_requested": True}
    _fetch_and_report(names, mirror, quiet, wait, options=options)


@fetch_app.command("prices")
def fetch_prices_cmd(
    symbols: Annotated[
        list[str] | None,
        typer.Option(
            "--symbols", metavar="SYMBOLS", help="Symbols instead of the index proxies, e.g. SPY,^GSPC,BRK.B."
        ),
    ] = None,
    members: Annotated[
        bool, typer.Option("--members", help="Also every member of the newest snapshot of each held index.")
    ] = False,
    mirror: MirrorOpt = None,
    quiet: QuietOpt = False,
    wait: WaitOpt = 30.0,
) -> None:
    """Daily prices from Yahoo's chart API; Cboe/FRED official closes when Yahoo fails for an index level.

    Default: the index proxies SPY, QQQ, IWM, ^GSPC, ^NDX, ^RUT. Symbols already current (newest
    close held on or after the last closed NYSE session) are skipped, so a rerun finishes an
    interrupted one. Quoted and adjusted closes are both kept.

    Examples:

      positioning fetch prices

      positioning fetch prices --members

      positioning fetch prices --symbols AAPL,MSFT,^GSPC
    """
    options = {"symbols": _list_opt(symbols), "members": members}
    _fetch_and_report(["yahoo"], mirror, quiet, wait, options=options)


SEC_CONTACT_HINT = (
    "SEC requires a contact e-mail in the User-Agent: run `positioning config set sec-contact "
    "you@example.com` (or set POSITIONING_SEC_CONTACT)"
)


def _sec_contact(mirror: str | None) -> str | None:
    from positioning_cli.fetch.config import Config

    return Config({"mirror": mirror}).get("sec-contact")


@fetch_app.command("shares")
def fetch_shares_cmd(
    quarters: Annotated[
        int,
        typer.Option(
            "--quarters", min=1, max=40, help="Quarterly frames to fetch, back from the current one."
        ),
    ] = 4,
    mirror: MirrorOpt = None,
    quiet: QuietOpt = False,
    wait: WaitOpt = 30.0,
) -> None:
    """Shares outstanding from SEC XBRL: the ticker map, the quarterly frames, companyfacts as fallback.

    Frames of dei:EntityCommonStockSharesOutstanding for the current quarter and the ones before it
    (SEC fills a frame in for weeks; a frame not out yet is not an error), then the per-company facts
    of index members still without a value (at most 100 per run). Needs `sec-contact` in the config.
    Exit 2 without a contact, 9 when a download failed (SEC's rate-threshold 403 included).

    Examples:

      positioning config set sec-contact you@example.com

      positioning fetch shares
    """
    from positioning_cli.fetch.run import now_et
    from positioning_cli.fetch.sec import quarters_back

    if not _sec_contact(mirror):
        raise UsageError(SEC_CONTACT_HINT)
    first = quarters_back(now_et().date(), quarters)[0]
    _fetch_and_report(["sec-shares"], mirror, quiet, wait, since=first.replace(day=1))


@app.command("update")
def update_cmd(mirror: MirrorOpt = None, quiet: QuietOpt = False, wait: WaitOpt = 30.0) -> None:
    """Fetch everything that is due and ingest it: what cron runs.

    FINRA short interest, CFTC TFF, short volume once held, each index's membership once a month
    (iShares, Invesco), the index proxies' daily prices (Yahoo) and SEC shares outstanding once a
    week (with a `sec-contact`). One summary line per source on stderr. Exit 0 when every due report is held, 8 when one is late
    or missing upstream, 9 when a download failed (after ingesting what arrived).

    Examples:

      positioning update

      positioning update --quiet || echo "positioning update exit $?"
    """
    from positioning_cli.fetch.sources import SOURCES

    names, notes = list(SOURCES), []
    if not _sec_contact(mirror):  # cron jobs set up before SEC shares existed keep working
        names.remove("sec-shares")
        notes.append(f"SEC shares outstanding skipped: {SEC_CONTACT_HINT}")
    _fetch_and_report(names, mirror, quiet, wait, notes)


@app.command("calendar")
def calendar_cmd(fmt: FormatOpt = "auto") -> None:
    """Per source: the newest report held, the next expected report (date, time ET) and the state.

    States: current, due (out by the source's rule, not held yet), late, missing (published by rule
    but not obtainable), suspended (e.g. a CFTC shutdown).

    Examples:

      positioning calendar

      positioning calendar -f json | jq '.rows[] | {source, state}'
    """
    from positioning_cli import api, render
    from positioning_cli.fetch import run

    fmt = _check_format(fmt)
    rows = run.calendar_rows(_store_path())
    _emit(api.Result("calendar", None, rows), fmt, list(rows[0]) if rows else [], render.plain_rows_view)


@app.command("doctor")
def doctor_cmd(fmt: FormatOpt = "auto") -> None:
    """Health check: is the store fit for the read commands, and if not, what to run.

    Per table: rows, newest date, age, and whether a report the release calendar says is out is
    missing (POSITIONING_NOW pins "now"). Per index: members on the newest settlement date with
    short interest and with shares outstanding. Which price series serves each index level. Which
    views (scan, scan --by sector/stock, summary, cot, flows) would be empty, and why.

    Each check is ok, warn or fail. Exits 0 unless a check fails (7, after printing the report);
    4 when there is no store or it holds no rows.

    Examples:

      positioning doctor

      positioning doctor -f json | jq '.rows[] | select(.status != "ok") | {section, name, reason}'
    """
    from positioning_cli import api, render
    from positioning_cli.doctor import KEYS
    from positioning_cli.errors import ThresholdCrossed

    fmt = _check_format(fmt)  # a bad --format is a usage error before any work
    result = api.doctor(_store_path())
    _emit(result, fmt, KEYS, render.doctor_view)
    failed = [r for r in result.rows if r["status"] == "fail"]
    if failed:
        sys.stdout.flush()
        named = ", ".join(f"{r['section']} {r['name']}" for r in failed[:5])
        raise ThresholdCrossed(f"{len(failed)} check(s) failed: {named}")


@config_app.command("show")
def config_show_cmd(fmt: FormatOpt = "auto") -> None:
    """The effective settings (secrets masked) and where each came from: flag, env, file or default.

    Examples:

      positioning config show

      positioning config show -f json | jq '.rows[] | select(.origin != "default")'
    """
    from positioning_cli import api, render
    from positioning_cli.fetch.config import Config

    fmt = _check_format(fmt)
    config = Config({"store": str(STATE.store) if STATE.store else None})
    rows = config.show()
    result = api.Result("config", None, list(rows), extra={"path": str(config.path)})
    _emit(result, fmt, ["key", "value", "origin", "help"], render.plain_rows_view)


@config_app.command("set")
def config_set_cmd(
    key: Annotated[
        str, typer.Argument(help="Setting name, e.g. sec-contact (see `positioning config show`).")
    ],
    value: Annotated[str | None, typer.Argument(help="New value; omit with --unset.")] = None,
    unset: Annotated[bool, typer.Option("--unset", help="Remove the setting from the file.")] = False,
) -> None:
    """Write one setting to the config file (atomically; POSITIONING_CONFIG names another file).

    Examples:

      positioning config set sec-contact you@example.com

      positioning config set mirror https://mirror.example.com/

      positioning config set mirror --unset
    """
    from positioning_cli.fetch import config

    if (value is None) != unset:
        raise UsageError("config set: give KEY VALUE, or KEY --unset")
    path = config.set_value(key, None if unset else value)
    sys.stderr.write(f"{path}: {key} {'removed' if unset else 'set'}\n")


@app.command("chart")
def chart_cmd(
    kind: Annotated[
        str, typer.Argument(help="history, quadrant, sectors, cot or stock.", show_default=False)
    ],
    symbol: Annotated[str | None, typer.Argument(help="The stock, for `chart stock SYMBOL`.")] = None,
    index: Annotated[str, typer.Option("--index", help="RUT, NDX or SPX.")] = "RUT",
    years: Annotated[int | None, typer.Option("--years", help="Show the last N years of a series.")] = None,
    contract: Annotated[
        str | None, typer.Option("--contract", help="For `chart cot`: ES, NQ, RTY (default: the index's).")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Write a PNG or SVG (by the extension) instead of drawing here."),
    ] = None,
    as_of: AsOfOpt = None,
    known_at: KnownAtOpt = None,
) -> None:
    """Draw a chart: in the terminal (fits its width; NO_COLOR honoured), or into a PNG/SVG file.

    Kinds: history (total SI and median SI % against the proxy price, 1Y/5Y range shaded),
    quadrant (stocks: SI percentile against price percentile), sectors (median SI % per sector),
    cot (leveraged funds and asset managers net, 52-week range), stock SYMBOL (its short interest,
    days to cover and close: the rows of `positioning stock SYMBOL`, its last 24 reports unless
    --years is given).

    Examples:

      positioning chart history --index RUT --years 5

      positioning chart quadrant --index NDX --out ndx.svg

      positioning chart stock GME --years 2
    """
    from positioning_cli import api, pictures

    if kind == "stock" and not symbol:
        raise UsageError("chart stock needs a SYMBOL: positioning chart stock GME")
    query = pictures.ChartQuery(
        kind,
        index.upper(),
        years,
        symbol=symbol.upper() if symbol else None,
        contract=contract,
        as_of=api.resolve_as_of(as_of),
        known_at=api.resolve_known_at(known_at),
    )
    if out is not None:
        from positioning_cli.charts.files import chart_format, save

        chart_format(out)  # a bad extension is a usage error before any work
        save(pictures.chart(_store_path(), query), out)
        sys.stderr.write(f"wrote {out}\n")
        return
    from positioning_cli.charts.terminal import draw

    drawn = pictures.chart(_store_path(), query)
    from positioning_cli import terminal

    color = terminal.color_allowed(sys.stdout)
    ascii_only = not terminal.can_encode(sys.stdout, "█⣿─")
    sys.stdout.write(draw(drawn, _terminal_width() or 80, color=color, ascii_only=ascii_only))


@app.command("report")
def report_cmd(
    out: Annotated[Path, typer.Option("--out", help="The HTML file to write.")] = Path("report.html"),
    indices: Annotated[str, typer.Option("--index", help="Comma-separated indices.")] = "RUT,NDX,SPX",
    top: Annotated[int, typer.Option("--top", help="Stocks listed per index.")] = 10,
    no_charts: Annotated[
        bool, typer.Option("--no-charts", help="Tables and sentences only (faster).")
    ] = False,
    as_of: AsOfOpt = None,
    known_at: KnownAtOpt = None,
) -> None:
    """Write one self-contained HTML report: scan, summary, charts, sectors, top stocks, futures.

    The page fetches nothing when opened (inline CSS and SVG, no script); it reads on a phone and
    prints. Every number is the one `-f json` gives.

    Examples:

      positioning report --out report.html

      positioning report --index RUT --top 20 --out rut.html
    """
    from positioning_cli import api, pictures
    from positioning_cli.report import render_html

    built = pictures.build_report(
        _store_path(),
        as_of=api.resolve_as_of(as_of),
        known_at=api.resolve_known_at(known_at),
        indices=_indices(indices),
        top=top,
        charts=not no_charts,
    )
    _write_atomically(out, render_html(built))
    for w in built.warnings:
        sys.stderr.write(f"warning: {w}\n")
    sys.stderr.write(f"wrote {out}\n")


def _write_atomically(path: Path, text: str) -> None:
    from positioning_cli.outfile import write_atomically

    write_atomically(path, lambda out: out.write(text.encode("utf-8")))


def _check_format(fmt: str) -> str:
    from positioning_cli.render import FORMATS

    fmt = fmt.lower()
    if fmt not in FORMATS:
        raise UsageError(f"--format {fmt!r}: expected {', '.join(FORMATS)}")
    return fmt


def _mapping_pairs(items: list[str], option: str, shape: str) -> list[tuple[str, str]]:
    pairs = []
    for item in items:
        k, sep, v = item.partition("=")
        if not sep or not k or not v:
            raise UsageError(f"{option} {item!r}: expected {shape}")
        pairs.append((k.strip().upper(), v.strip()))
    return pairs


def _terminal_width() -> int | None:
    cols = os.environ.get("COLUMNS")
    return int(cols) if cols and cols.isdigit() else None


# ---------------------------------------------------------------- global options after the command
_global_options_app = typer.Typer(add_completion=False)


@_global_options_app.command()
def _global_options(
    global_store: Annotated[
        Path | None, typer.Option("--store", help=_STORE_HELP, show_default=False)
    ] = None,
    global_debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
    global_version: Annotated[
        bool,
        typer.Option("--version", "-V", callback=_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """Never run: its options are added to every command by ``_Command``."""


class _Command(TyperCommand):
    """A command that also takes the top-level --store, --debug and -V/--version after its name.

    `positioning scan --debug --store X` is what people type (and what the error advice suggests),
    so every command accepts them; given there, they override the ones before the command.
    ``main`` looks for ``--debug`` anywhere in the arguments.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.params.extend(typer.main.get_command(_global_options_app).params)

    def invoke(self, ctx: Any) -> Any:
        store = ctx.params.pop("global_store", None)
        debug = ctx.params.pop("global_debug", False)
        ctx.params.pop("global_version", None)
        if store is not None:
            STATE.store = Path(store)
        STATE.debug = STATE.debug or debug
        return super().invoke(ctx)


def _use_command_class(typer_app: typer.Typer) -> None:
    for command in typer_app.registered_commands:
        if command.cls in (None, TyperCommand):  # typer fills in its default class
            command.cls = _Command
    for group in typer_app.registered_groups:
        if group.typer_instance is not None:
            _use_command_class(group.typer_instance)


_use_command_class(app)


# ---------------------------------------------------------------- entry point
def main(argv: list[str] | None = None) -> None:
    """Run the CLI; map every outcome to a documented exit code (README "Exit codes").

    typer handles --help and usage errors itself (exit 2); our own errors become one line on
    stderr and their ExitCode; anything else is a bug: one line, or the traceback with --debug.
    SIGINT/SIGTERM stop the command (cleanups run as it unwinds) with one line and 130/143; once
    the outcome is decided they are ignored, so a late one never turns a finished run into a kill.
    """
    from positioning_cli import signals, terminal

    signals.install()
    terminal.ascii_fallback(sys.stdout)  # a latin-1 or ASCII terminal gets "-" for "—", never a crash
    terminal.ascii_fallback(sys.stderr)
    args = sys.argv[1:] if argv is None else argv
    try:
        try:
            code = _run(args)
            try:
                if sys.stdout is not None:  # None: started with stdout closed (`>&-`), nothing to flush
                    sys.stdout.flush()
            except BrokenPipeError:
                _silence_stdout()
        finally:
            signals.ignore()
    except signals.Interrupted as exc:  # cleanups ran while it unwound: staging removed
        sys.stderr.write(f"error: {exc.message}; stopped, the store holds whole commits only\n")
        code = exc.code
    except KeyboardInterrupt:  # a SIGINT before the handler was installed
        sys.stderr.write("error: interrupted (SIGINT); stopped, the store holds whole commits only\n")
        code = ExitCode.INTERRUPTED
    sys.exit(int(code))


def _run(args: list[str]) -> int:
    """The command's exit code (signals propagate to ``main``)."""
    try:
        app(args=args, prog_name="positioning")
    except SystemExit as exc:  # typer's normal way out, with its own code
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else ExitCode.USAGE)
    except PositioningError as exc:
        if "--debug" in args:
            import traceback

            traceback.print_exc()
        sys.stderr.write(f"error: {exc.message}\n")
        return exc.exit_code
    except BrokenPipeError:
        # The reader went away (`| head`): not our failure, and nothing more to say.
        _silence_stdout()
    except Exception as exc:
        if "--debug" in args:
            raise
        sys.stderr.write(
            f"internal error: {type(exc).__name__}: {exc} (rerun with --debug for a traceback)\n"
        )
        return ExitCode.INTERNAL
    return ExitCode.OK


def _silence_stdout() -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
