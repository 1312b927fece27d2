"""Row queries over HTTP: the portal's row API against datasette serving the same rows.

``export_for_datasette`` copies the portal's loaded SQLite table into a file of its
own for datasette: the same values (as parsed and stored by the portal's loader),
the portal's ``_id`` as the rowid, columns named after the CSV's headers, the same
indexes as the portal's table (one per column), an FTS5 index made with
``sqlite-utils`` over the same text columns as the portal's full-text index (those it
searches by words) and with the same tokenizer (``unicode61 remove_diacritics 2``),
and ``ANALYZE``.

Both servers run on 127.0.0.1, one process each: the portal under gunicorn with one
sync worker (``bench.server.Gunicorn``), datasette in immutable mode (``-i``, its
fastest) with suggested facets off (the portal computes none; they would only
slow datasette down) and a SQL time limit of 60 s instead of 1 s, so that its
totals are counted in full as the portal's are rather than given up on. The client
sends one request at a time, a new connection each (gunicorn's sync workers close
them anyway), alternating portal and datasette so both see the same machine.
"""

from __future__ import annotations

import http.client
import json
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlencode

import sqlite_utils

from bench.datastore.synthetic import AMOUNT, HEADERS, PLACE, PLACES
from bench.server import free_port

CODE = HEADERS[0]
TABLE = "ho_so"
# Places from the most to the least frequent, and words without diacritics from about
# 40 % of the rows (``công`` of ``Hành chính công``) down to 0.3 %. None folds from
# ``đ``: datasette's FTS cannot fold it (the portal's index writes ``đ`` as ``d``).
QUERY_PLACES = tuple(PLACES[rank] for rank in (0, 1, 2, 5, 10, 20, 40, 80, 120, len(PLACES) - 1))
QUERY_WORDS = ("cong", "truong", "nong", "tinh", "vien", "thong", "linh", "che", "rung", "benh")


