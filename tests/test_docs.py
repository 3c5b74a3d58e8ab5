"""The README's commands work as written: the jq one-liner, the crontab line, the help examples."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import ROOT, SAMPLE, run_cli

README = (ROOT / "README.md").read_text()


def readme_line(prefix: str) -> str:
    lines = [ln for ln in README.splitlines() if ln.startswith(prefix)]
    assert len(lines) == 1, f"README should have exactly one line starting {prefix!r}"
    return lines[0]


def shim_path(tmp_path: Path, store: Path) -> dict[str, str]:
    """PATH with a `positioning` that runs this checkout, and a `mail` that records what it was sent."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "positioning"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m positioning_cli "$@"\n')
    mail = bin_dir / "mail"
    mail.write_text(f'#!/bin/sh\necho "$@" > "{tmp_path}/mail.args"\ncat > "{tmp_path}/mail.body"\n')
    for f in (shim, mail):
        f.chmod(f.stat().st_mode | stat.S_IEXEC)
    env = dict(os.environ)
    env.update(
        PATH=f"{bin_dir}:{env['PATH']}",
        POSITIONING_STORE=str(store),
        HOME=str(tmp_path / "home"),
        PYTHONPATH=str(ROOT),
    )
    (tmp_path / "home").mkdir()
    return env


def test_readme_jq_one_liner(demo_store: Path, tmp_path: Path) -> None:
    if shutil.which("jq") is None:
        pytest.skip("jq is not installed on this machine")
    line = readme_line("positioning scan -f json | jq")
    p = subprocess.run(
        ["bash", "-o", "pipefail", "-c", line],
        env=shim_path(tmp_path, demo_store),
        capture_output=True,
        text=True,
    )
    assert p.returncode == 0, p.stderr
    assert re.fullmatch(r"RUT \d+ shorts pressing into strength\n", p.stdout), p.stdout


def test_readme_crontab_line_alerts_only_when_the_threshold_is_crossed(tmp_path: Path) -> None:
    cron = readme_line("30 6 * * 2-6 ")
    command = cron.split(" ", 5)[5]  # drop the five schedule fields, as cron does
    store = tmp_path / "store"
    for kind, sub in (("members", "members"), ("prices", "prices")):
        assert run_cli("ingest", kind, str(SAMPLE / sub), store=store).code == 0
    env = shim_path(tmp_path, store)
    # `positioning update` downloads from a local mirror holding FINRA's files at their real paths.
    from tests.fetch_payloads import serve_finra
    from tests.fetch_server import serve

    server_gen = serve()
    server = next(server_gen)
    serve_finra(server.routes)
    env.update(
        POSITIONING_MIRROR=server.url,
        POSITIONING_NOW="2026-11-12T17:00:00+00:00",
        POSITIONING_HTTP_INTERVAL_SCALE="0",
        POSITIONING_CONFIG=str(tmp_path / "positioning.toml"),
    )
    try:
        p = subprocess.run(["sh", "-c", command], env=env, capture_output=True, text=True, timeout=600)
        assert (tmp_path / "mail.args").exists(), (
            p.stdout,
            p.stderr,
            (Path(env["HOME"]) / "positioning.log").read_text(),
        )
        assert "divergence >= 80" in (tmp_path / "mail.args").read_text()
        assert '"command": "scan"' in (tmp_path / "mail.body").read_text()
        log = (Path(env["HOME"]) / "positioning.log").read_text()
        assert "FINRA short interest: current:" in log and "--fail-on" in log
        # the next morning, same report: --once keeps the mail from going out again
        (tmp_path / "mail.args").unlink()
        subprocess.run(["sh", "-c", command], env=env, capture_output=True, text=True, timeout=600)
        assert not (tmp_path / "mail.args").exists()
        assert "already reported for" in (Path(env["HOME"]) / "positioning.log").read_text()
    finally:
        server_gen.close()


def test_readme_opens_with_the_two_commands() -> None:
    assert README.startswith("# positioning\n\n```\nmake demo")
    assert "\nmake test" in README.split("```")[1]


