"""Deterministic synthetic market data for ``positioning``, in the formats of FINRA short interest, index
membership, prices, FINRA Reg SHO daily short-sale volume and fund assets.

Run ``python -m positioning_cli.sample_data OUT_DIR`` to (re)write the committed ``sample_data/`` tree byte
for byte. Everything is invented (tickers, names, numbers) from the seed; no file is, or is copied from, a
FINRA, Yahoo or index-provider file: only the *formats* follow the real sources described in DOMAIN.md.
The output depends on the seed and the options alone: one ``numpy.random.default_rng(seed)`` drawn in a
fixed order, no set/dict iteration order, no clock, no locale, every number formatted explicitly.

Written files (under OUT_DIR):

- ``short_interest/shrtYYYYMMDD.csv.gz``: FINRA consolidated short interest, one per settlement date (the
  15th and the last business day of each month, rolled back to a business day), pipe-delimited, LF.
- ``members/RUT.csv``, ``members/NDX.csv``, ``members/SPX.csv``: yearly membership snapshots with shares
  outstanding, float, sector and weight (RUT as of the last business day of June, NDX/SPX as of the first
  business day of January).
- ``prices/SPY.csv``, ``QQQ.csv``, ``IWM.csv``, ``^GSPC.csv``, ``^NDX.csv``, ``^RUT.csv``: Yahoo daily format.
- ``prices/stocks/<SYMBOL>.csv.gz``: Yahoo daily prices of every symbol that trades from 1 July two years
  before ``end`` on (Yahoo spelling: ``DLT-A``), beta to its index's ETF plus idiosyncratic noise, market
  caps in the index's range, unadjusted ``Close`` splitting on the FINRA ``S`` rows' split days, ``Adj Close``
  back-adjusted for splits and dividends, ``Volume`` around the FINRA ADV.
- ``short_volume/sample-sv-CNMS-YYYY-MM-DD.txt.gz`` (and ``sample-sv-FNQC-…`` etc. on the
  first day): daily short-sale volume in FINRA's Reg SHO layout over the last sessions of the price files.
  The names are our own (``ingest.short_volume.own_file_name``, which the ingest reads the facility from),
  not FINRA's ``CNMSshvolYYYYMMDD.txt``: no generated file carries a FINRA file's name.
- ``funds/letf_assets.csv.gz``: net assets of the leveraged ETFs over the same sessions.

The ``.gz`` files are written with ``gzip.compress(data, compresslevel=9, mtime=0)``: no file name, no time
stamp, so the bytes depend only on the content (and the zlib version). A run removes the files it owns but
did not write (``short_interest/shrt*.csv[.gz]``, ``prices/stocks/*.csv[.gz]``,
``short_volume/`` files named like the ones it writes, or as earlier runs named them); it never touches other folders (``cot/`` belongs to another
generator). The stock prices draw from the same generator *after*
everything else, so adding them did not change a byte of the other files.

The story it tells (see sample_data/README.md): Russell 2000 aggregate short interest climbs to its highest
level on the last settlement date (+42% YTD, +26% over 12 months, +3.6% since the last report) while IWM
grinds higher; S&P 500 short interest drifts to a multi-year high; Nasdaq-100 sits mid-range.

:func:`generate` is vectorised over symbols so it can also write full-market histories (~22,000 symbols,
hundreds of files) for benchmarks; the stock price files are one per symbol, so skip them there
(``--no-stock-prices``).
"""

from __future__ import annotations

import argparse
import calendar
import csv
import gzip
import io
import math
import os
import re
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from functools import cache
from pathlib import Path

import numpy as np

DEFAULT_SEED = 20261122
DEFAULT_START = date(2020, 1, 15)
DEFAULT_END = date(2026, 10, 30)
DEFAULT_N_RUT = 200
DEFAULT_N_NDX = 60
DEFAULT_N_SPX = 150
DEFAULT_N_OTHER = 40

FINRA_COLUMNS = (
    "accountingYearMonthNumber",
    "symbolCode",
    "issueName",
    "issuerServicesGroupExchangeCode",
    "marketClassCode",
    "currentShortPositionQuantity",
    "previousShortPositionQuantity",
    "stockSplitFlag",
    "averageDailyVolumeQuantity",
    "daysToCoverQuantity",
    "revisionFlag",
    "changePercent",
    "changePreviousNumber",
    "settlementDate",
)
FINRA_HEADER = "|".join(FINRA_COLUMNS)
MEMBERS_COLUMNS = (
    "index",
    "as_of",
    "symbol",
    "name",
    "sector",
    "shares_outstanding",
    "float_shares",
    "weight",
)
PRICE_HEADER = "Date,Open,High,Low,Close,Adj Close,Volume"

SECTORS = (
    "Information Technology",
    "Health Care",
    "Financials",
    "Industrials",
    "Consumer Discretionary",
    "Communication Services",
    "Consumer Staples",
    "Energy",
    "Materials",
    "Real Estate",
    "Utilities",
)

# ---------------------------------------------------------------------------------------------------------
# NYSE calendar
# ---------------------------------------------------------------------------------------------------------

#: One-off NYSE closures (national days of mourning, weather) since 2000.
SPECIAL_CLOSURES = (
    date(2001, 9, 11),
    date(2001, 9, 12),
    date(2001, 9, 13),
    date(2001, 9, 14),
    date(2004, 6, 11),
    date(2007, 1, 2),
    date(2012, 10, 29),
    date(2012, 10, 30),
    date(2018, 12, 5),
    date(2025, 1, 9),
)


def easter_sunday(year: int) -> date:
    """Gregorian Easter (anonymous Gregorian algorithm)."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    ell = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * ell) // 451
    month, day = divmod(h + ell - 7 * m + 114, 31)
    return date(year, month, day + 1)


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    """The n-th ``weekday`` (Mon=0) of a month; n=-1 for the last one."""
    if n > 0:
        first = date(year, month, 1)
        return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    last = date(year, month, calendar.monthrange(year, month)[1])
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def _observed(d: date) -> date:
    """Saturday holidays are observed on Friday, Sunday holidays on Monday."""
    if d.weekday() == 5:
        return d - timedelta(days=1)
    if d.weekday() == 6:
        return d + timedelta(days=1)
    return d


@cache
def nyse_holidays(year: int) -> frozenset[date]:
    """Full-day NYSE closures of ``year`` (regular holidays with weekend observance, plus special closures)."""
    days = set()
    new_year = date(year, 1, 1)
    if new_year.weekday() != 5:  # a Saturday New Year's Day is not observed on the Friday before
        days.add(_observed(new_year))
    days.add(_nth_weekday(year, 1, 0, 3))  # Martin Luther King Jr. Day
    days.add(_nth_weekday(year, 2, 0, 3))  # Washington's Birthday
    days.add(easter_sunday(year) - timedelta(days=2))  # Good Friday
    days.add(_nth_weekday(year, 5, 0, -1))  # Memorial Day
    if year >= 2022:
        days.add(_observed(date(year, 6, 19)))  # Juneteenth
    days.add(_observed(date(year, 7, 4)))
    days.add(_nth_weekday(year, 9, 0, 1))  # Labor Day
    days.add(_nth_weekday(year, 11, 3, 4))  # Thanksgiving
    days.add(_observed(date(year, 12, 25)))
    days.update(d for d in SPECIAL_CLOSURES if d.year == year)
    return frozenset(days)


def is_business_day(d: date) -> bool:
    return d.weekday() < 5 and d not in nyse_holidays(d.year)


def business_day_on_or_before(d: date) -> date:
    while not is_business_day(d):
        d -= timedelta(days=1)
    return d


def business_day_on_or_after(d: date) -> date:
    while not is_business_day(d):
        d += timedelta(days=1)
    return d


def business_days(start: date, end: date) -> list[date]:
    """NYSE business days in [start, end]."""
    out = []
    d = start
    while d <= end:
        if is_business_day(d):
            out.append(d)
        d += timedelta(days=1)
    return out


def settlement_dates(start: date, end: date) -> list[date]:
    """FINRA settlement dates in [start, end]: the 15th and the month's last business day, rolled back."""
    out: list[date] = []
    y, m = start.year, start.month
    while (y, m) <= (end.year, end.month):
        mid = business_day_on_or_before(date(y, m, 15))
        last = business_day_on_or_before(date(y, m, calendar.monthrange(y, m)[1]))
        out.extend(d for d in (mid, last) if start <= d <= end)
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


# ---------------------------------------------------------------------------------------------------------
# Invented securities
# ---------------------------------------------------------------------------------------------------------

_NAME_WORDS = (
    "Crestline Harborview Bluewater Northgate Silverpine Ironbridge Summitview Clearbrook Stonehaven Brightwater "
    "Oakhollow Falconridge Meridian Cobalt Granite Larkspur Westmere Kestrel Alder Beacon Cypress Driftwood "
    "Emberly Fairhaven Glenmoor Halcyon Ironwood Juniper Keystone Lakemont Marlow Northstar Orchard Pinecrest "
    "Quarry Ridgeline Saltmarsh Tidewater Upland Vantage Willowbrook Yarrow Zephyr Ashford Birchwood Caldera "
    "Dunmore Eastlake Foxglove Goldcrest Hartwell Inland Jetstream Kingsbury Lodestar Maplewood Newhaven "
    "Outrider Palisade Quillon Redfern Sablewood Thornbury Unison Valemont Wexford Axiom Bramble Corvel "
    "Delmont Everline Fernbrook Gallant Highmark Icefield Jasper Kirkwood Lumen Mesa Nimbus Onyx Parkline "
    "Quartz Rainier Sequoia Trillium Ulster Verdant Windrose Acorn Boulder Canyon Delta Evergreen Frontier "
    "Glacier Horizon Insight Journey Kindred Liberty Magnolia Nova Osprey Pioneer Regal Sterling Triton Vista "
    "Amberly Banfield Carrow Dovecote Elmsford Farrow Greyfield Hollis Ingram Jessup Kelso Lindell Morrow "
    "Norcross Oakmont Pellham Quimby Rosslyn Shelby Tamsin Urbana Vickery Waverly Yardley Brisco Calloway "
    "Dorrance Ellery Fennimore Gorham Halstead Islay Jarrow Kinsale Lockhart Merrion Nettleton Orwell "
    "Prescott Radley Selwyn Tolland Vardon Whitcomb Abernathy Bellweather Castellan Draycott Everhart"
).split()

