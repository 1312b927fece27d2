"""One suite for both backends: the same queries must give the same answers."""

import pytest
from sqlalchemy import select

from opendata.accounts.services import create_token
from opendata.catalog import services
from opendata.catalog.models import Dataset
from opendata.extensions import db
from opendata.search import service, sync
from opendata.search.backends import backend
from tests.factories import make_agency, make_dataset, make_file_resource, make_user, xlsx_bytes


def titles(page):
    return [dataset.title for dataset in page.items]


@pytest.fixture
def agencies(system):
    return {
        "gd": make_agency(system, name="so-giao-duc-va-dao-tao", title="Sở Giáo dục và Đào tạo"),
        "yt": make_agency(system, name="so-y-te", title="Sở Y tế"),
        "kh": make_agency(system, name="so-khoa-hoc-va-cong-nghe", title="Sở Khoa học và Công nghệ"),
    }


def test_diacritics_and_case_fold(system, agencies):
    make_dataset(system, agencies["gd"], title="Danh sách trường học")
    make_dataset(system, agencies["yt"], title="Danh sách bệnh viện")
    for q in ("truong hoc", "trường học", "TRƯỜNG HỌC", "Truong Hoc"):
        assert titles(service.search_datasets(None, q=q)) == ["Danh sách trường học"], q
    assert titles(service.search_datasets(None, q="đà lạt")) == []
    make_dataset(system, agencies["yt"], title="Bệnh viện Đà Lạt")
    assert titles(service.search_datasets(None, q="da lat")) == ["Bệnh viện Đà Lạt"]


def test_an_exact_match_with_diacritics_ranks_first(system, agencies):
    make_dataset(system, agencies["kh"], title="Nhiều lắm dữ liệu")
    make_dataset(system, agencies["kh"], title="Kế hoạch lâm nghiệp")
    assert titles(service.search_datasets(None, q="lâm")) == ["Kế hoạch lâm nghiệp", "Nhiều lắm dữ liệu"]
    assert titles(service.search_datasets(None, q="lắm")) == ["Nhiều lắm dữ liệu", "Kế hoạch lâm nghiệp"]


def test_title_outweighs_description(system, agencies):
    make_dataset(system, agencies["kh"], title="Báo cáo năm", notes="Số liệu về trạm BTS của tỉnh.")
    make_dataset(system, agencies["kh"], title="Trạm BTS toàn tỉnh", notes="Danh sách.")
    assert titles(service.search_datasets(None, q="tram")) == ["Trạm BTS toàn tỉnh", "Báo cáo năm"]


def test_phrases_and_stop_words(system, agencies):
    make_dataset(system, agencies["kh"], title="Đề án chuyển đổi số tỉnh")
    make_dataset(system, agencies["kh"], title="Chuyển giao công nghệ số hóa, đổi mới")
    assert len(service.search_datasets(None, q="chuyển đổi số").items) == 2
    assert titles(service.search_datasets(None, q='"chuyển đổi số"')) == ["Đề án chuyển đổi số tỉnh"]
    assert titles(service.search_datasets(None, q='"chuyen doi so"')) == ["Đề án chuyển đổi số tỉnh"]
    # "và" is a stop word: it neither narrows nor empties a query.
    assert len(service.search_datasets(None, q="chuyển và số").items) == 2


def test_every_described_field_is_searched(system, agencies):
    tagged = make_dataset(system, agencies["gd"], title="Một", tags=["lệ phí trước bạ"])
    by_agency = make_dataset(system, agencies["yt"], title="Hai")
    by_theme = make_dataset(system, agencies["kh"], title="Ba", themes=["du-lich"])
    with_resource = make_dataset(system, agencies["kh"], title="Bốn")
    make_file_resource(system, with_resource, "Kinh phí,b\n1,2\n".encode(), filename="a.csv", name="Bảng điểm cầu truyền hình",
                       schema={"fields": [{"name": "Kinh phí", "type": "number", "description": "Ngân sách cấp"}]})
    assert titles(service.search_datasets(None, q="truoc ba")) == [tagged.title]
    assert titles(service.search_datasets(None, q="y te")) == [by_agency.title]
    assert titles(service.search_datasets(None, q="du lich")) == [by_theme.title]
    assert titles(service.search_datasets(None, q="truyen hinh")) == [with_resource.title]
    assert titles(service.search_datasets(None, q="ngan sach")) == [with_resource.title]
    assert titles(service.search_datasets(None, q="csv")) == [with_resource.title]


