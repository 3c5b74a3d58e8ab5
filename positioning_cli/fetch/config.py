"""Settings: ``positioning.toml`` in the user config dir (or ``POSITIONING_CONFIG``), the environment, flags.

Precedence, per key: a command-line flag > the environment > the config file > the default. Every
effective value remembers where it came from, so ``positioning config show`` can say so. The file
is a flat TOML table of the keys in ``KEYS``; ``config set`` rewrites it atomically (a temporary
file renamed over it), mode 0600 because it may hold FINRA credentials.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from positioning_cli.errors import UsageError


@dataclass(frozen=True)
class Key:
    name: str
    env: str
    help: str
    default: str | None = None
    secret: bool = False
    kind: str = "str"  # str | float | int


KEYS: dict[str, Key] = {
    k.name: k
    for k in (
        Key("store", "POSITIONING_STORE", "store folder"),
        Key("sec-contact", "POSITIONING_SEC_CONTACT", "contact e-mail SEC requires in the User-Agent"),
        Key("finra-client-id", "POSITIONING_FINRA_CLIENT_ID", "FINRA API client id (optional)"),
        Key(
            "finra-client-secret",
            "POSITIONING_FINRA_CLIENT_SECRET",
            "FINRA API client secret (optional)",
            secret=True,
        ),
        Key("mirror", "POSITIONING_MIRROR", "fetch https://HOST/PATH from MIRROR/HOST/PATH instead"),
        Key("indices", "POSITIONING_INDICES", "default indices", "RUT,NDX,SPX"),
        Key("proxy", "POSITIONING_PROXY", "HTTP(S) proxy URL (default: HTTPS_PROXY/HTTP_PROXY)"),
        Key("ca-bundle", "POSITIONING_CA_BUNDLE", "CA bundle file (default: SSL_CERT_FILE or certifi)"),
        Key("http-timeout", "POSITIONING_HTTP_TIMEOUT", "seconds per request", "60", kind="float"),
        Key("http-retries", "POSITIONING_HTTP_RETRIES", "retries after the first attempt", "4", kind="int"),
        Key(
            "http-backoff",
            "POSITIONING_HTTP_BACKOFF",
            "first retry wait in seconds (doubles)",
            "1",
            kind="float",
        ),
        Key(
            "http-interval-scale",
            "POSITIONING_HTTP_INTERVAL_SCALE",
            "multiplies each host's minimum interval between requests (0 = none, for a local mirror)",
            "1",
            kind="float",
        ),
        Key("min-adv", "POSITIONING_MIN_ADV", "gate: minimum average daily volume", "100000", kind="float"),
        Key("min-price", "POSITIONING_MIN_PRICE", "gate: minimum close", "5", kind="float"),
        Key(
            "watchlist", "POSITIONING_WATCHLIST", "symbols `scan --by stock --watchlist` shows, e.g. GME,AMC"
        ),
    )
}
# FINRA's own documentation and other tools use these names; accepted as well.
ALIASES = {"finra-client-id": "FINRA_CLIENT_ID", "finra-client-secret": "FINRA_CLIENT_SECRET"}


def config_path() -> Path:
    env = os.environ.get("POSITIONING_CONFIG")
    if env:
        return Path(env)
    from platformdirs import user_config_dir

    return Path(user_config_dir("positioning", appauthor=False)) / "positioning.toml"


@dataclass(frozen=True)
class Value:
    key: str
    value: str | None
    origin: str  # "flag", "env NAME", "file PATH", "default"


class Config:
    """The effective settings. ``flags`` holds the values given on the command line (None = not given)."""

    def __init__(self, flags: Mapping[str, str | None] | None = None, path: Path | None = None) -> None:
        self.path = path or config_path()
        self.file = read_file(self.path)
        self.flags = {k: v for k, v in (flags or {}).items() if v is not None}

    def lookup(self, name: str) -> Value:
        key = KEYS[name]
        if name in self.flags:
            return Value(name, str(self.flags[name]), "flag")
        for env in (key.env, ALIASES.get(name)):
            if env and os.environ.get(env):
                return Value(name, os.environ[env], f"env {env}")
        if name in self.file:
            return Value(name, self.file[name], f"file {self.path}")
        return Value(name, key.default, "default")

    def get(self, name: str) -> str | None:
        return self.lookup(name).value

    def number(self, name: str) -> float:
        v = self.lookup(name)
        try:
            return float(v.value) if v.value is not None else 0.0
        except ValueError:
            raise UsageError(f"setting {name} = {v.value!r} ({v.origin}): expected a number") from None

    def show(self) -> list[dict[str, str | None]]:
        rows = []
        for name, key in KEYS.items():
            v = self.lookup(name)
            shown = v.value
            if key.secret and shown:
                shown = "****" + shown[-2:] if len(shown) > 8 else "****"
            rows.append({"key": name, "value": shown, "origin": v.origin, "help": key.help})
        return rows


def read_file(path: Path) -> dict[str, str]:
    """The file's keys as strings; a missing file is empty; a bad one is a one-line UsageError."""
    try:
        raw = tomllib.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"{path}: unreadable config file: {' '.join(str(exc).split())}") from None
    out: dict[str, str] = {}
    for k, v in raw.items():
        if k not in KEYS:
            raise UsageError(f"{path}: unknown setting {k!r}; known: {', '.join(KEYS)}")
        if isinstance(v, list):
            v = ",".join(str(x) for x in v)
        if isinstance(v, dict):
            raise UsageError(f"{path}: setting {k!r} must be a single value")
        out[k] = str(v)
    return out


def check_value(name: str, value: str) -> str:
    if name not in KEYS:
        raise UsageError(f"unknown setting {name!r}; known: {', '.join(KEYS)}")
    key = KEYS[name]
    if key.kind in ("float", "int"):
        try:
            number = float(value)
        except ValueError:
            raise UsageError(f"{name} {value!r}: expected a number") from None
        if number < 0 or (key.kind == "int" and number != int(number)):
            raise UsageError(f"{name} {value!r}: expected a non-negative {key.kind}")
    if name == "sec-contact" and "@" not in value:
        raise UsageError(f"sec-contact {value!r}: expected an e-mail address (SEC asks for one)")
    if name == "mirror" and not value.startswith(("http://", "https://")):
        raise UsageError(f"mirror {value!r}: expected an http:// or https:// URL")
    return value


def set_value(name: str, value: str | None, path: Path | None = None) -> Path:
    """Write (or, with None, remove) one setting; atomic: readers see the old or the new file."""
    path = path or config_path()
    data = read_file(path)
    if value is None:
        data.pop(name, None)
        if name not in KEYS:
            raise UsageError(f"unknown setting {name!r}; known: {', '.join(KEYS)}")
    else:
        data[name] = check_value(name, value)
    lines = ["# positioning settings (positioning config set KEY VALUE)"]
    # json.dumps writes a valid TOML basic string (same escapes).
    lines += [f"{k} = {json.dumps(v)}" for k, v in sorted(data.items())]
    text = "\n".join(lines) + "\n"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        raise UsageError(f"{path}: cannot write the config file: {exc.strerror or exc}") from None
    return path
