"""Index maintenance that does not depend on the backend's query language."""

import multiprocessing
from pathlib import Path

from opendata.search.base import IndexEntry, SearchQuery, Visibility
from opendata.search.entries import entry_for
from opendata.search.whoosh_index import WhooshBackend
from tests.factories import make_agency, make_dataset


def _entry(number: int) -> IndexEntry:
    return IndexEntry(id=f"id-{number:04d}", name=f"ds-{number}", title=f"Bộ dữ liệu số {number}", tags_text="",
                      notes="", context_text="", resources_text="", facets={"organization": ("co-quan",)},
                      state="published", agency_id="a", published=1.0, updated=float(number), downloads=0,
                      name_sort=f"{number:04d}", version="v1")


def _write_many(folder: str, start: int) -> None:
    index = WhooshBackend(Path(folder))
    for number in range(start, start + 15):
        index.index([_entry(number)])
        # Reading between writes opens the index while the others commit.
        index.search(SearchQuery(visibility=Visibility()))


def test_several_processes_writing_at_once_lose_nothing(tmp_path):
    WhooshBackend(tmp_path).index([_entry(9999)])  # create the index before the race
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_write_many, args=(str(tmp_path), start)) for start in (0, 100, 200, 300)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
        assert worker.exitcode == 0
    result = WhooshBackend(tmp_path).search(SearchQuery(per_page=100, visibility=Visibility()))
    assert result.total == 61


def test_cli_reindex_and_check(runner, system):
    make_dataset(system, make_agency(system), title="Một bộ dữ liệu")
    result = runner.invoke(args=["search", "reindex"])
    assert result.exit_code == 0, result.output
    assert "1 datasets indexed" in result.output
    result = runner.invoke(args=["search", "check"])
    assert result.exit_code == 0 and "missing: 0; stale: 0; extra: 0" in result.output


def test_an_entry_changes_version_when_its_document_does(system):
    dataset = make_dataset(system, make_agency(system), themes=["du-lich"])
    before = entry_for(dataset).version
    dataset.document = {**dataset.document, "themes": [{"name": "du-lich", "title": "Du lịch và lữ hành"}]}
    assert entry_for(dataset).version != before