def test_facets_or_within_and_across_with_counts_under_other_filters(system, agencies):
    a = make_dataset(system, agencies["gd"], title="A", themes=["giao-duc-dao-tao"], tags=["học sinh"])
    make_file_resource(system, a, b"a,b\n1,2\n", filename="a.csv")
    b = make_dataset(system, agencies["yt"], title="B", themes=["y-te"], tags=["học sinh"])
    make_file_resource(system, b, xlsx_bytes([["a", "b"], [1, 2]]), filename="b.xlsx")
    make_dataset(system, agencies["yt"], title="C", themes=["y-te"], update_frequency="monthly")
    page = service.search_datasets(None)
    counts = {name: {item.value: item.count for item in values} for name, values in page.facets.items()}
    assert counts["organization"] == {"so-giao-duc-va-dao-tao": 1, "so-y-te": 2}
    assert counts["groups"] == {"giao-duc-dao-tao": 1, "y-te": 2}
    assert counts["res_format"] == {"CSV": 1, "XLSX": 1}
    assert counts["tags"]["học sinh"] == 2
    assert counts["license_id"] == {"cc-by": 3}
    assert counts["update_frequency"] == {"annual": 2, "monthly": 1}
    assert set(counts["year"]) == {str(a.updated_at.year)}
    labels = {item.value: item.label for item in page.facets["organization"]}
    assert labels["so-y-te"] == "Sở Y tế"

    both = service.search_datasets(None, filters={"organization": ["so-y-te", "so-giao-duc-va-dao-tao"]})
    assert both.total == 3
    narrowed = service.search_datasets(None, filters={"organization": ["so-y-te"], "tags": ["học sinh"]})
    assert titles(narrowed) == ["B"]
    org_counts = {item.value: item.count for item in narrowed.facets["organization"]}
    # The agency facet counts under the tag filter only, so the other agency stays selectable.
    assert org_counts == {"so-giao-duc-va-dao-tao": 1, "so-y-te": 1}
    tag_counts = {item.value: item.count for item in narrowed.facets["tags"]}
    assert tag_counts == {"học sinh": 1, "thử nghiệm": 1}


def test_sorts_and_pagination(system, agencies):
    first = make_dataset(system, agencies["kh"], title="Bảng C")
    second = make_dataset(system, agencies["kh"], title="Bảng A")
    third = make_dataset(system, agencies["kh"], title="Bảng B")
    db.session.execute(db.text("UPDATE dataset SET download_count = 7 WHERE id = :id"), {"id": first.id})
    db.session.commit()
    services.update_dataset(system, first, {"version": "2"}, partial=True)  # reindexes with its count
    assert titles(service.search_datasets(None, sort="name")) == ["Bảng A", "Bảng B", "Bảng C"]
    assert titles(service.search_datasets(None, sort="newest")) == ["Bảng B", "Bảng A", "Bảng C"]
    assert titles(service.search_datasets(None, sort="updated"))[0] == "Bảng C"
    assert titles(service.search_datasets(None, sort="downloads"))[0] == "Bảng C"
    assert titles(service.search_datasets(None, sort="title_string asc")) == ["Bảng A", "Bảng B", "Bảng C"]
    page2 = service.search_datasets(None, sort="name", page=2, per_page=2)
    assert titles(page2) == ["Bảng C"] and page2.total == 3 and page2.pages == 2
    assert service.search_datasets(None, sort="name", page=9, per_page=2).items == []
    assert second and third


def test_snippets_highlight_the_matches(system, agencies):
    make_dataset(system, agencies["kh"], title="Hạ tầng", notes="Số trạm <b>BTS</b> tại Đà Lạt tăng nhanh.")
    page = service.search_datasets(None, q="da lat")
    snippet = str(next(iter(page.snippets.values())))
    assert "<mark>Đà</mark> <mark>Lạt</mark>" in snippet and "<b>" not in snippet