_SECTOR_NOUNS = {
    "Information Technology": (
        "Systems",
        "Software",
        "Semiconductor",
        "Technologies",
        "Networks",
        "Micro",
        "Data",
        "Cloud",
        "Devices",
        "Photonics",
    ),
    "Health Care": (
        "Therapeutics",
        "Biosciences",
        "Pharmaceuticals",
        "Medical",
        "Health",
        "Diagnostics",
        "Genomics",
        "Oncology",
        "Surgical",
        "Biotherapeutics",
    ),
    "Financials": (
        "Bancorp",
        "Financial",
        "Bancshares",
        "Capital",
        "Insurance Group",
        "Trust",
        "Savings Bank",
        "Credit",
        "Asset Management",
    ),
    "Industrials": (
        "Industries",
        "Aerospace",
        "Logistics",
        "Machinery",
        "Engineering",
        "Freight",
        "Building Products",
        "Controls",
        "Staffing",
        "Environmental Services",
    ),
    "Consumer Discretionary": (
        "Brands",
        "Restaurants",
        "Apparel",
        "Motors",
        "Leisure",
        "Retail",
        "Home",
        "Outdoor",
        "Hospitality",
    ),
    "Communication Services": (
        "Media",
        "Communications",
        "Interactive",
        "Entertainment",
        "Broadcasting",
        "Wireless",
    ),
    "Consumer Staples": ("Foods", "Beverage", "Farms", "Provisions", "Grocers", "Household Products"),
    "Energy": ("Energy", "Petroleum", "Resources", "Oil & Gas", "Midstream", "Drilling"),
    "Materials": ("Materials", "Chemicals", "Mining", "Metals", "Packaging", "Steel", "Gold"),
    "Real Estate": ("Realty", "Properties", "Real Estate Trust", "Residential", "Office REIT"),
    "Utilities": ("Utilities", "Power", "Electric", "Water", "Gas & Electric"),
}
_SUFFIXES = (
    "Inc.",
    "Inc.",
    "Inc.",
    "Corp.",
    "Corporation",
    "Co.",
    "Holdings Inc.",
    "Group Inc.",
    "Ltd.",
    "plc",
    "Inc.",
)
_RESERVED_TICKERS = frozenset({"SPY", "QQQ", "IWM", "DIA", "VIX"})

# Sector mixes per group (order of SECTORS).
_SECTOR_P = {
    "spx": (0.18, 0.12, 0.13, 0.13, 0.10, 0.05, 0.07, 0.045, 0.045, 0.06, 0.06),
    "ndx": (0.40, 0.12, 0.01, 0.10, 0.14, 0.12, 0.06, 0.01, 0.01, 0.0, 0.03),
    "small": (0.12, 0.19, 0.18, 0.17, 0.10, 0.03, 0.03, 0.05, 0.04, 0.06, 0.03),
    "other": (0.15, 0.25, 0.12, 0.08, 0.08, 0.05, 0.04, 0.08, 0.12, 0.02, 0.01),
}

GROUP_LARGE, GROUP_SMALL, GROUP_OTHER = 0, 1, 2


def _p(key: str) -> np.ndarray:
    p = np.asarray(_SECTOR_P[key], dtype=float)
    return p / p.sum()


def _ticker_candidates(name_word: str, noun: str) -> list[str]:
    w = re.sub(r"[^A-Z]", "", name_word.upper())
    n = re.sub(r"[^A-Z]", "", noun.upper())
    cons = w[0] + "".join(c for c in w[1:] if c not in "AEIOU")
    return [
        w[:4],
        cons[:4],
        w[:3],
        cons[:3],
        w[:2] + n[:1],
        cons[:2] + n[:2],
        w[:3] + n[:1],
        w[:2] + n[:2],
        cons[:3] + n[:1],
        w[0] + n[:2],
    ]


class _Universe:
    """Static attributes of every invented security, sorted by FINRA symbol."""

    def __init__(self, rng: np.random.Generator, roles: list[str], class_share_roles: dict[int, str]):  # noqa: PLR0915 (over 60 statements: to split, issue 11)
        n = len(roles)
        taken: set[str] = set(_RESERVED_TICKERS)
        symbols: list[str] = []
        member_symbols: list[str] = []
        names: list[str] = []
        sectors: list[str] = []
        exch: list[str] = []
        mclass: list[str] = []
        nasdaq = np.zeros(n, dtype=bool)
        words = rng.integers(0, len(_NAME_WORDS), size=(n, 2))
        suffix_ix = rng.integers(0, len(_SUFFIXES), size=n)
        comma = rng.random(n) < 0.06
        venue_u = rng.random(n)
        noun_u = rng.random(n)
        sector_ix = np.empty(n, dtype=np.int64)
        for key in ("spx", "ndx", "small", "other"):
            mask = np.array([r == key or (key == "ndx" and r == "both") for r in roles])
            sector_ix[mask] = rng.choice(len(SECTORS), size=int(mask.sum()), p=_p(key))
        for i, role in enumerate(roles):
            sector = SECTORS[sector_ix[i]]
            nouns = _SECTOR_NOUNS[sector]
            noun = nouns[int(noun_u[i] * len(nouns))]
            first = _NAME_WORDS[words[i, 0]]
            if role == "other" and words[i, 1] % 3 == 0:
                first = first + " " + _NAME_WORDS[words[i, 1]]
            suffix = _SUFFIXES[suffix_ix[i]]
            name = f"{first} {noun}{',' if comma[i] and suffix.startswith('Inc') else ''} {suffix}"
            if role in ("both", "ndx"):
                venue = ("A", "NNM")
            elif role == "spx":
                venue = ("A", "NNM") if venue_u[i] < 0.2 else ("A", "NYSE")
            elif role == "small":
                venue = (
                    ("A", "NNM")
                    if venue_u[i] < 0.33
                    else ("A", "NSC")
                    if venue_u[i] < 0.55
                    else ("A", "NYSE")
                    if venue_u[i] < 0.97
                    else ("A", "AMEX")
                )
            else:
                venue = (
                    ("U", "OTC")
                    if venue_u[i] < 0.6
                    else ("A", "NSC")
                    if venue_u[i] < 0.85
                    else ("A", "AMEX")
                    if venue_u[i] < 0.95
                    else ("A", "ARCA")
                )
            otc = venue[1] == "OTC"
            cls = class_share_roles.get(i)
            lengths = (
                (3,) if cls else ((5,) if otc else (2, 3, 4) if role in ("both", "ndx", "spx") else (3, 4))
            )
            sym = ""
            for cand in _ticker_candidates(first.split()[0], noun):
                if otc:
                    cand = cand[:4].ljust(4, "X") + "F"
                if len(cand) in lengths and cand not in taken and (not cls or cand + cls not in taken):
                    sym = cand
                    break
            while not sym or sym in taken or (cls and sym + cls in taken):
                length = int(rng.choice(lengths))
                sym = "".join(chr(65 + int(c)) for c in rng.integers(0, 26, size=length))
            member_sym = sym
            if cls:
                taken.add(sym)  # the bare base never trades separately; keep it out of the pool
                member_sym = f"{sym}.{cls}"
                sym = sym + cls
                name = f"{first} {noun} {suffix} Class {cls}"
            taken.add(sym)
            symbols.append(sym)
            member_symbols.append(member_sym)
            names.append(name)
            sectors.append(sector)
            exch.append(venue[0])
            mclass.append(venue[1])
            nasdaq[i] = venue[1] in ("NNM", "NSC")
        order = sorted(range(n), key=lambda k: symbols[k])
        self.order = np.asarray(order, dtype=np.int64)  # new position -> original position
        self.symbol = [symbols[k] for k in order]
        self.member_symbol = [member_symbols[k] for k in order]
        self.name = [names[k] for k in order]
        self.sector = [sectors[k] for k in order]
        self.exch = [exch[k] for k in order]
        self.market_class = [mclass[k] for k in order]
        self.nasdaq = nasdaq[self.order]
        self.role = [roles[k] for k in order]
        self.n = n


# ---------------------------------------------------------------------------------------------------------
# Time-series helpers
# ---------------------------------------------------------------------------------------------------------


def _years(dates: Sequence[date], ref: date) -> np.ndarray:
    return np.array([(d - ref).days / 365.25 for d in dates], dtype=float)


def _ar_backward(
    rng: np.random.Generator, n_t: int, n_s: int, phi: float, sigma: np.ndarray | float
) -> np.ndarray:
    """AR(1) paths pinned to 0 at the last time step, run backwards: x[t-1] = phi x[t] + sigma eps."""
    x = np.zeros((n_t, n_s))
    eps = rng.standard_normal((n_t, n_s)) * sigma
    for t in range(n_t - 1, 0, -1):
        x[t - 1] = phi * x[t] + eps[t - 1]
    return x


def _bumps(dates: Sequence[date], bumps: Sequence[tuple[date, float, float]]) -> np.ndarray:
    """Sum of Gaussian bumps (centre, height, width in days) evaluated at ``dates``."""
    ordinal = np.array([d.toordinal() for d in dates], dtype=float)
    out = np.zeros(len(dates))
    for centre, height, width in bumps:
        out += height * np.exp(-(((ordinal - centre.toordinal()) / width) ** 2))
    return out


_MARKET_STRESS = (
    (date(2020, 3, 25), 1.0, 40.0),
    (date(2021, 1, 29), 0.6, 25.0),
    (date(2022, 6, 15), 0.6, 60.0),
    (date(2023, 10, 31), 0.35, 35.0),
    (date(2025, 4, 15), 0.8, 30.0),
)


