"""The publication workflow and the non-sensitive gate, through the services."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from opendata.activity.models import Activity
from opendata.catalog import resources, workflow
from opendata.catalog.models import Dataset, DatasetState
from opendata.errors import Conflict, Forbidden, ValidationFailed
from opendata.extensions import db
from tests.factories import make_agency, make_dataset, make_file_resource, make_user

CCCD_CSV = ("Họ và tên,Số CCCD,Xã\n"
            "Nguyễn Văn An,068095001234,Xuân Hương\n"
            "Trần Thị Bình,068196004321,Lâm Viên\n").encode()
CLEAN_CSV = "Xã,Số hồ sơ trực tuyến\nXuân Hương,1.234\nLâm Viên,987\n".encode()


@pytest.fixture
def agency(system):
    return make_agency(system)


@pytest.fixture
def editor(system, agency):
    return make_user(system, agency, "editor")


@pytest.fixture
def admin(system, agency):
    return make_user(system, agency, "admin")


@pytest.fixture
def draft(editor, agency):
    return make_dataset(editor, agency, published=False)


def _verbs(dataset: Dataset) -> list[str]:
    return list(db.session.scalars(select(Activity.verb).where(Activity.object_id == dataset.id)
                                   .order_by(Activity.id)))


def test_draft_to_published_through_review(editor, admin, draft):
    make_file_resource(editor, draft, CLEAN_CSV, "ho-so.csv")
    workflow.submit(editor, draft)
    assert draft.state == DatasetState.PENDING and not draft.is_published
    workflow.approve(admin, draft)
    assert draft.is_published and draft.published_at is not None
    assert draft.document["state"] == "published"
    assert _verbs(draft)[-2:] == ["dataset:submit", "dataset:approve"]


def test_editor_cannot_approve_nor_publish_unless_the_agency_allows(editor, draft, agency):
    workflow.submit(editor, draft)
    with pytest.raises(Forbidden):
        workflow.approve(editor, draft)
    with pytest.raises(Forbidden):
        workflow.publish(editor, draft)
    agency.editors_publish = True
    db.session.commit()
    workflow.publish(editor, draft)
    assert draft.is_published


def test_submit_needs_an_open_classification(editor, agency):
    unclassified = make_dataset(editor, agency, published=False, access_level=None, importance=None)
    with pytest.raises(Conflict) as refused:
        workflow.submit(editor, unclassified)
    assert set(refused.value.fields) == {"access_level", "importance"}
    shared = make_dataset(editor, agency, published=False, access_level="shared")
    with pytest.raises(Conflict):
        workflow.submit(editor, shared)
    assert shared.state == DatasetState.DRAFT


def test_only_open_data_is_ever_published(system, agency):
    private = make_dataset(system, agency, published=False, access_level="private")
    with pytest.raises(Conflict) as refused:
        workflow.publish(system, private)  # not even a sysadmin
    assert "Dữ liệu mở" in refused.value.message
    assert private.state == DatasetState.DRAFT


def test_reject_needs_a_comment_and_returns_to_draft(editor, admin, draft):
    workflow.submit(editor, draft)
    with pytest.raises(ValidationFailed):
        workflow.reject(admin, draft, "không")
    assert draft.state == DatasetState.PENDING
    workflow.reject(admin, draft, "Thiếu từ điển dữ liệu cho cột Kinh phí.")
    assert draft.state == DatasetState.DRAFT
    activity = db.session.scalars(select(Activity).where(Activity.verb == "dataset:reject")).one()
    assert activity.data["after"]["comment"] == "Thiếu từ điển dữ liệu cho cột Kinh phí."


def test_withdraw_and_restore(admin, agency):
    dataset = make_dataset(admin, agency)
    workflow.withdraw(admin, dataset, "Số liệu đang được rà soát lại.")
    assert dataset.state == DatasetState.WITHDRAWN and not dataset.is_published
    workflow.restore(admin, dataset)
    assert dataset.is_published


def test_trash_restore_and_purge_removes_files(app, system, admin, agency):
    dataset = make_dataset(admin, agency)
    resource = make_file_resource(admin, dataset, CLEAN_CSV, "ho-so.csv")
    path = resources.resource_path(resource)
    workflow.delete(admin, dataset)
    assert dataset.deleted_at is not None and path.exists()
    with pytest.raises(Conflict):
        workflow.publish(system, dataset)
    workflow.restore(admin, dataset)
    assert dataset.is_published
    with pytest.raises(Conflict):
        workflow.purge(system, dataset)  # only from the trash
    workflow.delete(admin, dataset)
    with pytest.raises(Forbidden):
        workflow.purge(admin, dataset)
    dataset_id = dataset.id
    workflow.purge(system, dataset)
    assert db.session.get(Dataset, dataset_id) is None
    assert not path.exists()
    purge = db.session.scalars(select(Activity).where(Activity.verb == "dataset:purge")).one()
    assert purge.object_id == dataset_id and purge.data["before"]["title"]


def test_a_csv_with_cccd_numbers_needs_a_recorded_override(editor, admin, draft):
    resource = make_file_resource(editor, draft, CCCD_CSV, "danh-sach.csv")
    assert resource.privacy_scan["status"] == "done"
    report = resource.privacy_scan["report"]
    found = {finding["kind"] for column in report["columns"] for finding in column["findings"]}
    assert "cccd" in found
    samples = [s for column in report["columns"] for f in column["findings"] for s in f["samples"]]
    assert samples and not any("068095001234" in sample for sample in samples)  # masked
    workflow.submit(editor, draft)
    with pytest.raises(Conflict) as refused:
        workflow.approve(admin, draft)
    assert "dữ liệu cá nhân" in refused.value.message
    with pytest.raises(Forbidden):
        workflow.override_privacy(editor, draft, "Đã có văn bản đồng ý của người dân.")
    with pytest.raises(ValidationFailed):
        workflow.override_privacy(admin, draft, "ok")
    workflow.override_privacy(admin, draft, "Danh sách đã được công khai theo Quyết định 12/QĐ-UBND.")
    workflow.approve(admin, draft)
    assert draft.is_published
    override = db.session.scalars(select(Activity).where(Activity.verb == "dataset:privacy_override")).one()
    assert override.actor_id == admin.id
    assert override.data["after"]["reason"].startswith("Danh sách đã được công khai")
    assert "cccd" in override.data["after"]["files"]["danh-sach.csv"]


def test_replacing_the_file_voids_the_override(editor, admin, draft):
    resource = make_file_resource(editor, draft, CCCD_CSV, "danh-sach.csv")
    workflow.submit(editor, draft)
    workflow.override_privacy(admin, draft, "Danh sách đã được công khai theo quyết định.")
    longer = CCCD_CSV + "Lê Văn Cường,068090009999,Xuân Trường\n".encode()
    resources.replace_file(editor, draft, resource, resources.Upload(io.BytesIO(longer), "danh-sach-moi.csv"))
    with pytest.raises(Conflict):
        workflow.approve(admin, draft)


def test_personal_data_in_a_new_file_is_not_served_to_the_public(client, editor, admin, agency):
    dataset = make_dataset(admin, agency)
    resource = make_file_resource(editor, dataset, CCCD_CSV, "danh-sach.csv")
    url = f"/dataset/{dataset.name}/resource/{resource.id}/download/danh-sach.csv"
    assert dataset.is_published
    refused = client.get(url)
    assert refused.status_code == 403
    assert "dữ liệu cá nhân" in refused.get_data(as_text=True)
    assert client.get(url, headers={"Authorization": f"Bearer {_token(admin)}"}).status_code == 200
    clean = make_file_resource(editor, dataset, CLEAN_CSV, "ho-so.csv")
    assert client.get(f"/dataset/{dataset.name}/resource/{clean.id}/download/ho-so.csv").status_code == 200


def _token(user) -> str:
    from opendata.accounts.services import create_token
    return create_token(user, user, "thử nghiệm")[1]
