"""Terminal manners: NO_COLOR, colour with a meaning, ASCII fallback, 80 columns, --columns/--wide,
and a progress bar that says what it waits for."""

from __future__ import annotations

import fcntl
import io
import json
import os
import re
from datetime import date
from pathlib import Path

import pytest

from positioning_cli import api, render
from positioning_cli.errors import BusyError, ExitCode
from positioning_cli.ingest_report import count_text
from tests.conftest import SAMPLE, run_cli


def _stock(rank: int, symbol: str, change: float, pct: float) -> dict[str, object]:
    return {
        "rank": rank,
        "prev_rank": None,
        "symbol": symbol,
        "si_pct_so": 5.0,
        "days_to_cover": 2.0,
        "si_change_last": change,
        "si_pct_1y": pct,
        "si_pct_1y_complete": True,
        "price_return_last": 0.0,
        "price_pct_1y": 50.0,
        "price_pct_1y_complete": True,
        "quadrant_key": "pressing_into_strength",
        "divergence_score": 70.0,
    }


RESULT = api.Result(
    "scan",
    date(2026, 10, 30),
    [_stock(1, "UPP", 0.171, 95.0), _stock(2, "DWN", -0.03, 5.0), _stock(3, "MID", 0.0, 50.0)],
    ["a warning"],
    extra={"ranked": 3, "excluded": {"count": 0, "rows": []}},
)


def _table(monkeypatch: pytest.MonkeyPatch, *, no_color: str | None, width: int = 100) -> str:
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.delenv("COLORTERM", raising=False)
    if no_color is None:
        monkeypatch.delenv("NO_COLOR", raising=False)
    else:
        monkeypatch.setenv("NO_COLOR", no_color)
    out, err = io.StringIO(), io.StringIO()
    render.emit(
        RESULT,
        "table",
        out,
        err,
        is_tty=True,
        keys=api.stock_keys(),
        table_renderer=render.stock_view,
        width=width,
    )
    return out.getvalue()


def test_no_color_emits_no_ansi_codes_at_all(monkeypatch: pytest.MonkeyPatch) -> None:
    assert "\x1b[" in _table(monkeypatch, no_color=None)  # a terminal: styled
    for value in ("1", "0", "true", "anything"):  # no-color.org: any non-empty value
        plain = _table(monkeypatch, no_color=value)
        assert "\x1b" not in plain, value
        assert "UPP" in plain and "+17.1%" in plain
    assert "\x1b[" in _table(monkeypatch, no_color="")  # empty means unset


def test_colour_carries_meaning(monkeypatch: pytest.MonkeyPatch) -> None:
    text = _table(monkeypatch, no_color=None)
    lines = {ln.split()[1]: ln for ln in text.splitlines() if ln[:1].isdigit()}

    def styled(code: str, cell: str, line: str) -> bool:
        return re.search(re.escape(f"\x1b[{code}m") + r" *" + re.escape(cell), line) is not None

    assert styled("32", "+17.1%", lines["UPP"]) and styled("31", "-3.0%", lines["DWN"])  # signs
    assert "+0.0%" in lines["MID"] and "\x1b[3" not in lines["MID"].split("+0.0%")[0][-12:]
    assert styled("1;35", "95", lines["UPP"])  # a percentile >= 90
    assert styled("1;36", "5", lines["DWN"])  # a percentile <= 10
    assert "\x1b[1;3" not in lines["MID"]  # 50 is not highlighted: colour only where it means something
    assert render.percentile_cell(90).style == render.HIGH_PCT_STYLE
    assert render.percentile_cell(10).style == render.LOW_PCT_STYLE
    assert not render.percentile_cell(89.9).style and not render.percentile_cell(10.1).style


def test_no_color_on_a_real_terminal(demo_store: Path) -> None:
    """End to end, on a pseudo-terminal: no escape code at all under NO_COLOR=1, some without."""
    import subprocess
    import sys

    def on_tty(env_extra: dict[str, str]) -> bytes:
        leader, follower = os.openpty()
        env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "COLUMNS")}
        env.update(TERM="xterm-256color", COLUMNS="100", **env_extra)
        cmd = [sys.executable, "-m", "positioning_cli", "--store", str(demo_store), "scan", "--by", "stock"]
        p = subprocess.Popen(cmd, stdout=follower, stderr=subprocess.DEVNULL, env=env)
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        p.wait(timeout=300)
        os.close(leader)
        return b"".join(chunks)

    assert b"\x1b[" in on_tty({})
    plain = on_tty({"NO_COLOR": "1"})
    assert b"Stocks" in plain and b"\x1b" not in plain


@pytest.mark.parametrize("encoding", ["latin-1", "ascii"])
@pytest.mark.parametrize(
    "args", [["scan"], ["summary", "--index", "RUT"], ["scan", "--by", "stock"], ["cot"]]
)
def test_non_utf8_stdout_falls_back_to_ascii(demo_store: Path, encoding: str, args: list[str]) -> None:
    import subprocess
    import sys

    def run(extra: dict[str, str]) -> subprocess.CompletedProcess[bytes]:
        env = {k: v for k, v in os.environ.items() if k not in ("POSITIONING_STORE", "PYTHONIOENCODING")}
        env.update(COLUMNS="80", NO_COLOR="1", **extra)
        cmd = [sys.executable, "-m", "positioning_cli", "--store", str(demo_store), *args, "-f", "table"]
        return subprocess.run(cmd, capture_output=True, env=env, timeout=300)

    p = run({"PYTHONIOENCODING": encoding})
    assert p.returncode == 0, p.stderr
    text = p.stdout.decode(encoding)  # every byte is in the terminal's encoding
    assert "?" not in text  # and every character used has a stand-in
    assert "—" in run({}).stdout.decode() and "—" not in text
    lines = text.splitlines()
    assert max(len(ln) for ln in lines) <= 80
    # the table stays aligned: each row is as wide as its header rule
    rule = next(i for i, ln in enumerate(lines) if ln.strip() and set(ln.strip()) <= {"-", " "})
    assert len(lines[rule + 1]) == len(lines[rule]), (lines[rule], lines[rule + 1])