def _rut_story(rng: np.random.Generator, dates: list[date]) -> np.ndarray:
    """Log level of Russell 2000 aggregate SI, 0 on the last date, every earlier date below it.

    Pinned: -log(1.036) at the previous report, -log(1.42) at the last report of the previous year (YTD base),
    -log(1.26) at the 12M base (last report on or before d - 365); earlier history mean-reverts around
    -log(1.40) with stress bumps, and stays at least 11% under the final level.
    """
    n = len(dates)
    t_last = n - 1
    end = dates[-1]
    anchors: dict[int, float] = {}
    i_12m = max((i for i, d in enumerate(dates) if d <= end - timedelta(days=365)), default=None)
    i_ytd = max((i for i, d in enumerate(dates) if d.year < end.year), default=None)
    if i_12m is not None:
        anchors[i_12m] = -math.log(1.26)
    if i_ytd is not None:
        anchors[i_ytd] = -math.log(1.42)
    if n >= 2:
        anchors[t_last - 1] = -math.log(1.036)
    anchors[t_last] = 0.0
    base = _ar_backward(rng, n, 1, 0.93, 0.03)[:, 0] - math.log(1.45)
    base += _bumps(dates, [(c, 0.12 * h, w) for c, h, w in _MARKET_STRESS])
    g = base.copy()
    keys = sorted(anchors)
    first = keys[0]
    # before the first anchor: history, blended into the anchor over ~6 reports
    blend = np.exp(-np.maximum(first - np.arange(n), 0) / 3.0)
    g[: first + 1] = base[: first + 1] + (anchors[first] - base[first]) * blend[: first + 1]
    g[:first] = np.minimum(g[:first], -math.log(1.12))
    # between anchors: straight line in log plus a small Brownian bridge
    for a, b in zip(keys[:-1], keys[1:], strict=True):
        steps = b - a
        lin = anchors[a] + (anchors[b] - anchors[a]) * np.arange(steps + 1) / steps
        w = np.concatenate([[0.0], np.cumsum(rng.standard_normal(steps) * 0.012)])
        bridge = w - np.arange(steps + 1) / steps * w[-1]
        g[a : b + 1] = lin + bridge
    g[:t_last] = np.minimum(g[:t_last], -0.03)
    g[t_last] = 0.0
    return g


# ---------------------------------------------------------------------------------------------------------
# Prices
# ---------------------------------------------------------------------------------------------------------

# (date, close[, vol multiplier of the segment ending here]) -- rough real-world levels; noise in between.
_PRICE_ANCHORS: dict[str, tuple[tuple, ...]] = {
    "SPY": (
        (date(2019, 1, 2), 250.2),
        (date(2019, 12, 31), 321.9),
        (date(2020, 2, 19), 338.3),
        (date(2020, 3, 23), 222.9),
        (date(2020, 8, 31), 349.3),
        (date(2020, 12, 31), 373.9),
        (date(2021, 12, 31), 474.9),
        (date(2022, 6, 16), 366.7),
        (date(2022, 8, 16), 429.7),
        (date(2022, 10, 12), 356.6),
        (date(2022, 12, 30), 382.4),
        (date(2023, 7, 31), 457.8),
        (date(2023, 10, 27), 410.7),
        (date(2023, 12, 29), 475.3),
        (date(2024, 7, 16), 564.9),
        (date(2024, 8, 5), 517.4),
        (date(2024, 12, 31), 586.1),
        (date(2025, 2, 19), 612.9),
        (date(2025, 4, 8), 496.5),
        (date(2025, 7, 31), 632.1),
        (date(2025, 12, 31), 664.0),
        (date(2026, 3, 31), 648.0),
        (date(2026, 7, 31), 671.0),
        (date(2026, 10, 30), 676.0),
        (date(2026, 11, 20), 681.0, 0.7),
    ),
    "QQQ": (
        (date(2019, 1, 2), 154.9),
        (date(2019, 12, 31), 212.6),
        (date(2020, 2, 19), 237.6),
        (date(2020, 3, 16), 169.3),
        (date(2020, 9, 2), 303.5),
        (date(2020, 12, 31), 313.7),
        (date(2021, 11, 19), 403.0),
        (date(2021, 12, 31), 397.8),
        (date(2022, 6, 16), 272.4),
        (date(2022, 8, 15), 334.8),
        (date(2022, 12, 28), 259.5),
        (date(2023, 7, 18), 383.6),
        (date(2023, 10, 26), 343.0),
        (date(2023, 12, 29), 409.5),
        (date(2024, 7, 10), 502.0),
        (date(2024, 8, 7), 441.0),
        (date(2024, 12, 31), 511.2),
        (date(2025, 2, 19), 539.5),
        (date(2025, 4, 8), 423.7),
        (date(2025, 7, 31), 565.0),
        (date(2025, 12, 31), 584.0),
        (date(2026, 3, 31), 561.0),
        (date(2026, 7, 31), 597.0),
        (date(2026, 10, 30), 595.0),
        (date(2026, 11, 20), 602.0, 0.7),
    ),
    "IWM": (
        (date(2019, 1, 2), 134.7),
        (date(2019, 12, 31), 165.7),
        (date(2020, 1, 17), 168.1),
        (date(2020, 3, 18), 100.8),
        (date(2020, 8, 31), 156.4),
        (date(2020, 12, 31), 196.1),
        (date(2021, 3, 15), 233.8),
        (date(2021, 11, 8), 242.6),
        (date(2021, 12, 31), 222.5),
        (date(2022, 6, 16), 164.4),
        (date(2022, 8, 16), 201.0),
        (date(2022, 9, 30), 164.0),
        (date(2022, 12, 30), 174.4),
        (date(2023, 7, 31), 199.1),
        (date(2023, 10, 27), 162.6),
        (date(2023, 12, 29), 200.7),
        (date(2024, 7, 31), 224.1),
        (date(2024, 8, 7), 203.5),
        (date(2024, 11, 25), 242.4),
        (date(2024, 12, 31), 221.0),
        (date(2025, 4, 8), 173.5),
        (date(2025, 7, 31), 219.0),
        (date(2025, 10, 15), 241.0),
        (date(2025, 12, 31), 216.0),
        (date(2026, 2, 27), 226.0, 0.6),
        (date(2026, 5, 29), 232.0, 0.6),
        (date(2026, 8, 31), 239.0, 0.6),
        # price grinds higher through the last report cycle while RUT shorts keep growing
        (date(2026, 10, 15), 239.5, 0.4),
        (date(2026, 10, 30), 245.5, 0.4),
        (date(2026, 11, 20), 251.0, 0.6),
    ),
}
_ETF_VOL = {"SPY": 0.0100, "QQQ": 0.0130, "IWM": 0.0140}
_ETF_VOLUME = {"SPY": 72e6, "QQQ": 42e6, "IWM": 27e6}
_ETF_YIELD = {"SPY": 0.013, "QQQ": 0.006, "IWM": 0.012}
# index proxy files: (file name, ETF, level ratio, yearly expense drift, base volume)
_INDEX_FILES = (
    ("^GSPC", "SPY", 10.0, 0.0009, 4.2e9),
    ("^NDX", "QQQ", 41.0, 0.0020, 5.5e9),
    ("^RUT", "IWM", 10.0, 0.0019, 1.1e9),
)


