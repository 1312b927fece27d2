"""Field-level diffs of activities and their Vietnamese sentences (activity/diff.py, activity/queries.py)."""

from __future__ import annotations

from datetime import datetime

import pytest

from opendata.accounts.models import User
from opendata.activity.diff import ADDED, CHANGED, REMOVED, field_diff, line_diff
from opendata.activity.models import Activity
from opendata.activity.queries import describe
from opendata.clock import local_time

BEFORE = {
    "id": "d1", "title": "Danh sách trường học", "name": "truong-hoc", "tags": ["trường học", "giáo dục"],
    "themes": ["giao-duc-dao-tao"], "license_id": "cc-by", "update_frequency": "annual",
    "notes": "Dòng một.\nDòng hai.\nDòng ba.", "updated_at": "2026-01-01T00:00:00", "state": "draft",
}


def _by_field(changes):
    return {change.field: change for change in changes}


def test_changed_fields_carry_vietnamese_labels_and_old_and_new_values():
    after = {**BEFORE, "title": "Danh sách trường học Đà Lạt", "updated_at": "2026-02-02T00:00:00"}
    [change] = field_diff(BEFORE, after)  # updated_at is bookkeeping, not a change
    assert (change.field, change.label, change.kind) == ("title", "Tên bộ dữ liệu", CHANGED)
    assert (change.old, change.new) == ("Danh sách trường học", "Danh sách trường học Đà Lạt")


def test_list_fields_show_the_items_added_and_removed():
    after = {**BEFORE, "tags": ["trường học", "mầm non"]}
    change = _by_field(field_diff(BEFORE, after))["tags"]
    assert change.label == "Từ khóa" and change.is_list
    assert change.items_added == ("mầm non",) and change.items_removed == ("giáo dục",)


def test_vocabulary_values_are_shown_by_their_labels():
    after = {**BEFORE, "themes": ["giao-duc-dao-tao", "y-te"], "update_frequency": "monthly", "license_id": "cc-by-sa"}
    changes = _by_field(field_diff(BEFORE, after))
    assert changes["themes"].items_added == ("Y tế",)
    assert changes["update_frequency"].new == "Hằng tháng"
    assert changes["license_id"].old.startswith("Creative Commons Ghi công 4.0")


def test_long_text_is_a_line_diff():
    after = {**BEFORE, "notes": "Dòng một.\nDòng hai đã sửa.\nDòng ba."}
    change = _by_field(field_diff(BEFORE, after))["notes"]
    assert change.is_text_diff
    assert [(line.op, line.text) for line in change.lines] == [
        ("same", "Dòng một."), ("removed", "Dòng hai."), ("added", "Dòng hai đã sửa."), ("same", "Dòng ba.")]


def test_a_line_diff_folds_long_runs_of_unchanged_lines():
    old = "\n".join(f"dòng {n}" for n in range(20))
    lines = line_diff(old, old.replace("dòng 10", "dòng mười"))
    assert [(line.op, line.text) for line in lines] == [
        ("gap", "… 8 dòng không đổi …"), ("same", "dòng 8"), ("same", "dòng 9"),
        ("removed", "dòng 10"), ("added", "dòng mười"),
        ("same", "dòng 11"), ("same", "dòng 12"), ("gap", "… 7 dòng không đổi …")]


def test_added_and_removed_fields_and_creation():
    changes = _by_field(field_diff({**BEFORE, "version": "1.0"}, {**BEFORE, "source": "Điều tra 2025"}))
    assert changes["version"].kind == REMOVED and changes["version"].new is None
    assert changes["source"].kind == ADDED and changes["source"].label == "Nguồn dữ liệu"
    created = _by_field(field_diff(None, BEFORE))
    assert all(change.kind == ADDED for change in created.values()) and "id" not in created
    assert created["state"].new == "Bản nháp"


