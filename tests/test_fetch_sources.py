"""Payload validation per source and the raw store, without a server."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from positioning_cli.errors import FetchError
from positioning_cli.fetch.http import Reply
from positioning_cli.fetch.raw import RawStore, fetch_lock
from positioning_cli.fetch.sources import CftcTff, FinraShortInterest, Item
from tests.fetch_payloads import cftc_year, finra_file, zipped

D = date(2026, 10, 30)
ITEM = Item(D, "https://cdn.finra.org/x/shrt20261030.csv", "shrt20261030.csv")


def _reply(body: bytes, ctype: str = "binary/octet-stream") -> Reply:
    return Reply(ITEM.url, 200, {"content-type": ctype}, body)


def test_finra_file_without_a_final_newline_is_accepted_but_a_cut_line_is_not() -> None:
    body = finra_file(D)
    FinraShortInterest().validate(ITEM, _reply(body.rstrip(b"\n")))
    FinraShortInterest().validate(ITEM, _reply(b"\xef\xbb\xbf" + body.replace(b"\n", b"\r\n")))  # BOM, CRLF
    cut = body.rstrip(b"\n")[:-3]  # the last settlement date loses its day
    with pytest.raises(FetchError, match="truncated body"):
        FinraShortInterest().validate(ITEM, _reply(cut))


def test_finra_bot_wall_with_a_binary_content_type_is_still_caught() -> None:
    with pytest.raises(FetchError, match="an HTML page"):
        FinraShortInterest().validate(ITEM, _reply(b"  <!DOCTYPE html><title>Just a moment...</title>"))


def test_cftc_zip_must_hold_the_requested_year() -> None:
    item = Item(
        date(2025, 1, 1),
        "https://www.cftc.gov/files/dea/history/fut_fin_txt_2025.zip",
        "fut_fin_txt_2025.zip",
    )
    CftcTff().validate(item, Reply(item.url, 200, {}, zipped("FinFut25.txt", cftc_year(2025))))
    with pytest.raises(FetchError, match="report year 2024 outside the requested 2025-2025"):
        CftcTff().validate(item, Reply(item.url, 200, {}, zipped("FinFut24.txt", cftc_year(2024))))
    two = zipped("a.txt", b"x")[:-22]  # the end-of-central-directory record is gone
    with pytest.raises(FetchError, match="a zip that does not open"):
        CftcTff().validate(item, Reply(item.url, 200, {}, two))


def test_raw_store_records_hashes_and_forgets(tmp_path: Path) -> None:
    raw = RawStore(tmp_path, "finra-si")
    with fetch_lock(tmp_path, 0):
        raw.save(
            "shrt20261030.csv", b"abc", url="u", etag='"e1"', last_modified="Tue, 10 Nov 2026 21:00:00 GMT"
        )
    entry = json.loads((tmp_path / "raw/finra-si/index.json").read_text())["shrt20261030.csv"]
    assert (
        entry["sha256"] == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )  # sha256("abc")
    assert raw.conditional_headers("shrt20261030.csv") == {
        "If-None-Match": '"e1"',
        "If-Modified-Since": "Tue, 10 Nov 2026 21:00:00 GMT",
    }
    raw.forget("shrt20261030.csv")
    assert raw.conditional_headers("shrt20261030.csv") == {}
    assert raw.files() == ["index.json"]
    with pytest.raises(ValueError):
        raw.path("../escape")


def test_leftover_temporary_files_are_removed_by_the_next_run(tmp_path: Path) -> None:
    from positioning_cli.store import Store

    store = tmp_path / "store"
    Store(store).claim()  # a store a killed fetch left its temporary in
    folder = store / "raw" / "finra-si"
    folder.mkdir(parents=True)
    (folder / ".shrt20261030.csv.999.tmp").write_bytes(b"half")
    with fetch_lock(store, 0):
        pass
    assert list(folder.iterdir()) == []