def _price_path(
    rng: np.random.Generator,
    days: list[date],
    anchors: tuple[tuple, ...],
    vol: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Log close path through the anchors (Brownian bridges), and the daily vol used on each day."""
    n = len(days)
    pos = {d: i for i, d in enumerate(days)}
    pts: list[tuple[int, float, float]] = []
    for anchor in anchors:
        d = business_day_on_or_before(anchor[0])
        if d in pos:
            pts.append((pos[d], math.log(anchor[1]), anchor[2] if len(anchor) > 2 else 1.0))
    if not pts:  # range outside the story: start from the nearest anchor's level
        ref = anchors[-1] if days[0] > anchors[-1][0] else anchors[0]
        pts = [(0, math.log(ref[1]), 1.0)]
    logp = np.empty(n)
    sig = np.full(n, vol)
    i0, l0, _ = pts[0]
    logp[i0] = l0
    for (a, la, _), (b, lb, mult) in zip(pts[:-1], pts[1:], strict=True):
        steps = b - a
        if steps <= 0:
            continue
        drift = abs(lb - la) / steps
        s = vol * mult * min(max(drift / 0.0025, 1.0), 2.8)
        w = np.concatenate([[0.0], np.cumsum(rng.standard_normal(steps) * s)])
        bridge = w - np.arange(steps + 1) / steps * w[-1]
        logp[a : b + 1] = la + (lb - la) * np.arange(steps + 1) / steps + bridge
        sig[a + 1 : b + 1] = s
    first, last = pts[0][0], pts[-1][0]
    mu = 0.07 / 252
    if first > 0:  # walk backwards before the first anchor
        back = rng.standard_normal(first) * vol + mu
        logp[:first] = logp[first] - np.cumsum(back[::-1])[::-1]
    if last < n - 1:
        fwd = rng.standard_normal(n - 1 - last) * vol + mu
        logp[last + 1 :] = logp[last] + np.cumsum(fwd)
    return logp, sig


def _ohlcv(rng: np.random.Generator, logp: np.ndarray, sig: np.ndarray, base_volume: float):
    n = len(logp)
    close = np.exp(logp)
    gap = rng.standard_normal(n) * 0.35 * sig
    prev = np.concatenate([[close[0] * math.exp(gap[-1])], close[:-1]])
    open_ = prev * np.exp(gap)
    up = np.abs(rng.standard_normal(n)) * 0.5 * sig
    down = np.abs(rng.standard_normal(n)) * 0.5 * sig
    close_r = np.round(close, 2)
    open_r = np.round(open_, 2)
    high = np.maximum(np.round(np.maximum(open_, close) * np.exp(up), 2), np.maximum(open_r, close_r))
    low = np.minimum(np.round(np.minimum(open_, close) * np.exp(-down), 2), np.minimum(open_r, close_r))
    ret = np.abs(np.diff(logp, prepend=logp[0]))
    volume = base_volume * np.exp(rng.standard_normal(n) * 0.25) * (1.0 + 25.0 * ret)
    volume = np.round(volume / 100.0) * 100.0
    return open_r, high, low, close_r, volume


def _third_friday(y: int, m: int) -> date:
    return _nth_weekday(y, m, 4, 3)


def _write_prices(
    out: Path, rng: np.random.Generator, price_start: date, price_end: date
) -> tuple[list[Path], list[date], dict[str, np.ndarray]]:
    """Write the ETF and index files; return them, the business days and each ETF's rounded closes."""
    days = business_days(price_start, price_end)
    iso = [d.isoformat() for d in days]
    written = []
    closes: dict[str, tuple] = {}
    for etf in ("SPY", "QQQ", "IWM"):
        logp, sig = _price_path(rng, days, _PRICE_ANCHORS[etf], _ETF_VOL[etf])
        o, h, lo, c, v = _ohlcv(rng, logp, sig, _ETF_VOLUME[etf])
        # Adj Close: back-adjusted for quarterly dividends, ex-date = third Friday of Mar/Jun/Sep/Dec
        ex_dates = sorted(
            business_day_on_or_before(_third_friday(y, m))
            for y in range(price_start.year, price_end.year + 1)
            for m in (3, 6, 9, 12)
        )
        ex_ord = np.array([d.toordinal() for d in ex_dates if price_start < d <= price_end], dtype=np.int64)
        day_ord = np.array([d.toordinal() for d in days], dtype=np.int64)
        later = len(ex_ord) - np.searchsorted(ex_ord, day_ord, side="right")
        adj = c * (1.0 - _ETF_YIELD[etf] / 4.0) ** later
        closes[etf] = (o, h, lo, c, sig)
        lines = [PRICE_HEADER]
        lines += [
            f"{d},{a:.2f},{b:.2f},{e:.2f},{f:.2f},{g:.6f},{vol:.1f}"
            for d, a, b, e, f, g, vol in zip(
                iso, o.tolist(), h.tolist(), lo.tolist(), c.tolist(), adj.tolist(), v.tolist(), strict=True
            )
        ]
        written.append(_write_text(out / f"{etf}.csv", lines))
    yrs = _years(days, days[0])
    for name, etf, ratio, drift, base_volume in _INDEX_FILES:
        o, h, lo, c, sig = closes[etf]
        k = ratio * np.exp(drift * yrs)
        oi, hi, li, ci = (np.round(x * k, 2) for x in (o, h, lo, c))
        hi = np.maximum(hi, np.maximum(oi, ci))
        li = np.minimum(li, np.minimum(oi, ci))
        ret = np.abs(np.diff(np.log(c), prepend=math.log(c[0])))
        volume = (
            np.round(base_volume * np.exp(rng.standard_normal(len(days)) * 0.2) * (1.0 + 20.0 * ret) / 1e4)
            * 1e4
        )
        lines = [PRICE_HEADER]
        lines += [
            f"{d},{a:.2f},{b:.2f},{e:.2f},{f:.2f},{f:.2f},{vol:.1f}"
            for d, a, b, e, f, vol in zip(
                iso, oi.tolist(), hi.tolist(), li.tolist(), ci.tolist(), volume.tolist(), strict=True
            )
        ]
        written.append(_write_text(out / f"{name}.csv", lines))
    return written, days, {etf: closes[etf][3] for etf in ("SPY", "QQQ", "IWM")}


# Individual stocks: the ETF each group follows, its beta range, the total daily vol range, the market cap
# on the anchor day (median, log sd, clip) and the share of dividend payers with their yield range.
_STOCK_ETF = {"both": "QQQ", "ndx": "QQQ", "spx": "SPY", "small": "IWM", "other": "IWM"}
_INDEX_ETF = {"RUT": "IWM", "NDX": "QQQ", "SPX": "SPY"}
_STOCK_BETA = {GROUP_LARGE: (0.8, 1.3), GROUP_SMALL: (0.9, 1.4), GROUP_OTHER: (0.6, 1.2)}
_STOCK_VOL = {GROUP_LARGE: (0.015, 0.026), GROUP_SMALL: (0.024, 0.040), GROUP_OTHER: (0.020, 0.040)}
_STOCK_CAP = {
    GROUP_LARGE: (6.0e10, 1.0, 1.2e10, 2.8e12),
    GROUP_SMALL: (1.2e9, 0.8, 1.5e8, 9.0e9),
    GROUP_OTHER: (2.5e8, 1.1, 1.5e7, 4.0e9),
}
_STOCK_DIVIDEND = {
    GROUP_LARGE: (0.7, 0.005, 0.035),
    GROUP_SMALL: (0.4, 0.005, 0.04),
    GROUP_OTHER: (0.1, 0.01, 0.05),
}
_STOCK_PRICE_CLIP = (3.0, 900.0)  # on the anchor day
_STOCK_PATH_CLIP = (2.5, 950.0)  # anywhere in the file: the whole path is scaled to fit (lower bound first)


def yahoo_symbol(member_symbol: str) -> str:
    """The membership spelling as Yahoo writes it: class shares with a dash (``DLT.A`` -> ``DLT-A``)."""
    return member_symbol.replace(".", "-").replace("/", "-")


def _write_stock_prices(  # noqa: PLR0915 (over 60 statements: to split, issue 11)
    out: Path,
    rng: np.random.Generator,
    *,
    days_all: list[date],
    etf_close: dict[str, np.ndarray],
    stock_start: date,
    grid: list[date],
    names: list[str],
    etf: list[str],
    group: np.ndarray,
    listed: np.ndarray,
    adv: np.ndarray,
    shares_on: Callable[[Sequence[date]], np.ndarray],
    splits: list[tuple[int, int, date]],
    illiquid: np.ndarray,
    log_cap_hint: np.ndarray,
) -> list[Path]:
    """Yahoo-format daily prices (``<SYMBOL>.csv.gz``) for every symbol that trades from ``stock_start`` on.

    Each stock's log return is ``beta x`` its ETF's (``etf``) return plus idiosyncratic noise (with a few earnings
    jumps and the ex-dividend drops). The level is pinned on the anchor day (the last settlement date, or the
    last day of the file if earlier) to a market cap drawn per group; the cap's rank within the group follows
    the membership files' invented prices (``log_cap_hint``). ``Close`` is unadjusted: it drops by the split
    ratio on the split day of every FINRA ``S`` row; ``Adj Close`` is back-adjusted for splits and dividends.
    ``Volume`` scatters around the FINRA ADV of the report period the day belongs to (scaled for splits).
    Illiquid names do not trade at all in periods with ADV 0 and on ~40% of other days (Volume 0, all four
    prices equal to the last close).
    """
    n = len(names)
    n_t = len(grid)
    t_end = n_t - 1
    i0 = next((k for k, d in enumerate(days_all) if d >= stock_start), len(days_all))
    days = days_all[i0:]
    nd = len(days)
    if nd < 2 or n == 0:
        return []
    day_ord = np.array([d.toordinal() for d in days], dtype=np.int64)
    grid_ord = np.array([d.toordinal() for d in grid], dtype=np.int64)
    r_m = {}
    for fund, close in etf_close.items():
        r_m[fund] = np.concatenate([[0.0], np.diff(np.log(close[i0:]))])
    if "QQQ" in r_m and "SPY" in r_m:  # members of both NDX and SPX: the ETF paths are independent
        r_m["QQQ+SPY"] = (r_m["QQQ"] + r_m["SPY"]) / math.sqrt(2.0)
    sd_m = {fund: float(np.std(r[1:])) for fund, r in r_m.items()}

    # ---- per-symbol parameters, drawn for all symbols in a fixed order --------------------------------
    u_first = rng.random(n)
    u_last = rng.random(n)
    u_beta = rng.random(n)
    u_vol = rng.random(n)
    z_cap = rng.standard_normal(n)
    u_div = rng.random(n)
    u_yield = rng.random(n)
    div_q = rng.integers(0, 3, size=n)
    div_dom = rng.integers(5, 26, size=n)
    lo_hi = np.array([_STOCK_BETA[g] for g in group.tolist()]).reshape(n, 2)
    beta = lo_hi[:, 0] + (lo_hi[:, 1] - lo_hi[:, 0]) * u_beta
    lo_hi = np.array([_STOCK_VOL[g] for g in group.tolist()]).reshape(n, 2)
    sigma = lo_hi[:, 0] + (lo_hi[:, 1] - lo_hi[:, 0]) * u_vol
    sm = np.array([sd_m[e] for e in etf])
    idio = np.sqrt(np.maximum(sigma**2 - (beta * sm) ** 2, 0.006**2))
    div = np.array([_STOCK_DIVIDEND[g] for g in group.tolist()]).reshape(n, 3)
    div_yield = np.where(u_div < div[:, 0], div[:, 1] + (div[:, 2] - div[:, 1]) * u_yield, 0.0)
    is_illiquid = np.zeros(n, dtype=bool)
    is_illiquid[illiquid] = True
    div_yield[is_illiquid] = 0.0

    # anchor-day market cap: the hint's rank within its group, mapped onto the group's distribution
    log_cap = np.empty(n)
    for g, (med, sd, lo, hi) in _STOCK_CAP.items():
        m = group == g
        if m.any():
            h = log_cap_hint[m]
            spread = float(np.std(h)) or 1.0
            z = 0.8 * (h - float(np.mean(h))) / spread + 0.6 * z_cap[m]
            log_cap[m] = np.clip(math.log(med) + sd * z, math.log(lo), math.log(hi))

    # ---- trading window of each symbol, in `days` ------------------------------------------------------
    first_ix = np.zeros(n, dtype=np.int64)
    last_ix = np.full(n, nd - 1, dtype=np.int64)
    ever: np.ndarray = np.asarray(listed.any(axis=0))
    for i in range(n):
        if not ever[i]:
            first_ix[i], last_ix[i] = nd, -1
            continue
        t_first = int(np.argmax(listed[:, i]))
        t_last = n_t - 1 - int(np.argmax(listed[::-1, i]))
        if t_first > 0:  # lists during the cycle that ends at grid[t_first]
            window = business_days(grid[t_first - 1] + timedelta(days=1), grid[t_first])
            first_ix[i] = np.searchsorted(day_ord, window[int(u_first[i] * len(window))].toordinal())
        if t_last < t_end:  # reported on grid[t_last], gone before the next settlement date
            window = business_days(grid[t_last], grid[t_last + 1] - timedelta(days=1))
            last_ix[i] = (
                np.searchsorted(day_ord, window[int(u_last[i] * len(window))].toordinal(), "right") - 1
            )
    anchor_ix = int(np.searchsorted(day_ord, grid_ord[t_end], "right")) - 1

    # split factors (cumulative since forever) on each day, shares on each day, report period of each day
    split_cum = np.ones((nd, n))
    for sym, k, day in splits:
        split_cum[day_ord >= day.toordinal(), sym] *= k
    shares = shares_on(days)
    period = np.minimum(np.searchsorted(grid_ord, day_ord, "left"), t_end)
    adv = adv.astype(float)
    for i in np.nonzero(ever & ~listed[t_end])[0].tolist():  # delisted: trades on after its last report
        t_last = n_t - 1 - int(np.argmax(listed[::-1, i]))
        adv[t_last + 1 :, i] = adv[t_last, i]
    turnover = adv[period] / np.maximum(shares_on(grid)[period], 1.0)
    base_volume = turnover * shares

    years = range(days[0].year, days[-1].year + 1)
    iso = [d.isoformat() for d in days]
    pos = {d: k for k, d in enumerate(days)}
    lo_px, hi_px = _STOCK_PRICE_CLIP
    written: list[Path] = []
    pending: list[tuple[Path, list[str]]] = []
    for i in range(n):
        a, b = int(first_ix[i]), int(last_ix[i])
        if a > b:
            continue
        r = beta[i] * r_m[etf[i]] + idio[i] * rng.standard_normal(nd)
        jump = rng.random(nd) < 4.0 / 252.0  # earnings days
        r += jump * rng.standard_normal(nd) * 2.5 * idio[i]
        ex_ix: list[int] = []
        if div_yield[i] > 0:
            for y in years:
                for m in range(int(div_q[i]) + 1, 13, 3):
                    ex = business_day_on_or_after(date(y, m, int(div_dom[i])))
                    if ex in pos and pos[ex] > 0:
                        ex_ix.append(pos[ex])
            r[ex_ix] += math.log(1.0 - div_yield[i] / 4.0)
        r[0] = 0.0
        cum = np.cumsum(r)
        k_anchor = min(anchor_ix, b)
        # raw price on the anchor day = cap / shares; everything in "raw units of the anchor day"
        p_anchor = math.exp(log_cap[i]) / shares[k_anchor, i]
        p_anchor = min(max(p_anchor, lo_px), hi_px)
        econ = np.exp(math.log(p_anchor) + cum - cum[k_anchor])  # split-free, in anchor-day share units
        to_raw = split_cum[k_anchor, i] / split_cum[:, i]  # later splits make earlier raw prices higher
        raw = econ[a : b + 1] * to_raw[a : b + 1]
        split_ix = np.nonzero(np.diff(split_cum[a : b + 1, i]) > 0)[0]
        scale = 1.0
        if len(split_ix):  # companies split expensive shares: at least $100 the day before the split
            scale = max(scale, 100.0 / float(raw[split_ix[0]]))
        scale = min(scale, _STOCK_PATH_CLIP[1] / float(raw.max()))
        scale = max(scale, _STOCK_PATH_CLIP[0] / float(raw.min()))
        econ *= scale
        s = sigma[i]
        gap = rng.standard_normal(nd) * 0.35 * s
        up = np.abs(rng.standard_normal(nd)) * 0.5 * s
        down = np.abs(rng.standard_normal(nd)) * 0.5 * s
        scatter = np.exp(rng.standard_normal(nd) * 0.4 - 0.08)
        trade_u = rng.random(nd)
        prev_econ = np.concatenate([[econ[0] * math.exp(-gap[0])], econ[:-1]])
        open_e = prev_econ * np.exp(gap)
        close_r = np.round(econ * to_raw, 2)
        open_r = np.round(open_e * to_raw, 2)
        high = np.maximum(
            np.round(np.maximum(open_e, econ) * np.exp(up) * to_raw, 2), np.maximum(open_r, close_r)
        )
        low = np.minimum(
            np.round(np.minimum(open_e, econ) * np.exp(-down) * to_raw, 2), np.minimum(open_r, close_r)
        )
        low = np.maximum(low, 0.01)
        ret = np.abs(np.diff(np.log(econ), prepend=math.log(econ[0])))
        volume = base_volume[:, i] * scatter * (1.0 + 15.0 * ret) / (1.0 + 12.0 * s)
        if is_illiquid[i]:
            traded = (base_volume[:, i] > 0) & (trade_u >= 0.4)
            volume = np.where(traded, volume / 0.6, 0.0)
        else:
            traded = base_volume[:, i] > 0
        volume = np.where(traded, np.maximum(np.round(volume / 100.0) * 100.0, 100.0), 0.0)
        if not traded.all():  # no trade: all four prices repeat the last close (the first close if none yet)
            last = np.maximum.accumulate(np.where(traded, np.arange(nd), -1))
            fill = np.where(last >= 0, close_r[np.maximum(last, 0)], close_r[0])
            open_r = np.where(traded, open_r, fill)
            high = np.where(traded, high, fill)
            low = np.where(traded, low, fill)
            close_r = np.where(traded, close_r, fill)
        # Adj Close: split-adjusted to the last day of the file, and back-adjusted for later dividends
        div_factor = np.ones(nd)
        if ex_ix:
            later = len(ex_ix) - np.searchsorted(np.array(sorted(ex_ix)), np.arange(nd), side="right")
            div_factor = (1.0 - div_yield[i] / 4.0) ** later
        adj = close_r * split_cum[:, i] / split_cum[b, i] * div_factor
        lines = [PRICE_HEADER]
        lines += [
            f"{d},{o:.2f},{h:.2f},{lw:.2f},{c:.2f},{ac:.6f},{v:.1f}"
            for d, o, h, lw, c, ac, v in zip(
                iso[a : b + 1],
                open_r[a : b + 1].tolist(),
                high[a : b + 1].tolist(),
                low[a : b + 1].tolist(),
                close_r[a : b + 1].tolist(),
                adj[a : b + 1].tolist(),
                volume[a : b + 1].tolist(),
                strict=True,
            )
        ]
        pending.append((out / f"{names[i]}.csv.gz", lines))
        if len(pending) >= 64:
            written += _write_gzip_many(pending)
            pending = []
    written += _write_gzip_many(pending)
    _remove_stale(out, "*.csv*", r"[^/]+\.csv(\.gz)?", {p.name for p in written})
    return written


# ---------------------------------------------------------------------------------------------------------
# Output helpers
# ---------------------------------------------------------------------------------------------------------


def _write_text(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(("\n".join(lines) + "\n").encode("ascii"))
    return path


def _gzip(data: bytes) -> bytes:
    """Deterministic gzip: no file name, time stamp 0 (the bytes still depend on the zlib version)."""
    return gzip.compress(data, compresslevel=9, mtime=0)


def _write_gzip_many(files: list[tuple[Path, list[str]]]) -> list[Path]:
    """Like :func:`_write_text`, gzip-compressed; in threads (zlib releases the GIL), same bytes as serial."""
    data = [("\n".join(lines) + "\n").encode("ascii") for _, lines in files]
    if len(data) > 1:
        with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
            packed = list(pool.map(_gzip, data))
    else:
        packed = [_gzip(d) for d in data]
    for (path, _), raw in zip(files, packed, strict=True):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(raw)
    return [path for path, _ in files]


def _remove_stale(folder: Path, pattern: str, name_re: str, keep: set[str]) -> None:
    """Delete files in ``folder`` matching ``pattern`` and ``name_re`` that this run did not write."""
    if folder.is_dir():
        for stale in sorted(folder.glob(pattern)):
            if stale.name not in keep and stale.is_file() and re.fullmatch(name_re, stale.name):
                stale.unlink()


def _evolve(
    rng: np.random.Generator, initial: np.ndarray, pool: np.ndarray, k: int, n_changes: int, keep: np.ndarray
) -> list[np.ndarray]:
    """Membership snapshots: each change drops k members (never those in ``keep``) and adds k from the pool.

    Dropped members never come back; the pool is consumed in random order.
    """
    current = np.sort(initial)
    available = np.sort(np.setdiff1d(pool, current))
    snaps = [current]
    for _ in range(n_changes):
        droppable = np.setdiff1d(current, keep)
        n_move = min(k, len(droppable), len(available))
        if n_move:
            drops = rng.choice(droppable, size=n_move, replace=False)
            adds = rng.choice(available, size=n_move, replace=False)
            available = np.setdiff1d(available, adds)
            current = np.sort(np.concatenate([np.setdiff1d(current, drops), adds]))
        snaps.append(current)
    return snaps


def _fmt2(x: np.ndarray) -> list[str]:
    """Two-decimal strings without '-0.00'."""
    return [f"{v:.2f}" for v in (np.round(x, 2) + 0.0).tolist()]


# ---------------------------------------------------------------------------------------------------------
# The generator
# ---------------------------------------------------------------------------------------------------------


def generate(  # noqa: PLR0915 (over 60 statements: to split, issue 11)
    out_dir: Path,
    *,
    seed: int = DEFAULT_SEED,
    start: date = DEFAULT_START,
    end: date = DEFAULT_END,
    n_rut: int = DEFAULT_N_RUT,
    n_ndx: int = DEFAULT_N_NDX,
    n_spx: int = DEFAULT_N_SPX,
    n_other: int = DEFAULT_N_OTHER,
    price_start: date | None = None,
    price_end: date | None = None,
    prices: bool = True,
    stock_prices: bool = True,
    stock_price_start: date | None = None,
) -> list[Path]:
    """Write the synthetic data set under ``out_dir`` and return the written files, sorted.

    ``start``/``end`` bound the FINRA settlement dates. Prices cover ``price_start`` (default: 1 January of
    the year before ``start``) through ``price_end`` (default: ``end`` + 21 days); membership snapshots run
    from the year before ``start`` through ``end``. Stock prices (``stock_prices``; only with ``prices``) cover
    ``stock_price_start`` (default: 1 July two years before ``end``) through ``price_end``. Stale
    ``shrt*.csv``/``shrt*.csv.gz`` files in ``out_dir/short_interest`` and ``*.csv``/``*.csv.gz`` files in
    ``out_dir/prices/stocks`` that this run did not write are removed, so those folders mirror one run
    exactly; nothing else in ``out_dir`` is touched.
    """
    out_dir = Path(out_dir)
    rng = np.random.default_rng(seed)
    all_dates = settlement_dates(start - timedelta(days=40), end)
    dates = [d for d in all_dates if d >= start]
    if not dates:
        raise ValueError(f"no settlement date between {start} and {end}")
    grid = [d for d in all_dates if d < start][-1:] + dates  # one extra report before start: first 'previous'
    off = len(grid) - len(dates)
    n_t = len(grid)
    t_end = n_t - 1
    years = list(range(start.year - 1, end.year + 1))
    rut_asof = [d for d in (business_day_on_or_before(date(y, 6, 30)) for y in years) if d <= end]
    big_asof = [d for d in (business_day_on_or_after(date(y, 1, 1)) for y in years) if d <= end]

    # ---- roles and membership ------------------------------------------------------------------------
    n_changes_rut = max(len(rut_asof) - 1, 0)
    n_changes_big = max(len(big_asof) - 1, 0)
    k_rut = max(2, round(0.02 * n_rut)) if n_rut else 0
    k_spx = max(2, round(0.02 * n_spx)) if n_spx else 0
    k_ndx = max(2, round(0.02 * n_ndx)) if n_ndx else 0
    n_both = min(round(0.75 * n_ndx), n_spx)
    n_ndx_only = n_ndx - n_both
    n_spx_only = n_spx - n_both
    n_res_large = (k_spx + k_ndx) * n_changes_big
    roles = (
        ["both"] * n_both
        + ["ndx"] * n_ndx_only
        + ["spx"] * n_spx_only
        + ["ndx" if j % 2 == 0 else "spx" for j in range(n_res_large)]
        + ["small"] * (n_rut + k_rut * n_changes_rut)
        + ["other"] * n_other
    )
    # original positions: large block [0, n_large), small block, other block
    n_large = n_both + n_ndx_only + n_spx_only + n_res_large
    n_small = n_rut + k_rut * n_changes_rut
    class_shares: dict[int, str] = {}
    if n_rut:
        class_shares[n_large] = "A"  # first small cap: a RUT member that stays (MOG.A-style)
    if n_spx_only:
        class_shares[n_both + n_ndx_only] = "B"  # first SPX-only name (BRK.B-style)
    uni = _Universe(rng, roles, class_shares)
    n = uni.n
    inv = np.empty(n, dtype=np.int64)
    inv[uni.order] = np.arange(n)  # original position -> sorted position
    role = np.array(uni.role)
    group = np.where(
        np.isin(role, ["both", "ndx", "spx"]),
        GROUP_LARGE,
        np.where(role == "small", GROUP_SMALL, GROUP_OTHER),
    )

    orig = np.arange(n)
    keep = inv[np.array(sorted(class_shares), dtype=np.int64)]
    spx_initial = inv[
        np.concatenate([orig[:n_both], orig[n_both + n_ndx_only : n_both + n_ndx_only + n_spx_only]])
    ]
    ndx_initial = inv[orig[: n_both + n_ndx_only]]
    large_sorted = inv[orig[:n_large]]
    spx_snaps = _evolve(rng, spx_initial, large_sorted, k_spx, n_changes_big, keep)
    ndx_pool = large_sorted[uni.nasdaq[large_sorted]]
    ndx_snaps = _evolve(rng, ndx_initial, ndx_pool, k_ndx, n_changes_big, keep)
    small_sorted = inv[orig[n_large : n_large + n_small]]
    rut_snaps = _evolve(rng, inv[orig[n_large : n_large + n_rut]], small_sorted, k_rut, n_changes_rut, keep)
    memberships = {"RUT": (rut_asof, rut_snaps), "NDX": (big_asof, ndx_snaps), "SPX": (big_asof, spx_snaps)}

    def members_at(index: str, d: date) -> np.ndarray:
        asof, snaps = memberships[index]
        j = max((k for k, a in enumerate(asof) if a <= d), default=0)
        return snaps[j] if snaps else np.zeros(0, dtype=np.int64)

    # ---- listing, shares outstanding, splits -------------------------------------------------------------
    listed = np.ones((n_t, n), dtype=bool)
    others = np.nonzero(group == GROUP_OTHER)[0]
    u = rng.random(len(others))
    ipo_at = rng.integers(1, max(t_end, 2), size=len(others))
    gone_at = rng.integers(1, max(t_end, 2), size=len(others))
    tix = np.arange(n_t)[:, None]
    ipo = others[u < 0.10]
    listed[:, ipo] = tix >= ipo_at[u < 0.10][None, :]
    gone = others[(u >= 0.10) & (u < 0.15)]
    listed[:, gone] = tix <= gone_at[(u >= 0.10) & (u < 0.15)][None, :]

    med_shares = np.select([group == GROUP_LARGE, group == GROUP_SMALL], [380e6, 42e6], 25e6)
    sd_shares = np.select([group == GROUP_LARGE, group == GROUP_SMALL], [0.8, 0.75], 1.1)
    shares0 = med_shares * np.exp(rng.standard_normal(n) * sd_shares)
    shares0 = np.select(
        [group == GROUP_LARGE, group == GROUP_SMALL],
        [np.clip(shares0, 70e6, 6.5e9), np.clip(shares0, 6e6, 300e6)],
        np.clip(shares0, 1e6, 600e6),
    )
    growth = np.where(group == GROUP_LARGE, rng.normal(-0.012, 0.012, n), rng.normal(0.015, 0.03, n))
    float_ratio = np.where(group == GROUP_LARGE, rng.uniform(0.86, 0.995, n), rng.uniform(0.78, 0.98, n))
    ref = grid[0]

    n_years = max((end - start).days / 365.25, 0.5)
    large_ix = np.nonzero(group == GROUP_LARGE)[0]
    n_splits = (
        min(len(large_ix), max(1, round(0.012 * len(large_ix) * n_years)))
        if len(large_ix) and t_end >= 4
        else 0
    )
    split_syms = (
        rng.choice(large_ix, size=n_splits, replace=False) if n_splits else np.zeros(0, dtype=np.int64)
    )
    split_t = rng.integers(1, max(t_end - 2, 2), size=n_splits)
    split_k = np.where(rng.random(n_splits) < 0.7, 2, 3)
    split_day: list[date] = []
    for j in split_t.tolist():  # a business day in (grid[j-1], grid[j]]
        window = business_days(grid[j - 1] + timedelta(days=1), grid[j])
        split_day.append(window[int(rng.integers(0, len(window)))])

    def shares_on(days: Sequence[date]) -> np.ndarray:
        s = shares0[None, :] * np.exp(growth[None, :] * _years(days, ref)[:, None])
        for sym, k, day in zip(split_syms.tolist(), split_k.tolist(), split_day, strict=True):
            s[[i for i, d in enumerate(days) if d >= day], sym] *= k
        return s

    shares_t = shares_on(grid)

    # membership snapshot shares (integers, as written) and the denominator at the last date
    snap_shares = {}
    for index, (asof, _) in memberships.items():
        snap_shares[index] = np.rint(shares_on(asof)) if asof else np.zeros((0, n))

    def denominators(index: str, d: date) -> tuple[np.ndarray, np.ndarray]:
        asof, snaps = memberships[index]
        j = max((k for k, a in enumerate(asof) if a <= d), default=0)
        return snaps[j], snap_shares[index][j, snaps[j]]

    # ---- short interest -------------------------------------------------------------------------------
    pct = np.select(
        [group == GROUP_SMALL, role == "ndx", group == GROUP_LARGE],
        [
            0.055 * np.exp(rng.standard_normal(n) * 0.72),
            0.025 * np.exp(rng.standard_normal(n) * 0.55),
            0.024 * np.exp(rng.standard_normal(n) * 0.5),
        ],
        0.02 * np.exp(rng.standard_normal(n) * 1.1),
    )
    pct = np.select(
        [group == GROUP_SMALL, group == GROUP_LARGE],
        [np.clip(pct, 0.004, 0.33), np.clip(pct, 0.004, 0.12)],
        np.clip(pct, 1e-4, 0.4),
    )

    def median_at_end(index: str, values: np.ndarray) -> float:
        mem, den = denominators(index, grid[t_end])
        return float(np.median(values[mem] * shares_t[t_end, mem] / den)) if len(mem) else 0.0

    # last-date medians: RUT 5.5% (all small caps scaled), NDX 2.5% (Nasdaq large caps scaled); the
    # SPX median (2.4%) is set per date below by scaling the SPX-only names
    for index, target, scaled in (
        ("RUT", 0.055, group == GROUP_SMALL),
        ("NDX", 0.025, np.isin(role, ["both", "ndx"])),
    ):
        med = median_at_end(index, pct)
        if med > 0:
            pct = np.where(scaled, pct * target / med, pct)

    tau = np.array([(grid[t_end] - d).days / 365.25 for d in grid])  # years before the last date
    trend = np.zeros((n_t, n))
    rut_g = _rut_story(rng, grid)
    # S&P 500 median SI %: a climb to a multi-year high on the last date (enforced below by calibration)
    f_spx = (
        -0.085 * np.minimum(tau, 4.5)
        + 0.12 * np.exp(-(((tau - 3.9) / 0.35) ** 2))
        + 0.10 * np.exp(-(((tau - 6.6) / 0.15) ** 2))
        + _ar_backward(rng, n_t, 1, 0.9, 0.02)[:, 0]
    )
    f_spx[:t_end] = np.minimum(f_spx[:t_end], -0.02 - 0.02 * np.minimum(tau[:t_end], 1.0))
    f_ndx = 0.15 * np.sin(2 * math.pi * tau / 3.2) - 0.025 * tau + _ar_backward(rng, n_t, 1, 0.9, 0.03)[:, 0]
    f_other = _ar_backward(rng, n_t, 1, 0.97, 0.04)[:, 0]
    trend[:, group == GROUP_SMALL] = rut_g[:, None]
    trend[:, role == "spx"] = f_spx[:, None]
    trend[:, role == "ndx"] = f_ndx[:, None]
    trend[:, role == "both"] = f_ndx[:, None]
    trend[:, group == GROUP_OTHER] = f_other[:, None]
    idio_sigma = np.select([group == GROUP_SMALL, group == GROUP_LARGE], [0.10, 0.07], 0.16)
    idio = _ar_backward(rng, n_t, n, 0.96, idio_sigma[None, :])
    si = pct[None, :] * shares_t * np.exp(trend + idio)
    in_index = group != GROUP_OTHER
    si[:, in_index] = np.clip(si[:, in_index], 50e3, 200e6)
    si[:, ~in_index] = np.clip(si[:, ~in_index], 0.0, 200e6)

    # calibrate the S&P 500 median SI % of shares outstanding to 2.4% x exp(f_spx) by scaling the
    # SPX-only names (the Nasdaq names shared with NDX keep their own path)
    scalable = role == "spx"
    if n_spx_only:
        for t, d in enumerate(grid):
            mem, den = denominators("SPX", d)
            ratio = si[t, mem] / den
            movable = scalable[mem]
            goal = 0.024 * math.exp(f_spx[t])
            lo, hi = -4.0, 4.0
            for _ in range(45):
                mid = 0.5 * (lo + hi)
                if np.median(np.where(movable, ratio * math.exp(mid), ratio)) < goal:
                    lo = mid
                else:
                    hi = mid
            si[t, scalable] *= math.exp(0.5 * (lo + hi))

    # calibrate Russell 2000 aggregate SI (over members as of each date) to the story exactly
    rut_members = [members_at("RUT", d) for d in grid]
    agg = np.array([si[t, m].sum() for t, m in enumerate(rut_members)])
    if n_rut and agg[t_end] > 0:
        target = agg[t_end] * np.exp(rut_g)
        si[:, group == GROUP_SMALL] *= (target / agg)[:, None]

    # liquidity: turnover (share of shares outstanding traded per day, 20-day average)
    illiquid = others[rng.random(len(others)) < 0.10]
    turn_med = np.select([group == GROUP_LARGE, group == GROUP_SMALL], [0.009, 0.011], 0.004)
    turnover = turn_med * np.exp(rng.standard_normal(n) * 0.45)
    stress = _bumps(grid, [(c, 0.5 * h, w) for c, h, w in _MARKET_STRESS])
    adv = turnover[None, :] * shares_t * np.exp(_ar_backward(rng, n_t, n, 0.9, 0.12) + stress[:, None])
    adv[:, in_index] = np.clip(adv[:, in_index], 100e3, 80e6)
    adv[:, ~in_index] = np.clip(adv[:, ~in_index], 1e3, 80e6)
    if len(illiquid):
        adv[:, illiquid] = 3000.0 * np.exp(rng.standard_normal((n_t, len(illiquid))))
        adv[:, illiquid] *= rng.random((n_t, len(illiquid))) >= 0.4  # no volume at all on ~40% of dates
        cap = 40e3 * np.exp(rng.standard_normal(len(illiquid)))
        si[:, illiquid] = cap[None, :] * np.exp(_ar_backward(rng, n_t, len(illiquid), 0.9, 0.25))
        si[:, illiquid] *= rng.random((n_t, len(illiquid))) >= 0.2
    true_si = np.rint(si).astype(np.int64)
    adv_i = np.rint(adv).astype(np.int64)
    true_si[~listed] = 0
    adv_i[~listed] = 0

    # revisions: file j-1 printed a wrong figure; file j carries 'R' and the corrected previous value
    printed = true_si.copy()
    revised = np.zeros((n_t, n), dtype=bool)
    n_rev = max(1, round(len(dates) / 24 * 4 * n / 500)) if len(dates) >= 3 else 0
    rev_t = rng.integers(off + 1, max(t_end, off + 2), size=n_rev)
    rev_s = rng.integers(0, n, size=n_rev)
    rev_f = 1.0 + np.where(rng.random(n_rev) < 0.5, -1.0, 1.0) * rng.uniform(0.03, 0.25, n_rev)
    split_flag = np.zeros((n_t, n), dtype=bool)
    split_flag[split_t, split_syms] = True
    for j, s, f in zip(rev_t.tolist(), rev_s.tolist(), rev_f.tolist(), strict=True):
        if (
            j < t_end
            and listed[j - 1, s]
            and listed[j, s]
            and true_si[j - 1, s] > 0
            and not split_flag[j, s]
            and not revised[j, s]
        ):
            printed[j - 1, s] = int(round(true_si[j - 1, s] * f))
            revised[j, s] = True
    prev = np.zeros_like(printed)
    prev[1:] = np.where(listed[:-1], printed[:-1], 0)
    prev[revised] = np.roll(true_si, 1, axis=0)[revised]

    # ---- write FINRA files ----------------------------------------------------------------------------
    si_dir = out_dir / "short_interest"
    written: list[Path] = []
    pending: list[tuple[Path, list[str]]] = []
    prefix = [
        f"{s}|{nm}|{ex}|{mc}|"
        for s, nm, ex, mc in zip(uni.symbol, uni.name, uni.exch, uni.market_class, strict=True)
    ]
    for t in range(off, n_t):
        d = grid[t]
        ix = np.nonzero(listed[t])[0]
        cur = printed[t, ix]
        prv = prev[t, ix]
        av = adv_i[t, ix]
        with np.errstate(divide="ignore", invalid="ignore"):
            chg_pct = np.where(prv > 0, 100.0 * (cur / np.maximum(prv, 1) - 1.0), 0.0)
            dtc = np.maximum(1.0, cur / np.maximum(av, 1))
        dtc_s = _fmt2(dtc)
        pct_s = _fmt2(chg_pct)
        sflag = np.where(split_flag[t, ix], "S", "").tolist()
        rflag = np.where(revised[t, ix], "R", "").tolist()
        ym = d.strftime("%Y%m%d")
        iso = d.isoformat()
        lines = [FINRA_HEADER]
        lines += [
            f"{ym}|{prefix[i]}{c}|{p}|{sf}|{a}|{ds if a else ''}|{rf}|{ps}|{c - p}|{iso}"
            for i, c, p, sf, a, ds, rf, ps in zip(
                ix.tolist(), cur.tolist(), prv.tolist(), sflag, av.tolist(), dtc_s, rflag, pct_s, strict=True
            )
        ]
        pending.append((si_dir / f"shrt{ym}.csv.gz", lines))
    written += _write_gzip_many(pending)
    # both spellings: older runs wrote plain shrtYYYYMMDD.csv
    _remove_stale(si_dir, "shrt*", r"shrt\d{8}\.csv(\.gz)?", {p.name for p in written})

    # ---- write membership files -----------------------------------------------------------------------
    price0 = np.where(group == GROUP_LARGE, 120.0, 24.0) * np.exp(rng.standard_normal(n) * 0.8)
    price_drift = np.where(group == GROUP_LARGE, rng.normal(0.09, 0.12, n), rng.normal(0.04, 0.2, n))
    for index in ("RUT", "NDX", "SPX"):
        asof, snaps = memberships[index]
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(MEMBERS_COLUMNS)
        for j, (a, mem) in enumerate(zip(asof, snaps, strict=True)):
            so = snap_shares[index][j, mem]
            fl = np.minimum(np.rint(so * float_ratio[mem]), so)
            split_adj = np.ones(len(mem))
            for sym, k, day in zip(split_syms.tolist(), split_k.tolist(), split_day, strict=True):
                if day <= a:
                    split_adj[mem == sym] *= k
            px = price0[mem] * np.exp(price_drift[mem] * (a - ref).days / 365.25) / split_adj
            cap = fl * px
            weight = 100.0 * cap / cap.sum()
            rows = sorted(
                zip(
                    [uni.member_symbol[i] for i in mem.tolist()],
                    mem.tolist(),
                    so.tolist(),
                    fl.tolist(),
                    weight.tolist(),
                    strict=True,
                )
            )
            for msym, i, s_o, s_f, wt in rows:
                w.writerow(
                    [
                        index,
                        a.isoformat(),
                        msym,
                        uni.name[i],
                        uni.sector[i],
                        f"{s_o:.0f}",
                        f"{s_f:.0f}",
                        f"{wt:.4f}",
                    ]
                )
        path = out_dir / "members" / f"{index}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(buf.getvalue().encode("ascii"))
        written.append(path)

    # ---- prices -----------------------------------------------------------------------------------------
    if prices:
        p_start = price_start or date(start.year - 1, 1, 1)
        p_end = price_end or end + timedelta(days=21)
        etf_written, price_days, etf_close = _write_prices(out_dir / "prices", rng, p_start, p_end)
        written += etf_written
        if stock_prices:
            # the membership files' invented market caps on the last settlement date rank the stocks
            last = grid[t_end]
            split_adj = np.ones(n)
            for sym, k, day in zip(split_syms.tolist(), split_k.tolist(), split_day, strict=True):
                if day <= last:
                    split_adj[sym] *= k
            log_cap_hint = (
                np.log(shares_on([last])[0])
                + np.log(price0)
                + price_drift * (last - ref).days / 365.25
                - np.log(split_adj)
            )
            # each stock follows the ETF of the index it belongs to on the last date, else the one of its
            # group; the ETF paths are independent of each other, so members of both NDX and SPX follow
            # an equal blend of QQQ and SPY
            etf_of = [_STOCK_ETF[r] for r in role.tolist()]
            for index in ("SPX", "NDX", "RUT"):
                for i in members_at(index, last).tolist():
                    etf_of[i] = _INDEX_ETF[index]
            for i in np.intersect1d(members_at("NDX", last), members_at("SPX", last)).tolist():
                etf_of[i] = "QQQ+SPY"
            written += _write_stock_prices(
                out_dir / "prices" / "stocks",
                rng,
                days_all=price_days,
                etf_close=etf_close,
                stock_start=stock_price_start or date(end.year - 2, 7, 1),
                grid=grid,
                names=[yahoo_symbol(s) for s in uni.member_symbol],
                etf=etf_of,
                group=group,
                listed=listed,
                adv=adv_i,
                shares_on=shares_on,
                splits=list(zip(split_syms.tolist(), split_k.tolist(), split_day, strict=True)),
                illiquid=illiquid,
                log_cap_hint=log_cap_hint,
            )
        # Flows between the reports: the last SHORT_VOLUME_DAYS sessions of the price files. Their own
        # random streams, so adding them changed none of the bytes above.
        flow_days = price_days[-SHORT_VOLUME_DAYS:]
        last = grid[t_end]
        held = sorted({i for index in ("SPX", "NDX", "RUT") for i in members_at(index, last).tolist()})
        written += _write_short_volume(
            out_dir / "short_volume",
            np.random.default_rng([seed, 15, 1]),
            flow_days,
            [uni.member_symbol[i].replace(".", "/") for i in held],  # Reg SHO spells classes BRK/B
            adv_i[t_end, held].astype(np.float64),
        )
        written += _write_fund_assets(
            out_dir / "funds", np.random.default_rng([seed, 15, 2]), price_days, etf_close, flow_days
        )
    return sorted(written)


SHORT_VOLUME_DAYS = 45
# Reg SHO files are named by our own rule (the ingest reads the facility from it), behind a prefix that
# says the files are this generator's.
SAMPLE_PREFIX = "sample-"
# What an earlier or this run wrote: FINRA-style names (with or without the prefix) and ours.
_SHORT_VOLUME_NAMES = (
    r"(sample-)?([A-Z]{4}shvol\d{8}|(?:short-volume|sv)-[A-Z]{4}-\d{4}-\d{2}-\d{2})\.txt(\.gz)?"
)
_FACILITY_SHARE = {"FNQC": 0.08, "FNSQ": 0.57, "FNYX": 0.35}  # of a day's off-exchange volume
_FUND_ASSETS = {  # net assets on the first flow day, dollars (orders of magnitude of 2025)
    "TQQQ": 22e9, "SQQQ": 3.2e9, "QLD": 6.5e9, "QID": 0.3e9, "UPRO": 3.6e9, "SPXU": 0.6e9,
    "SPXL": 5.2e9, "SPXS": 0.5e9, "SSO": 5.4e9, "SDS": 0.5e9, "TNA": 2.1e9, "TZA": 0.6e9,
    "UWM": 0.3e9, "TWM": 0.05e9,
}  # fmt: skip


def _regsho_file(path: Path, rows: list[str]) -> tuple[Path, bytes]:
    """FINRA's layout: the header, the rows, the record count; CRLF line ends."""
    lines = ["Date|Symbol|ShortVolume|ShortExemptVolume|TotalVolume|Market", *rows, str(len(rows))]
    return path, ("\r\n".join(lines) + "\r\n").encode("ascii")


def _short_volume_path(out: Path, facility: str, day: date) -> Path:
    """Named by the ingest's own rule, so the ingest reads the facility back from the name."""
    from positioning_cli.ingest.short_volume import own_file_name  # pyarrow: only when writing these

    return out / f"{SAMPLE_PREFIX}{own_file_name(facility, day)}.txt.gz"


def _write_short_volume(
    out: Path, rng: np.random.Generator, days: list[date], symbols: list[str], adv: np.ndarray
) -> list[Path]:
    """Synthetic daily short-sale volume in FINRA's Reg SHO layout for ``symbols``: the consolidated
    CNMS file each day, except the first day, which has the facility files (FNQC, FNSQ, FNYX, and an
    empty FNRA) instead; every number drawn from ``rng`` (the seed), none taken from FINRA.

    Off-exchange volume is ~45% of a stock's volume; the short share of it sits near 45% and
    climbs over the last two weeks (short pressure building after the last report)."""
    n = len(symbols)
    base = rng.uniform(0.36, 0.52, n)
    markets = np.array(["B,Q,N", "Q,N", "B,Q,N", "Q"])[rng.integers(0, 4, n)]
    files: list[tuple[Path, bytes]] = []
    for k, day in enumerate(days):
        ramp = 0.06 * max(0.0, (k - (len(days) - 15)) / 14)
        ratio = np.clip(base + ramp + rng.normal(0.0, 0.035, n), 0.12, 0.88)
        total = np.rint(np.maximum(adv, 1000.0) * 0.45 * rng.lognormal(0.0, 0.3, n))
        short = np.rint(total * ratio)
        exempt = np.rint(short * rng.uniform(0.0, 0.02, n))
        stamp = day.strftime("%Y%m%d")
        if k > 0:
            rows = [
                f"{stamp}|{sym}|{s:.0f}|{e:.0f}|{t:.0f}|{m}"
                for sym, s, e, t, m in zip(symbols, short, exempt, total, markets, strict=True)
            ]
            files.append(_regsho_file(_short_volume_path(out, "CNMS", day), rows))
            continue
        for facility, share in _FACILITY_SHARE.items():
            f_total = np.rint(total * share)
            f_short = np.minimum(np.rint(short * share), f_total)
            rows = [
                f"{stamp}|{sym}|{s:.0f}|0|{t:.0f}|{facility[2]}"
                for sym, s, t in zip(symbols, f_short, f_total, strict=True)
                if t > 0
            ]
            files.append(_regsho_file(_short_volume_path(out, facility, day), rows))
        files.append(_regsho_file(_short_volume_path(out, "FNRA", day), []))
    _remove_stale(out, "*", _SHORT_VOLUME_NAMES, {p.name for p, _ in files})
    for path, raw in files:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(_gzip(raw))
    return [p for p, _ in files]


def _write_fund_assets(
    out: Path,
    rng: np.random.Generator,
    price_days: list[date],
    etf_close: dict[str, np.ndarray],
    days: list[date],
) -> list[Path]:
    """Net assets per leveraged fund and day (``fund,date,aum``): each fund's assets move with
    L times its index ETF's return, plus small creations and redemptions."""
    from positioning_cli.letf import DEFAULT_FUNDS

    at = {d: i for i, d in enumerate(price_days)}
    lines = ["fund,date,aum"]
    for fund in DEFAULT_FUNDS:
        close = etf_close[_INDEX_ETF[fund.index]]
        assets = _FUND_ASSETS[fund.fund]
        for k, day in enumerate(days):
            if k:
                r = close[at[day]] / close[at[days[k - 1]]] - 1.0
                assets *= (1.0 + fund.leverage * r) * (1.0 + rng.normal(0.0, 0.004))
            lines.append(f"{fund.fund},{day.isoformat()},{assets:.0f}")
    return _write_gzip_many([(out / "letf_assets.csv.gz", lines)])


def _parse_date(text: str) -> date:
    return date.fromisoformat(text)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m positioning_cli.sample_data",
        description="Write the deterministic synthetic sample data set (FINRA short interest, membership, prices).",
    )
    parser.add_argument("out_dir", type=Path, help="output directory (e.g. sample_data)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument(
        "--start", type=_parse_date, default=DEFAULT_START, help="first settlement date bound"
    )
    parser.add_argument("--end", type=_parse_date, default=DEFAULT_END, help="last settlement date bound")
    parser.add_argument("--n-rut", type=int, default=DEFAULT_N_RUT, help="Russell 2000 members per snapshot")
    parser.add_argument("--n-ndx", type=int, default=DEFAULT_N_NDX, help="Nasdaq-100 members per snapshot")
    parser.add_argument("--n-spx", type=int, default=DEFAULT_N_SPX, help="S&P 500 members per snapshot")
    parser.add_argument("--n-other", type=int, default=DEFAULT_N_OTHER, help="non-index symbols")
    parser.add_argument(
        "--price-start", type=_parse_date, default=None, help="default: Jan 1 of start year - 1"
    )
    parser.add_argument("--price-end", type=_parse_date, default=None, help="default: end + 21 days")
    parser.add_argument("--no-prices", action="store_true", help="skip all price files")
    parser.add_argument(
        "--stock-price-start", type=_parse_date, default=None, help="default: 1 July two years before --end"
    )
    parser.add_argument("--no-stock-prices", action="store_true", help="skip prices/stocks/")
    args = parser.parse_args(argv)
    paths = generate(
        args.out_dir,
        seed=args.seed,
        start=args.start,
        end=args.end,
        n_rut=args.n_rut,
        n_ndx=args.n_ndx,
        n_spx=args.n_spx,
        n_other=args.n_other,
        price_start=args.price_start,
        price_end=args.price_end,
        prices=not args.no_prices,
        stock_prices=not args.no_stock_prices,
        stock_price_start=args.stock_price_start,
    )
    print(f"wrote {len(paths)} files under {args.out_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