def test_did_you_mean(system, agencies):
    make_dataset(system, agencies["kh"], title="Đề án chuyển đổi số tỉnh Lâm Đồng")
    page = service.search_datasets(None, q="chuyen doi xo")
    assert page.total == 0 and page.suggestion == "chuyển đổi số"
    assert service.search_datasets(None, q="chuyển đổi số").suggestion is None


def test_autocomplete(system, agencies):
    make_dataset(system, agencies["kh"], title="Chuyển đổi số 2026")
    make_dataset(system, agencies["kh"], title="Chuyên đề khác")
    assert [d.title for d in service.autocomplete(None, "chuyen do")] == ["Chuyển đổi số 2026"]
    assert {d.title for d in service.autocomplete(None, "chuy")} == {"Chuyển đổi số 2026", "Chuyên đề khác"}
    assert service.autocomplete(None, "") == []


def test_unpublished_datasets_never_show_to_those_who_may_not_see_them(system, agencies):
    make_dataset(system, agencies["yt"], title="Công khai về bệnh viện")
    make_dataset(system, agencies["yt"], title="Bí mật bệnh viện xyzzy", tags=["nội bộ"], published=False)
    anonymous = service.search_datasets(None, q="bệnh viện")
    assert titles(anonymous) == ["Công khai về bệnh viện"]
    counts = {item.value: item.count for item in anonymous.facets["organization"]}
    assert counts == {"so-y-te": 1}
    everything = service.search_datasets(None)
    assert everything.total == 1
    assert all(item.value != "nội bộ" for item in everything.facets["tags"])
    assert service.autocomplete(None, "bi mat") == []
    assert service.search_datasets(None, q="xyzzi").suggestion is None
    member = make_user(system, agencies["yt"], "member")
    assert service.search_datasets(member, q="bệnh viện").total == 2
    assert service.search_datasets(member, q="bệnh viện", include_private=False).total == 1
    assert [d.title for d in service.autocomplete(member, "bi mat")] == ["Bí mật bệnh viện xyzzy"]
    outsider = make_user(system, agencies["gd"], "admin")
    assert service.search_datasets(outsider, q="bệnh viện").total == 1
    sysadmin = make_user(system, is_sysadmin=True)
    assert service.search_datasets(sysadmin, q="bệnh viện").total == 2


def test_the_index_follows_commits_not_rollbacks(system, agencies):
    dataset = make_dataset(system, agencies["kh"], title="Bản đồ quy hoạch")
    dataset.title = "Tên chưa lưu"
    db.session.flush()
    db.session.rollback()
    assert titles(service.search_datasets(None, q="chua luu")) == []
    services.update_dataset(system, dataset, {"title": "Bản đồ hành chính"}, partial=True)
    assert titles(service.search_datasets(None, q="hanh chinh")) == ["Bản đồ hành chính"]
    assert titles(service.search_datasets(None, q="quy hoach")) == []
    dataset.deleted_at = dataset.updated_at
    db.session.commit()
    assert service.search_datasets(None, q="ban do").total == 0


def test_check_finds_and_repairs_drift_and_reindex_rebuilds(system, agencies):
    kept = make_dataset(system, agencies["kh"], title="Giữ lại")
    lost = make_dataset(system, agencies["kh"], title="Bị mất khỏi chỉ mục")
    backend().remove([lost.id])
    drift = sync.check()
    assert drift.missing == [lost.id] and drift.extra == [] and drift.stale == []
    assert sync.check(repair=True).total == 1
    assert sync.check().total == 0
    assert sync.reindex() == 2
    assert service.search_datasets(None).total == 2 and kept


def test_a_failed_rebuild_leaves_the_old_index_serving(system, agencies):
    make_dataset(system, agencies["kh"], title="Vẫn tìm được")

    def broken():
        yield from sync.indexable()
        raise RuntimeError("crash in the middle of a rebuild")

    with pytest.raises(RuntimeError):
        backend().rebuild(broken())
    assert titles(service.search_datasets(None, q="tim duoc")) == ["Vẫn tìm được"]