def _name(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def export_for_datasette(portal_db: Path, table: str, fields: list[dict], target: Path) -> None:
    """Copy the portal's table ``table`` into ``target`` as ``ho_so``, with its indexes and an FTS5 index."""
    target.unlink(missing_ok=True)
    header = {item["column"]: item["id"] for item in fields}
    connection = sqlite3.connect(target)
    try:
        connection.execute("ATTACH DATABASE ? AS portal", (f"file:{portal_db}?mode=ro",))
        types = {row[1]: row[2] for row in connection.execute(f"PRAGMA portal.table_info({_name(table)})")}
        definitions = ", ".join(f"{_name(item['id'])} {types[item['column']]}" for item in fields)
        connection.execute(f"CREATE TABLE {TABLE} ({definitions})")
        named = ", ".join(_name(item["id"]) for item in fields)
        physical = ", ".join(_name(item["column"]) for item in fields)
        connection.execute(f"INSERT INTO {TABLE} (rowid, {named}) "
                           f"SELECT _id, {physical} FROM portal.{_name(table)} ORDER BY _id")
        listed = connection.execute(f"PRAGMA portal.index_list({_name(table)})")
        indexes = [(row[1], row[2], row[4]) for row in listed]
        for number, (index, unique, partial) in enumerate(indexes):
            keys = [(row[2], row[3]) for row in connection.execute(f"PRAGMA portal.index_xinfo({_name(index)})")
                    if row[5]]
            if partial or any(column not in header for column, _ in keys):
                continue  # the _id index: the copy's rowid already is _id
            columns = ", ".join(_name(header[column]) + (" DESC" if desc else "") for column, desc in keys)
            connection.execute(f"CREATE {'UNIQUE ' if unique else ''}INDEX idx_{TABLE}_{number} ON {TABLE} ({columns})")
        connection.commit()
        connection.execute("DETACH DATABASE portal")
        # The columns the portal searches by words (a column of codes it matches whole, not in its index).
        text_columns = [item["id"] for item in fields
                        if item["type"] == "string" and item.get("search", "words") == "words"]
        sqlite_utils.Database(connection)[TABLE].enable_fts(text_columns, fts_version="FTS5",
                                                            tokenize="unicode61 remove_diacritics 2")
        connection.execute("ANALYZE")
        connection.commit()
    finally:
        connection.close()


class Datasette:
    """``datasette serve -i <file>`` on 127.0.0.1, stopped on exit."""

    def __init__(self, database: Path, log: Path):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.path = f"/{database.stem}/{TABLE}.json"
        self._log = log.open("wb")
        self.process = subprocess.Popen(
            [str(Path(sys.executable).with_name("datasette")), "serve", "-i", str(database), "-h", "127.0.0.1",
             "-p", str(self.port), "--setting", "suggest_facets", "off", "--setting", "sql_time_limit_ms", "60000"],
            stdout=self._log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(self.base + "/-/versions.json", timeout=2).read()
                return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"datasette did not start (see {log})")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self._log.close()

    def __enter__(self) -> Datasette:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def _query_string(params: dict) -> str:
    return urlencode(params, quote_via=quote)


def portal_paths(resource_id: str) -> dict[str, Callable[[str], str]]:
    rows = f"/api/v1/resources/{resource_id}/rows?"
    return {
        "filtered, sorted": lambda place: rows + _query_string({
            "filters": json.dumps({PLACE: place}, ensure_ascii=False), "sort": f"{AMOUNT} desc", "limit": 100}),
        "q": lambda word: rows + _query_string({"q": word, "limit": 100}),
    }


def datasette_paths(table_path: str) -> dict[str, Callable[[str], str]]:
    return {
        "filtered, sorted": lambda place: table_path + "?" + _query_string(
            {PLACE: place, "_sort_desc": AMOUNT, "_size": 100}),
        "q": lambda word: table_path + "?" + _query_string({"_search": word, "_size": 100}),
    }


ITEMS = {"filtered, sorted": QUERY_PLACES, "q": QUERY_WORDS}


def get(base: str, path: str) -> tuple[float, dict]:
    """One GET on a new connection; milliseconds until the whole body is read, and the JSON."""
    host, port = base.removeprefix("http://").split(":")
    if host != "127.0.0.1":
        raise ValueError("benchmarks only target loopback")
    started = time.perf_counter()
    connection = http.client.HTTPConnection(host, int(port), timeout=120)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        body = response.read()
    finally:
        connection.close()
    elapsed = (time.perf_counter() - started) * 1000
    if response.status != 200:
        raise RuntimeError(f"GET {path} answered {response.status}: {body[:300]!r}")
    return elapsed, json.loads(body)


def portal_answer(body: dict) -> tuple[int | None, list]:
    return body.get("total"), [record[CODE] for record in body["records"]]


def datasette_answer(body: dict) -> tuple[int | None, list]:
    at = body["columns"].index(CODE)
    return body.get("filtered_table_rows_count"), [row[at] for row in body["rows"]]


@dataclass
class Timings:
    """Milliseconds per query (``label``) and per query and place or word (``(label, item)``)."""

    samples: dict = field(default_factory=dict)

    def add(self, label: str, item: str, milliseconds: float) -> None:
        self.samples.setdefault(label, []).append(milliseconds)
        self.samples.setdefault((label, item), []).append(milliseconds)

    def p(self, key: str | tuple[str, str], fraction: float) -> float:
        ordered = sorted(self.samples[key])
        return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def compare(portal_base: str, resource_id: str, datasette: Datasette | None,
            requests: int) -> tuple[Timings, Timings, list[str]]:
    """Warm both servers on every query, check that they answer alike, then time ``requests`` of each query
    on each server, alternating. Returns the portal's timings, datasette's, and the differences found."""
    ours, theirs = portal_paths(resource_id), datasette_paths(datasette.path) if datasette else {}
    portal_times, datasette_times, differences = Timings(), Timings(), []
    for label, items in ITEMS.items():
        for item in items:
            _, body = get(portal_base, ours[label](item))
            if datasette is None:
                continue
            _, other = get(datasette.base, theirs[label](item))
            (total, codes), (other_total, other_codes) = portal_answer(body), datasette_answer(other)
            if total != other_total:
                differences.append(f"{label} {item!r}: total {total} on the portal, {other_total} on datasette")
            elif label == "filtered, sorted" and codes != other_codes:
                differences.append(f"{label} {item!r}: the first page differs")
    for label, items in ITEMS.items():
        for number in range(requests):
            item = items[number % len(items)]
            portal_times.add(label, item, get(portal_base, ours[label](item))[0])
            if datasette is not None:
                datasette_times.add(label, item, get(datasette.base, theirs[label](item))[0])
    return portal_times, datasette_times, differences