def test_resource_fields_use_the_resource_labels():
    before = {"name": "du-lieu.csv", "size": 10, "dataset": "truong-hoc", "dataset_id": "d1",
              "schema": {"fields": [{"name": "ma", "type": "string"}]}}
    after = {**before, "name": "Dữ liệu 2025", "size": 20,
             "schema": {"fields": [{"name": "ma", "type": "string"}, {"name": "so_hoc_sinh", "type": "integer"}]}}
    changes = _by_field(field_diff(before, after, "resource"))
    assert changes["name"].label == "Tên tài nguyên"
    assert changes["size"].type == "integer" and changes["size"].new == 20
    assert changes["schema"].items_added == ("so_hoc_sinh (integer)",)
    assert "dataset" not in changes and "dataset_id" not in changes


def test_equal_dicts_have_no_changes():
    assert field_diff(BEFORE, dict(BEFORE)) == []
    assert field_diff(None, None) == []


ACTOR = User(name="nguyen-van-a", fullname="Nguyễn Văn A")


def _activity(verb: str, before=None, after=None, actor=ACTOR) -> Activity:
    data = {key: value for key, value in (("before", before), ("after", after)) if value is not None}
    return Activity(verb=verb, object_type=verb.split(":")[0], object_id="x", data=data, actor=actor,
                    actor_id=actor.id if actor else None)


FILE = {"name": "x.csv", "filename": "x.csv", "sha256": "ab" * 32, "dataset": "truong-hoc", "dataset_id": "d1"}