def test_search_page_carries_state_in_the_url(client, system, agencies):
    make_dataset(system, agencies["gd"], title="Danh sách trường học", tags=["trường học"])
    make_dataset(system, agencies["yt"], title="Danh sách bệnh viện")
    html = client.get("/dataset?q=danh+sach&organization=so-y-te&sort=name").get_data(as_text=True)
    assert "1 bộ dữ liệu" in html and "Danh sách bệnh viện" in html and "Danh sách trường học" not in html
    assert "Cơ quan: Sở Y tế" in html  # the active filter's chip
    assert "<mark>" in html or "Danh sách" in html
    empty = client.get("/dataset?q=chuyen+doi+xo").get_data(as_text=True)
    assert "Không tìm thấy bộ dữ liệu phù hợp" in empty
    answer = client.get("/api/util/dataset/autocomplete?incomplete=benh").json
    assert [item["title"] for item in answer["ResultSet"]["Result"]] == ["Danh sách bệnh viện"]
    assert client.get("/api/util/dataset/autocomplete?incomplete=x&limit=abc").status_code == 200
    assert client.get("/dataset?page=-3&sort=nonsense&res_format=").status_code == 200


def test_members_see_their_drafts_on_the_page_with_a_token(client, system, agencies):
    make_dataset(system, agencies["yt"], title="Bản nháp nội bộ", published=False)
    member = make_user(system, agencies["yt"], "editor")
    _, secret = create_token(system, member, "t")
    assert "Bản nháp nội bộ" not in client.get("/dataset").get_data(as_text=True)
    html = client.get("/dataset", headers={"Authorization": secret}).get_data(as_text=True)
    assert "Bản nháp nội bộ" in html and "Chưa công bố" in html


def test_odd_queries_answer_without_error(client, system, agencies):
    make_dataset(system, agencies["kh"], title="Dữ liệu số")
    for query in ('""', "%", "a:b OR NOT c*", "dữ " * 400, "<script>", "\u0000"):
        response = client.get("/dataset", query_string={"q": query})
        assert response.status_code == 200, query
    assert service.search_datasets(None, q="dữ liệu " * 100).total == 1
    assert service.search_datasets(None, page=10**6).items == []


def test_nothing_published_means_nothing_suggested(client, system, agencies):
    make_dataset(system, agencies["yt"], title="Bí mật quốc phòng", published=False)
    assert service.autocomplete(None, "bi") == []
    answer = client.get("/api/util/dataset/autocomplete?incomplete=bi").json
    assert answer["ResultSet"]["Result"] == []
    assert service.search_datasets(None, q="bí mật").total == 0


def test_control_characters_and_giant_words_neither_fail_nor_block_indexing(client, system, agencies):
    make_dataset(system, agencies["kh"], title="Dân số tỉnh", tags=["dân số"], notes="y" * 3000)
    assert client.get("/dataset", query_string={"q": "dân", "tags": ["dân số", "\x00"]}).status_code == 200
    assert client.get("/dataset", query_string={"q": "x" * 3000}).status_code == 200
    assert titles(service.search_datasets(None, q="dan so")) == ["Dân số tỉnh"]
    assert sync.check().total == 0


def test_a_filter_keeps_the_relevance_order_of_what_it_keeps(system, agencies):
    """Relevance pages are the query's ranking restricted to the allowed datasets (the ranking
    is computed once per index generation); a facet filter must not reorder them."""
    for index in range(6):
        agency = agencies["gd"] if index % 2 else agencies["yt"]
        make_dataset(system, agency, title=f"Trường học {'trường ' * index}số {index}", tags=["trường học"])
    everything = titles(service.search_datasets(None, q="trường", per_page=50))
    only_gd = titles(service.search_datasets(None, q="trường", filters={"organization": ["so-giao-duc-va-dao-tao"]},
                                             per_page=50))
    gd_titles = {d.title for d in db.session.scalars(select(Dataset).where(Dataset.agency_id == agencies["gd"].id))}
    assert only_gd == [title for title in everything if title in gd_titles]
    assert len(only_gd) == 3
