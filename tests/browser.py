"""Headless Chromium for the report tests: Debian's package, installed here when absent.

The browser is launched with the flags that keep it off the network (no background services, no
component updates), so a request the page itself makes is the only request seen.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile

import pytest

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    """The path of Debian's chromium, installing it with apt-get when absent (root only)."""
    found = shutil.which("chromium")
    if found:
        return found
    if not hasattr(os, "geteuid") or os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.skip("chromium is not installed and cannot be installed here (needs root and apt-get)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    # Test workers run in parallel: one installs while the others wait on this lock, then find it.
    with open(os.path.join(tempfile.gettempdir(), "positioning-tests-chromium.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not shutil.which("chromium"):
            for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]):
                done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
                if done.returncode != 0:
                    pytest.skip(
                        f"could not install chromium with {' '.join(cmd)}: {done.stderr.strip()[-300:]}"
                    )
    found = shutil.which("chromium")
    if not found:
        pytest.skip("apt-get installed chromium but no chromium executable is on PATH")
    return found


def playwright_or_skip():  # type: ignore[no-untyped-def]
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (a dev dependency: make test installs it)")
    return sync_playwright
