"""Cron that mails once per report (``--fail-on ... --once``) and the warning when the store is
more than one FINRA cycle behind the calendar (issue 13)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from positioning_cli.errors import ExitCode
from tests.conftest import run_cli


@pytest.fixture
def store(demo_store: Path, tmp_path: Path) -> Path:
    """A private copy of the demo store: --once writes its state into the store."""
    copy = tmp_path / "store"
    shutil.copytree(demo_store, copy, symlinks=True)
    return copy


def test_once_alerts_the_first_time_per_report_date_only(store: Path) -> None:
    rule = ["scan", "-f", "json", "--fail-on", "divergence_score>=0"]
    first = run_cli(*rule, "--once", store=store)
    assert first.code == ExitCode.THRESHOLD, first.err
    second = run_cli(*rule, "--once", store=store)
    assert second.code == ExitCode.OK, second.err
    assert "already reported for 2026-10-30 (--once); exit 0" in second.err
    assert json.loads(second.out)["rows"] == json.loads(first.out)["rows"]  # the output is the same
    # without --once every run alerts; another rule, or another report date, alerts once again
    assert run_cli(*rule, store=store).code == ExitCode.THRESHOLD
    assert run_cli("scan", "--fail-on", "divergence_score>=1", "--once", store=store).code == 7
    older = run_cli(*rule, "--once", "--as-of", "2026-10-15", store=store)
    assert older.code == ExitCode.THRESHOLD
    assert run_cli(*rule, "--once", "--as-of", "2026-10-15", store=store).code == ExitCode.OK
    state = json.loads((store / "state" / "once.json").read_text())
    assert {e["report"] for e in state["alerted"]} == {"2026-10-30", "2026-10-15"}
    assert run_cli("store", "verify", store=store).code == ExitCode.OK


def test_once_alerts_for_a_row_that_newly_matches(store: Path) -> None:
    """The remembered identity is rule + row: a row that crosses later on the same report alerts."""
    one = run_cli("scan", "--index", "RUT", "--fail-on", "divergence_score>=0", "--once", store=store)
    assert one.code == ExitCode.THRESHOLD
    both = run_cli("scan", "--index", "RUT,NDX", "--fail-on", "divergence_score>=0", "--once", store=store)
    assert both.code == ExitCode.THRESHOLD, both.err
    assert "matched NDX" in both.err and "matched RUT" not in both.err


def test_once_with_a_damaged_state_alerts_anyway(store: Path) -> None:
    (store / "state").mkdir()
    (store / "state" / "once.json").write_text("{not json")
    r = run_cli("cot", "--fail-on", "net<=0", "--once", store=store)
    assert r.code == ExitCode.THRESHOLD
    assert "warning: --once: cannot use" in r.err and "alerting anyway" in r.err
    assert "Traceback" not in r.err


def test_once_never_follows_a_symlinked_state_folder(store: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (store / "state").symlink_to(outside)
    r = run_cli("summary", "--fail-on", "value>=0", "--once", store=store)
    assert r.code == ExitCode.THRESHOLD and "alerting anyway" in r.err
    assert list(outside.iterdir()) == []


# FINRA settlement dates after the sample's newest (2026-10-30), worked out by hand: Nov 15 2026 is
# a Sunday -> 11-13; 11-30 (Mon); 12-15 (Tue); 12-31 (Thu, published Jan 12 2027: Jan 1 is a
# holiday); Jan 15 2027 (Fri) is published on Jan 27 (Jan 18 is MLK day), after the pinned now.
@pytest.mark.parametrize(
    ("now", "warned"),
    [
        ("2026-11-12T17:00:00+00:00", None),  # current
        ("2026-11-25T12:00:00+00:00", None),  # 11-13 out on 11-24: one cycle behind is not warned
        ("2027-01-20T12:00:00+00:00", "FINRA has published 4 reports since (latest 2026-12-31)"),
    ],
)
def test_scan_warns_when_more_than_one_cycle_behind(demo_store: Path, now: str, warned: str | None) -> None:
    views = [["scan"], ["scan", "--by", "stock", "--index", "RUT"], ["summary", "--index", "NDX"]]
    for args in views if warned else views[:1]:
        r = run_cli(*args, "-f", "json", store=demo_store, env={"POSITIONING_NOW": now})
        assert r.code == 0, r.err
        doc = json.loads(r.out)
        behind = [w for w in doc["warnings"] if "FINRA has published" in w]
        if warned is None:
            assert behind == [] and "FINRA has published" not in r.err
        else:
            assert len(behind) == 1 and warned in behind[0] and "2026-10-30" in behind[0]
            assert "run `positioning update`" in r.err


def test_no_behind_warning_for_an_explicit_as_of(demo_store: Path) -> None:
    r = run_cli(
        "scan", "--as-of", "2026-10-30", store=demo_store, env={"POSITIONING_NOW": "2027-06-01T12:00"}
    )
    assert r.code == 0 and "FINRA has published" not in r.err
