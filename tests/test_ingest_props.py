"""Property tests: FINRA pipe round trip, and arbitrary bytes never escape as a non-InputError."""

from __future__ import annotations

import datetime
import gzip
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from positioning_cli.errors import InputError
from positioning_cli.ingest import KINDS, parse_file

HEADER = (
    "accountingYearMonthNumber|symbolCode|issueName|issuerServicesGroupExchangeCode|marketClassCode|"
    "currentShortPositionQuantity|previousShortPositionQuantity|stockSplitFlag|averageDailyVolumeQuantity|"
    "daysToCoverQuantity|revisionFlag|changePercent|changePreviousNumber|settlementDate"
)
SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

symbols = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=5)
# Issue names as FINRA writes them: no delimiter, quote or line break, no surrounding blanks.
names = st.text(
    alphabet=st.characters(
        codec="utf-8", exclude_characters='|"\r\n', exclude_categories=("Cc", "Cs", "Zs", "Zl", "Zp")
    ),
    min_size=1,
    max_size=20,
)
counts = st.integers(min_value=0, max_value=10**11)
row = st.fixed_dictionaries(
    {
        "issue_name": names,
        "market": st.sampled_from(["NNM", "NYSE", "ARCA", "U"]),
        "short_interest": counts,
        "previous_short_interest": st.none() | counts,
        "avg_daily_volume": st.none() | counts,
        "days_to_cover": st.none() | st.integers(min_value=100, max_value=99_000).map(lambda c: c / 100),
        "split_flag": st.booleans(),
        "revision_flag": st.booleans(),
        "float_style": st.booleans(),  # write counts as "123.0" like some exports
    }
)


@st.composite
def finra_tables(draw):
    date = draw(st.dates(min_value=datetime.date(2000, 1, 1), max_value=datetime.date.today()))
    syms = draw(st.lists(symbols, min_size=1, max_size=25, unique=True))
    rows = [dict(draw(row), symbol=s, settlement_date=date) for s in syms]
    eol = draw(st.sampled_from(["\n", "\r\n"]))
    final = draw(st.booleans())
    compress = draw(st.booleans())
    return rows, eol, final, compress


def fmt_count(value: int | None, float_style: bool) -> str:
    if value is None:
        return ""
    return f"{value}.0" if float_style else str(value)


def render(rows: list[dict]) -> list[str]:
    lines = [HEADER]
    for r in rows:
        fs = r["float_style"]
        lines.append(
            "|".join(
                [
                    r["settlement_date"].strftime("%Y%m"),
                    r["symbol"],
                    r["issue_name"],
                    "A",
                    r["market"],
                    fmt_count(r["short_interest"], fs),
                    fmt_count(r["previous_short_interest"], fs),
                    "S" if r["split_flag"] else "",
                    fmt_count(r["avg_daily_volume"], fs),
                    "" if r["days_to_cover"] is None else f"{r['days_to_cover']:.2f}",
                    "R" if r["revision_flag"] else "",
                    "0.0",
                    "0",
                    r["settlement_date"].isoformat(),
                ]
            )
        )
    return lines


def expected_dtc(r: dict) -> float | None:
    if r["days_to_cover"] is not None:
        return r["days_to_cover"]
    adv = r["avg_daily_volume"]
    # Same rounding as the parser (numpy's), so a half-way case cannot make the test flaky.
    return float(np.round(max(1.0, r["short_interest"] / adv), 2)) if adv else None


@SETTINGS
@given(finra_tables())
def test_finra_pipe_round_trip(case) -> None:
    rows, eol, final, compress = case
    data = (eol.join(render(rows)) + (eol if final else "")).encode()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "shrt.csv"
        path.write_bytes(gzip.compress(data) if compress else data)
        parsed = parse_file("short-interest", path)
    assert parsed.format == "finra-pipe"
    assert parsed.warnings == ()
    got = {r["symbol"]: r for r in parsed.table.to_pylist()}
    assert len(got) == len(rows)
    for r in rows:
        g = got[r["symbol"]]
        assert g["settlement_date"] == r["settlement_date"]
        assert g["short_interest"] == r["short_interest"]
        assert g["previous_short_interest"] == r["previous_short_interest"]
        assert g["avg_daily_volume"] == r["avg_daily_volume"]
        assert g["days_to_cover"] == expected_dtc(r)
        assert g["revision_flag"] == r["revision_flag"] and g["split_flag"] == r["split_flag"]
        assert g["issue_name"] == r["issue_name"] and g["market"] == r["market"]


VALID = (
    "\n".join(
        [HEADER, "20260814|AAPL|Apple Inc.|A|NNM|34636195|39059449||38275532|1.0||-11.32|-4423254|2026-08-14"]
    )
).encode()


@st.composite
def messy_bytes(draw):
    """Pure noise, or a valid file with a few bytes changed, inserted or cut off."""
    if draw(st.booleans()):
        return draw(st.binary(max_size=600))
    data = bytearray(VALID)
    for _ in range(draw(st.integers(1, 4))):
        pos = draw(st.integers(0, len(data) - 1))
        op = draw(st.sampled_from(["set", "insert", "cut"]))
        byte = draw(st.sampled_from(b'|,;\n\r"-.0x \x00\xff\xe9'))
        if op == "set":
            data[pos] = byte
        elif op == "insert":
            data.insert(pos, byte)
        else:
            del data[pos:]
            break
    return bytes(data)


@SETTINGS
@given(messy_bytes(), st.sampled_from(KINDS), st.booleans())
def test_arbitrary_bytes_parse_or_input_error(data: bytes, kind: str, compress: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "input.csv"
        path.write_bytes(gzip.compress(data) if compress else data)
        try:
            parsed = parse_file(kind, path)
        except InputError as exc:
            assert "\n" not in str(exc) and "input.csv" in str(exc)
        else:
            assert parsed.table.num_rows > 0
