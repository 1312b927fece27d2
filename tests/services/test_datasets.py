import pytest

from opendata.catalog import services, workflow
from opendata.activity.models import Activity
from opendata.catalog.models import DatasetState
from opendata.errors import Forbidden, NotFound, ValidationFailed
from opendata.extensions import db
from tests.factories import DatasetPayload, make_agency, make_dataset, make_user


@pytest.fixture
def agency(system):
    return make_agency(system, name="so-khoa-hoc-va-cong-nghe", title="Sở Khoa học và Công nghệ")


def test_create_dataset_names_it_from_the_vietnamese_title(system, agency):
    dataset = services.create_dataset(system, DatasetPayload(
        agency=agency.name, title="Danh mục nhiệm vụ, dự án chuyển đổi số 2026–2030"))
    assert dataset.name == "danh-muc-nhiem-vu-du-an-chuyen-doi-so-2026-2030"
    assert dataset.state == DatasetState.DRAFT
    again = services.create_dataset(system, DatasetPayload(
        agency=agency.name, title="Danh mục nhiệm vụ, dự án chuyển đổi số 2026–2030"))
    assert again.name == "danh-muc-nhiem-vu-du-an-chuyen-doi-so-2026-2030-2"


def test_create_dataset_stores_schema_fields_in_extras_and_nfc(system, agency):
    decomposed_title = "Tra\u0323m BTS ta\u0323i Đa\u0300 La\u0323t"
    dataset = services.create_dataset(system, DatasetPayload(
        agency=agency.name, title=decomposed_title, temporal_start="2025-01-01", spatial=["Phường Xuân Hương - Đà Lạt"],
        tags=["Viễn Thông", "5g"]))
    assert dataset.title == "Trạm BTS tại Đà Lạt"
    assert dataset.extras["temporal_start"] == "2025-01-01"
    assert dataset.extras["spatial"] == ["Phường Xuân Hương - Đà Lạt"]
    assert [tag.name for tag in dataset.tags] == ["5g", "viễn thông"]


def test_validation_errors_are_per_field_and_in_vietnamese(system, agency):
    with pytest.raises(ValidationFailed) as caught:
        services.create_dataset(system, {"title": "", "agency": agency.name, "license_id": "gpl",
                                         "contact_email": "không-phải-email", "mystery": 1})
    fields = caught.value.fields
    assert fields["title"] == ["Trường này là bắt buộc."]
    assert fields["notes"] == ["Trường này là bắt buộc."]
    assert "chọn một trong" in fields["license_id"][0]
    assert fields["contact_email"] == ["Địa chỉ thư điện tử không hợp lệ."]
    assert fields["mystery"] == ["Trường không được hỗ trợ."]


def test_unknown_agency_and_duplicate_name_are_field_errors(system, agency):
    with pytest.raises(ValidationFailed) as caught:
        services.create_dataset(system, DatasetPayload(agency="khong-ton-tai"))
    assert "agency" in caught.value.fields
    make_dataset(system, agency, name="ten-trung")
    with pytest.raises(ValidationFailed) as caught:
        services.create_dataset(system, DatasetPayload(agency=agency.name, name="ten-trung"))
    assert "name" in caught.value.fields


def test_a_failed_write_changes_nothing(system, agency):
    before = db.session.query(Activity).count()
    with pytest.raises(ValidationFailed):
        services.create_dataset(system, DatasetPayload(agency=agency.name, temporal_end="31/12/2025"))
    db.session.rollback()
    assert db.session.query(Activity).count() == before


def test_editor_creates_only_for_own_agency(system, agency):
    other = make_agency(system)
    editor = make_user(system, agency, "editor")
    assert services.create_dataset(editor, DatasetPayload(agency=agency.name)).agency_id == agency.id
    with pytest.raises(Forbidden):
        services.create_dataset(editor, DatasetPayload(agency=other.name))


def test_update_partial_keeps_other_fields_and_records_the_diff(system, agency):
    dataset = make_dataset(system, agency, version="1.0", source="Đề án")
    services.update_dataset(system, dataset, {"version": "2.0"}, partial=True)
    assert dataset.extras["version"] == "2.0"
    assert dataset.extras["source"] == "Đề án"
    activity = db.session.query(Activity).filter_by(verb="dataset:update").one()
    assert activity.data["before"]["version"] == "1.0"
    assert activity.data["after"]["version"] == "2.0"


def test_full_update_clears_optional_fields_left_out(system, agency):
    dataset = make_dataset(system, agency, version="1.0")
    payload = DatasetPayload(agency=agency.name, title=dataset.title)
    services.update_dataset(system, dataset, payload)
    assert "version" not in dataset.extras


def test_member_cannot_edit_and_outsider_cannot_see_a_draft(system, agency):
    draft = make_dataset(system, agency, published=False)
    member = make_user(system, agency, "member")
    outsider = make_user(system)
    with pytest.raises(Forbidden):
        services.update_dataset(member, draft, {"title": "Khác"}, partial=True)
    with pytest.raises(NotFound):
        services.update_dataset(outsider, draft, {"title": "Khác"}, partial=True)
    assert services.get_dataset(member, draft.name) is draft
    with pytest.raises(NotFound):
        services.get_dataset(None, draft.name)


def test_publish_needs_an_agency_admin(system, agency):
    draft = make_dataset(system, agency, published=False)
    editor = make_user(system, agency, "editor")
    admin = make_user(system, agency, "admin")
    with pytest.raises(Forbidden):
        workflow.publish(editor, draft)
    workflow.publish(admin, draft)
    assert draft.state == DatasetState.PUBLISHED and draft.published_at is not None
    assert services.get_dataset(None, draft.name) is draft