@pytest.mark.parametrize("verb, before, after, expected", [
    ("agency:create", None, {"title": "Sở Y tế"}, "Nguyễn Văn A đã tạo cơ quan «Sở Y tế»."),
    ("dataset:create", None, BEFORE, "Nguyễn Văn A đã tạo bộ dữ liệu «Trường học»."),
    ("dataset:update", BEFORE, BEFORE, "Nguyễn Văn A đã sửa thông tin bộ dữ liệu «Trường học»."),
    ("dataset:submit", {"state": "draft"}, {"state": "pending"}, "Nguyễn Văn A đã gửi duyệt bộ dữ liệu «Trường học»."),
    ("dataset:approve", {"state": "pending"}, {"state": "published"},
     "Nguyễn Văn A đã duyệt và công bố bộ dữ liệu «Trường học»."),
    ("dataset:reject", {"state": "pending"}, {"state": "draft", "comment": "Thiếu nguồn dữ liệu."},
     "Nguyễn Văn A đã trả lại bộ dữ liệu «Trường học» để sửa: Thiếu nguồn dữ liệu."),
    ("dataset:publish", {"state": "draft"}, {"state": "published"}, "Nguyễn Văn A đã công bố bộ dữ liệu «Trường học»."),
    ("dataset:withdraw", {"state": "published"}, {"state": "withdrawn"},
     "Nguyễn Văn A đã ngừng công bố bộ dữ liệu «Trường học»."),
    ("dataset:delete", {"state": "draft"}, {"state": "deleted"},
     "Nguyễn Văn A đã chuyển bộ dữ liệu «Trường học» vào thùng rác."),
    ("dataset:restore", {"state": "deleted"}, {"state": "draft"},
     "Nguyễn Văn A đã khôi phục bộ dữ liệu «Trường học» từ thùng rác."),
    ("dataset:restore", {"state": "withdrawn"}, {"state": "published"},
     "Nguyễn Văn A đã công bố lại bộ dữ liệu «Trường học»."),
    ("dataset:purge", {**BEFORE, "resources": ["a.csv", "b.csv"]}, None,
     "Nguyễn Văn A đã xóa vĩnh viễn bộ dữ liệu «Trường học» cùng 2 tệp."),
    ("dataset:privacy_override", {"privacy_override": None},
     {"reason": "Số điện thoại là đường dây nóng công khai.", "files": {"x.csv": ["phone"]}},
     "Nguyễn Văn A đã xác nhận công bố bộ dữ liệu «Trường học» dù có dữ liệu cá nhân: "
     "Số điện thoại là đường dây nóng công khai."),
    ("dataset:reorder", {"resources": ["1", "2"]}, {"resources": ["2", "1"]},
     "Nguyễn Văn A đã sắp xếp lại thứ tự các tệp của bộ dữ liệu «Trường học»."),
    ("resource:create", None, FILE, "Nguyễn Văn A đã tải lên tệp «x.csv» của bộ dữ liệu «Trường học»."),
    ("resource:create", None, {"name": "Bản đồ", "url": "https://example.org/a", "dataset_id": "d1"},
     "Nguyễn Văn A đã thêm liên kết «Bản đồ» của bộ dữ liệu «Trường học»."),
    ("resource:replace", FILE, {**FILE, "filename": "y.csv", "name": "y.csv"},
     "Nguyễn Văn A đã thay tệp «x.csv» bằng tệp «y.csv» của bộ dữ liệu «Trường học»."),
    ("resource:update", FILE, {**FILE, "name": "Dữ liệu"},
     "Nguyễn Văn A đã sửa thông tin tệp «Dữ liệu» của bộ dữ liệu «Trường học»."),
    ("resource:delete", FILE, None, "Nguyễn Văn A đã xóa tệp «x.csv» của bộ dữ liệu «Trường học»."),
    ("membership:create", None, {"user": "tran-b", "agency": "so-y-te", "role": "editor"},
     "Nguyễn Văn A đã thêm tran-b vào cơ quan với vai trò biên tập viên."),
    ("membership:update", {"role": "member"}, {"user": "tran-b", "role": "admin"},
     "Nguyễn Văn A đã đổi vai trò của tran-b từ thành viên sang quản trị viên."),
    ("membership:delete", {"user": "tran-b", "role": "member"}, None, "Nguyễn Văn A đã đưa tran-b ra khỏi cơ quan."),
    ("invitation:create", None, {"email": "b@example.org", "role": "member"},
     "Nguyễn Văn A đã mời b@example.org tham gia cơ quan với vai trò thành viên."),
    ("invitation:revoke", None, {"email": "b@example.org", "role": "member", "reason": "Gửi nhầm địa chỉ."},
     "Nguyễn Văn A đã hủy lời mời gửi b@example.org: Gửi nhầm địa chỉ."),
    ("invitation:accept", None, {"email": "b@example.org", "role": "editor", "user": "nguyen-van-a"},
     "Nguyễn Văn A đã nhận lời mời tham gia cơ quan với vai trò biên tập viên."),
    ("token:create", None, {"user": "tran-b", "name": "Máy chủ thu thập"},
     "Nguyễn Văn A đã tạo khóa API «Máy chủ thu thập» cho tran-b."),
    ("token:revoke", None, {"user": "tran-b", "name": "Máy chủ thu thập"},
     "Nguyễn Văn A đã thu hồi khóa API «Máy chủ thu thập» của tran-b."),
    ("user:password_reset", None, None, "Nguyễn Văn A đã đặt lại mật khẩu."),
])
def test_every_verb_has_a_vietnamese_sentence(verb, before, after, expected):
    assert describe(_activity(verb, before, after), "Trường học") == expected


def test_sentences_name_people_as_people_know_them():
    activity = _activity("membership:update", {"role": "member"}, {"user": "tran-b", "role": "admin"})
    assert describe(activity, people={"tran-b": "Trần Thị B"}) == (
        "Nguyễn Văn A đã đổi vai trò của Trần Thị B từ thành viên sang quản trị viên.")


def test_a_sentence_without_a_subject_and_without_an_actor():
    activity = _activity("dataset:submit", {"state": "draft"}, {"state": "pending"}, actor=None)
    assert describe(activity) == "Hệ thống đã gửi duyệt bộ dữ liệu."
    upload = _activity("resource:create", None, FILE)
    assert describe(upload) == "Nguyễn Văn A đã tải lên tệp «x.csv»."


def test_times_are_shown_in_vietnam_time():
    assert local_time(datetime(2026, 3, 1, 20, 30)) == datetime(2026, 3, 2, 3, 30)