TABLE_COMMANDS = [
    ["scan"],
    ["scan", "--by", "stock"],
    ["scan", "--by", "stock", "--top", "0"],
    ["scan", "--by", "sector"],
    ["summary"],
    ["cot"],
    ["history", "--index", "RUT"],
    ["nowcast"],
    ["store", "info"],
]


@pytest.mark.parametrize("args", TABLE_COMMANDS, ids=" ".join)
def test_every_table_fits_80_columns(demo_store: Path, args: list[str]) -> None:
    wide = run_cli(*args, "-f", "table", store=demo_store, env={"COLUMNS": "200"})
    for width in (80, 60, 45):
        r = run_cli(*args, "-f", "table", store=demo_store, env={"COLUMNS": str(width)})
        assert r.code == 0, r.err
        assert max(len(ln) for ln in r.out.splitlines()) <= width, (width, r.out)
        assert "…" not in r.out  # nothing is cut: whole columns go instead
        if width == 80 and "--top" not in args:  # at 80 the default tables show all their columns
            # (store info's list of recent ingests may give up its rows column to long file names)
            hidden = [ln for ln in r.out.splitlines() if ln.startswith("Hidden to fit")]
            assert hidden in (
                [],
                ["Hidden to fit 80 columns: rows (--wide shows every column, --columns chooses)."],
            )
            assert not hidden or args == ["store", "info"]
    assert "…" not in wide.out


def test_narrow_terminals_drop_lowest_priority_first(demo_store: Path) -> None:
    # Index, sector and name are extras shown when there is room, dropped silently: not in the note.
    priority = {c.key: c.priority for c in render.STOCK_COLUMNS if c.key not in render.STOCK_EXTRA_KEYS}
    header_of = {c.key: c.header for c in render.STOCK_COLUMNS}
    for width in (70, 60, 50, 40):
        r = run_cli("scan", "--by", "stock", "-f", "table", store=demo_store, env={"COLUMNS": str(width)})
        note = " ".join(r.out.split("Hidden to fit", 1)[1].split()) if "Hidden to fit" in r.out else ""
        hidden = [k for k in priority if k in note]
        shown = [k for k in priority if k not in hidden]
        assert hidden, width
        assert min(priority[k] for k in hidden) > max(priority[k] for k in shown), (width, hidden)
        header = next(ln for ln in r.out.splitlines() if " Symbol" in ln or ln.lstrip().startswith("#"))
        for k in shown:
            assert header_of[k] in header, (width, k, header)


def test_columns_and_wide(demo_store: Path) -> None:
    chosen = run_cli(
        "scan", "--by", "stock", "--columns", "symbol,divergence_score", "-f", "table", store=demo_store
    )
    assert chosen.code == 0, chosen.err
    header = next(ln for ln in chosen.out.splitlines() if "Symbol" in ln)
    assert header.split() == ["Symbol", "Score"]
    doc = json.loads(run_cli("scan", "--by", "stock", "--top", "1", "-f", "json", store=demo_store).out)
    first = doc["rows"][0]
    (row,) = [ln for ln in chosen.out.splitlines() if ln.split()[:1] == [first["symbol"]]][:1]
    assert row.split() == [first["symbol"], f"{first['divergence_score']:.1f}"]

    bad = run_cli("scan", "--by", "stock", "--columns", "symbol,nope", "-f", "table", store=demo_store)
    assert bad.code == ExitCode.USAGE and "nope" in bad.err and "divergence_score" in bad.err

    wide = run_cli("scan", "--by", "stock", "--wide", "-f", "table", store=demo_store, env={"COLUMNS": "40"})
    assert wide.code == 0
    header = next(ln for ln in wide.out.splitlines() if "Symbol" in ln)
    assert all(c.header in header for c in render.STOCK_COLUMNS if c.header)
    assert max(len(ln) for ln in wide.out.splitlines()) > 40 and "…" not in wide.out


def test_progress_bar_says_what_it_waits_for(tmp_path: Path) -> None:
    from positioning_cli.store import WRITE_LOCK

    store = tmp_path / "store"
    first, second = sorted((SAMPLE / "short_interest").iterdir())[:2]
    api.ingest("short-interest", [first], store)
    messages: list[tuple[str, int, int]] = []
    fd = os.open(store / WRITE_LOCK, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # another writer
        os.ftruncate(fd, 0)
        os.pwrite(fd, b"pid 4242\n", 0)
        with pytest.raises(BusyError):
            api.ingest("short-interest", [second], store, wait=0.3, progress=lambda *a: messages.append(a))
    finally:
        os.close(fd)
    assert messages == [
        ("waiting (up to 0.3s, --wait): another writer (pid 4242) holds .lock (an ingest is running)", 0, 0)
    ]
    # the bar's count column shows nothing while there is nothing to count, never "0/None"
    assert count_text(0, None) == "" and count_text(0, 0) == "" and count_text(3, 10) == "3/10"
