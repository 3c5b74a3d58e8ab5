"""Payload validation per source and the raw store, without a server."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from positioning_cli.errors import FetchError
from positioning_cli.fetch.http import Reply
from positioning_cli.fetch.raw import RawStore, fetch_lock
from positioning_cli.fetch.sources import CftcTff, FinraShortInterest, Item
from tests.fetch_payloads import cftc_year, finra_file, split_newest_week, zipped

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


def test_cftc_current_week_file_holds_one_report_week() -> None:
    url = "https://www.cftc.gov/dea/newcot/FinFutWk.txt"
    item = Item(date(2026, 8, 4), url, "FinFutWk.txt")
    annual, week = split_newest_week(cftc_year(2026))
    _, before = split_newest_week(annual)
    src = CftcTff()
    src.validate(item, Reply(url, 200, {}, week))
    assert src.drain_notes() == [
        "2026-08-04: not in the yearly file yet; read from the current-week file FinFutWk.txt"
    ]
    src.validate(item, Reply(url, 200, {}, before))  # CFTC's file not advanced yet: kept, said
    assert src.drain_notes() == [
        "2026-08-04: not in the yearly file; the current-week file FinFutWk.txt still holds 2026-07-28"
    ]
    with pytest.raises(FetchError, match="2 report dates, a current-week file holds one"):
        src.validate(item, Reply(url, 200, {}, before + week))
    header = annual.split(b"\n", 1)[0] + b"\n"  # a header line is not a report row
    with pytest.raises(FetchError, match="line 1: no YYMMDD report date in field 2"):
        src.validate(item, Reply(url, 200, {}, header + week))
    with pytest.raises(FetchError, match="empty body"):
        src.validate(item, Reply(url, 200, {}, b""))


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


class _PagedPre:
    """A client whose cftc.gov zip answers 500 and whose PRE answers ``records`` ``$limit`` at a time
    from ``$offset`` (as Socrata pages), logging every URL asked for."""

    def __init__(self, records: list[dict[str, str]]) -> None:
        self.records = records
        self.urls: list[str] = []

    def get(self, url: str, *, headers: object = None, what: str = "") -> Reply:
        from urllib.parse import parse_qs, urlsplit

        self.urls.append(url)
        if "publicreporting" not in url:
            return Reply(url, 500, {}, b"down")
        q = parse_qs(urlsplit(url).query)
        start, limit = int(q.get("$offset", ["0"])[0]), int(q["$limit"][0])
        page = self.records[start : start + limit]
        return Reply(url, 200, {"content-type": "application/json"}, json.dumps(page).encode())


@pytest.mark.parametrize("combined", [False, True])
def test_cftc_pre_fallback_pages_until_a_short_page(monkeypatch: pytest.MonkeyPatch, combined: bool) -> None:
    from positioning_cli.fetch.sources import Context
    from tests.fetch_payloads import pre_records

    records = pre_records(cftc_year(2025))
    if combined:
        records = [r | {"futonly_or_combined": "Combined"} for r in records]
    src = CftcTff()
    monkeypatch.setattr(src, "pre_page", 7)
    client = _PagedPre(records)
    ctx = Context(now=datetime(2025, 11, 12, 17, tzinfo=UTC), manifest={}, combined=combined)
    (item,) = src.items(ctx, date(2025, 1, 1), None)
    reply = src.download(client, item, {}, ctx)  # type: ignore[arg-type]
    src.validate(item, reply)
    assert len(records) > 3 * 7
    assert json.loads(reply.body) == records  # every record once, in order
    pages = -(-len(records) // 7) + (len(records) % 7 == 0)  # a full last page needs one more request
    pre = [u for u in client.urls if "publicreporting" in u]
    assert len(pre) == pages
    assert ("yw9f-hn96" if combined else "gpe5-46if") in pre[0]
    assert src.raw_name(item, reply) == ("pre_com_fin_2025.json" if combined else "pre_fut_fin_2025.json")
    (note,) = src.drain_notes()
    assert note.startswith("2025: the CFTC zip failed (HTTP 500)")
    assert src.drain_notes() == []


def test_cftc_pre_rows_of_the_other_report_are_refused() -> None:
    from tests.fetch_payloads import pre_records

    item = Item(date(2025, 1, 1), "https://www.cftc.gov/files/dea/history/fut_fin_txt_2025.zip", "x.zip")
    records = [r | {"futonly_or_combined": "Combined"} for r in pre_records(cftc_year(2025))]
    url = "https://publicreporting.cftc.gov/resource/gpe5-46if.json?$limit=50000"
    with pytest.raises(FetchError, match="record 1: a 'combined' row, requested 'futonly'"):
        CftcTff().validate(item, Reply(url, 200, {}, json.dumps(records).encode()))
    with pytest.raises(FetchError, match="0 rows"):
        CftcTff().validate(item, Reply(url, 200, {}, b"[]"))
