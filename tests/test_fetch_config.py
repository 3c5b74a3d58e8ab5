"""`positioning config`: precedence flag > environment > file > default, masking, atomic writes."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.conftest import SAMPLE, run_cli


def _show(env: dict[str, str], *args: str) -> dict[str, dict[str, str]]:
    r = run_cli(*args, "config", "show", "-f", "json", env=env)
    assert r.code == 0, r.err
    return {row["key"]: row for row in json.loads(r.out)["rows"]}


def test_set_then_show_with_origins_and_precedence(tmp_path: Path) -> None:
    cfg = tmp_path / "conf" / "positioning.toml"
    env = {"POSITIONING_CONFIG": str(cfg)}
    r = run_cli("config", "set", "sec-contact", "you@example.com", env=env)
    assert r.code == 0, r.err
    assert run_cli("config", "set", "mirror", "http://file.example/", env=env).code == 0
    assert run_cli("config", "set", "finra-client-secret", "s3cr3t-value-xy", env=env).code == 0
    assert tomllib.loads(cfg.read_text())["sec-contact"] == "you@example.com"
    assert cfg.stat().st_mode & 0o077 == 0  # may hold credentials
    assert not list(cfg.parent.glob(".*.tmp"))

    rows = _show(env)
    assert rows["sec-contact"]["value"] == "you@example.com"
    assert rows["sec-contact"]["origin"] == f"file {cfg}"
    assert rows["indices"] == {**rows["indices"], "value": "RUT,NDX,SPX", "origin": "default"}
    assert rows["finra-client-secret"]["value"] == "****xy"  # masked
    assert "s3cr3t" not in json.dumps(rows)

    env_wins = _show(
        {**env, "POSITIONING_SEC_CONTACT": "env@example.com", "POSITIONING_MIRROR": "http://env.example/"}
    )
    assert env_wins["sec-contact"]["value"] == "env@example.com"
    assert env_wins["sec-contact"]["origin"] == "env POSITIONING_SEC_CONTACT"
    flag_wins = _show(
        {**env, "POSITIONING_STORE": str(tmp_path / "env-store")}, "--store", str(tmp_path / "flag-store")
    )
    assert flag_wins["store"] == {
        **flag_wins["store"],
        "value": str(tmp_path / "flag-store"),
        "origin": "flag",
    }

    assert run_cli("config", "set", "mirror", "--unset", env=env).code == 0
    assert "mirror" not in tomllib.loads(cfg.read_text())


def test_store_from_the_config_file_is_used(tmp_path: Path) -> None:
    env = {"POSITIONING_CONFIG": str(tmp_path / "c.toml")}
    store = tmp_path / "configured-store"
    assert run_cli("config", "set", "store", str(store), env=env).code == 0
    r = run_cli("ingest", "members", str(SAMPLE / "members" / "NDX.csv"), env=env)
    assert r.code == 0, r.err
    assert (store / "manifest.json").is_file()


def test_bad_settings_are_usage_errors(tmp_path: Path) -> None:
    env = {"POSITIONING_CONFIG": str(tmp_path / "c.toml")}
    for args, text in (
        (("sec-contact", "nobody"), "expected an e-mail address"),
        (("colour", "blue"), "unknown setting 'colour'"),
        (("http-retries", "2.5"), "expected a non-negative int"),
        (("mirror", "ftp://x"), "expected an http:// or https:// URL"),
    ):
        r = run_cli("config", "set", *args, env=env)
        assert r.code == 2, (args, r.err)
        assert text in r.err and len(r.err.strip().splitlines()) == 1
    (tmp_path / "c.toml").write_text("sec-contact = [unclosed\n")
    r = run_cli("config", "show", env=env)
    assert r.code == 2 and "unreadable config file" in r.err


HEAVY = ("pandas", "pyarrow", "numpy", "httpx", "exchange_calendars", "rich")


@pytest.mark.parametrize(
    "args",
    [
        ["fetch", "--help"],
        ["fetch", "short-interest", "--help"],
        ["update", "--help"],
        ["calendar", "--help"],
        ["config", "set", "--help"],
    ],
)
def test_fetch_commands_help_imports_nothing_heavy(args: list[str]) -> None:
    code = (
        f"import sys\nfrom positioning_cli.cli import main\ntry:\n    main({args!r})\nexcept SystemExit:\n    pass\n"
        f"sys.stderr.write('HEAVY=' + ','.join(sorted(m for m in {HEAVY!r} if m in sys.modules)))\n"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.stderr.strip().endswith("HEAVY="), p.stderr
    assert "Usage" in p.stdout