def test_readme_states_the_choices_as_the_code_makes_them() -> None:
    """README "Choices": each stated number is the one the code uses, and the z-score's standard
    deviation is the sample one (checked against statistics.stdev, an independent computation)."""
    import math
    import statistics

    from positioning_cli import futures, metrics, stocks
    from positioning_cli import measures as ms
    from positioning_cli.indices import WINDOWS_DAYS

    section = README.split("### Choices", 1)[1].split("\n### ", 1)[0]
    for topic in (
        "Minimum observations",
        "Window lengths",
        "Completeness rule",
        "Tie-breaking",
        "Standard deviation",
        "Median of an even count",
    ):
        assert f"**{topic}" in section, topic
    assert WINDOWS_DAYS == {"1y": 365, "5y": 5 * 365} and stocks.FIVE_YEAR_DAYS == 5 * 365
    assert "(*d* − 365 days, *d*]" in section and "5 × 365 = 1,825 days" in section
    assert f"{ms.WINDOW_TOLERANCE_DAYS} days for short interest" in section
    assert f"{ms.PRICE_STALE_DAYS} days for daily closes" in section
    assert f"no gap over {futures._MAX_REPORT_GAP_DAYS} days" in section
    assert f"within {metrics.CLOSE_TOLERANCE_DAYS} days" in section
    per_window = {
        "12 reports for a 1Y": ms.min_observations(365, ms.SI_REPORTS_PER_YEAR),
        "60 for 5Y": ms.min_observations(5 * 365, ms.SI_REPORTS_PER_YEAR),
        "126 daily closes": ms.min_observations(365, ms.PRICE_CLOSES_PER_YEAR),
        "26 weekly CFTC reports": ms.min_observations(365, futures.COT_REPORTS_PER_YEAR),
        "78 for 3Y": ms.min_observations(3 * 365, futures.COT_REPORTS_PER_YEAR),
    }
    for text, n in per_window.items():
        assert text in section and text.split()[0] == str(n), (text, n)
    assert f"last {futures.INDEX_REPORTS} weekly reports" in section
    # Sample standard deviation: 53 weekly nets, the z-score over the last 52 by hand.
    nets = [float((i * 37) % 41 - 20) for i in range(53)]
    days = np.arange(53, dtype=np.int64) * 7
    import pyarrow as pa

    table = pa.table(
        {
            "report_date": pa.array([date(2020, 1, 7) + timedelta(days=int(d)) for d in days], pa.date32()),
            "contract_code": ["13874A"] * 53,
            "futures_only": [True] * 53,
            "open_interest": [1000.0] * 53,
            "lev_money_long": [max(x, 0.0) for x in nets],
            "lev_money_short": [max(-x, 0.0) for x in nets],
            "asset_mgr_long": [0.0] * 53,
            "asset_mgr_short": [0.0] * 53,
        }
    )
    read = futures.read(futures.series(table, "ES"), date(2021, 1, 5), "lev")
    recent = nets[-52:]
    expected = (recent[-1] - statistics.fmean(recent)) / statistics.stdev(recent)
    assert math.isclose(read.zscore_52w, expected, rel_tol=1e-12)


def test_readme_ingest_crontab_line_keeps_going_and_logs_only_problems(tmp_path: Path) -> None:
    cron = readme_line("15 6 * * 2-6 positioning ingest")
    command = cron.split(" ", 5)[5]
    store = tmp_path / "store"
    env = shim_path(tmp_path, store)
    incoming = Path(env["HOME"]) / "incoming" / "finra"
    incoming.mkdir(parents=True)
    import gzip

    good = gzip.decompress((SAMPLE / "short_interest" / "shrt20200115.csv.gz").read_bytes())
    (incoming / "shrt20200115.csv").write_bytes(good)
    (incoming / "shrt20200131.csv").write_bytes(good[: len(good) // 2])  # a download cut short
    p = subprocess.run(["sh", "-c", command], env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 3, p.stderr
    log = (Path(env["HOME"]) / "positioning.log").read_text().splitlines()
    assert len(log) == 2 and all(line.startswith("error: ") for line in log), log
    assert "shrt20200131.csv" in log[0] and "truncated" in log[0]
    rows = sum(1 for line in good.decode().splitlines()[1:] if line.strip())
    assert run_cli("store", "info", "-f", "json", store=store).out.count(f'"rows": {rows}') >= 1
    again = subprocess.run(["sh", "-c", command], env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 3  # the cut file is not stored, so it is tried (and reported) again
