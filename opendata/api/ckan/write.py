"""The write actions: CKAN's dicts translated into the catalogue's and accounts' services.

New datasets are drafts, as everywhere in the portal. CKAN's ``private`` is read as a
request to move through the publication workflow: ``private: false`` publishes
(``workflow.publish``: the agency's roles and the non-sensitive gate decide) and
``private: true`` withdraws a published dataset. A refusal comes back as CKAN's
"Validation Error" (409, with the reason) or "Authorization Error" (403); the
metadata saved before it stays saved, and the message says so.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import or_, select

from opendata.accounts import services as accounts
from opendata.accounts.models import User
from opendata.api.ckan.dicts import dataset_payload, member_dict, package_dict, resource_payload
from opendata.api.ckan.params import MISSING, Params
from opendata.api.ckan.read import agency_from, resource_from_document
from opendata.catalog import resources, services, workflow
from opendata.catalog.models import Agency, Dataset, Resource
from opendata.catalog.schemas import ResourceSchema
from opendata.catalog.services import load_payload
from opendata.errors import Conflict, Forbidden, NotFound, ValidationFailed
from opendata.extensions import db


def _agency_name(data: Mapping[str, Any]) -> str | None:
    """The agency ``owner_org`` (an id or a name, as CKAN accepts) or ``organization`` names."""
    key = data.get("owner_org")
    if not key and isinstance(data.get("organization"), Mapping):
        key = data["organization"].get("name") or data["organization"].get("id")
    if not key:
        return None
    if not isinstance(key, str):
        raise ValidationFailed(fields={"owner_org": ["Phải là mã hoặc tên của một cơ quan."]})
    name = db.session.scalar(select(Agency.name).where(or_(Agency.id == key, Agency.name == key)))
    if name is None:
        raise ValidationFailed(fields={"owner_org": ["Không tìm thấy cơ quan này."]})
    return name


def _private(data: Mapping[str, Any]) -> bool | None:
    value = data.get("private")
    if value is None or value == "":
        return None
    return Params({"private": value}).flag("private")


def _apply_private(actor: User, dataset: Dataset, private: bool | None) -> None:
    """``private: false`` publishes, ``private: true`` withdraws; saying what it already is does nothing."""
    if private is None or private == (not dataset.is_published):
        return
    try:
        if private:
            workflow.withdraw(actor, dataset)
        else:
            workflow.publish(actor, dataset)
    except (Conflict, Forbidden) as error:
        prefix = f"Đã lưu bộ dữ liệu «{dataset.name}» nhưng chưa {'ngừng ' if private else ''}công bố: "
        raise type(error)(prefix + error.message, fields=error.fields) from error


def _resource_values(item: Mapping[str, Any], current: Resource | None = None) -> dict[str, Any]:
    values = resource_payload(item)
    if isinstance(values.get("schema"), str):  # multipart and some clients send it as JSON text
        try:
            values["schema"] = json.loads(values["schema"])
        except ValueError:
            raise ValidationFailed(fields={"schema": ["Phải là một đối tượng JSON."]}) from None
    if current is not None and current.is_upload:
        values.pop("url", None)  # an upload's url is its download address, not something to set
    if current is None and not values.get("name") and values.get("url"):
        # CKAN lets a link go unnamed and shows its address; the portal names it after the address.
        values["name"] = values["url"].split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1][:500] or values["url"][:500]
    return values


def _check_resource_items(items: Any, dataset: Dataset | None = None) -> None:
    """Validate a ``resources`` list before the dataset or any resource changes (409 if one is wrong)."""
    if items is None:
        return
    if not isinstance(items, list) or not all(isinstance(item, Mapping) for item in items):
        raise ValidationFailed(fields={"resources": ["Phải là một danh sách tài nguyên."]})
    current = {resource.id: resource for resource in dataset.resources} if dataset is not None else {}
    for item in items:
        existing = current.get(item.get("id"))
        load_payload(ResourceSchema(), _resource_values(item, existing), partial=existing is not None)


def _sync_resources(actor: User, dataset: Dataset, items: Any) -> None:
    """Make the dataset's resources those listed: update by id, add (as links) the others, remove the rest."""
    if items is None:
        return
    if not isinstance(items, list) or not all(isinstance(item, Mapping) for item in items):
        raise ValidationFailed(fields={"resources": ["Phải là một danh sách tài nguyên."]})
    current = {resource.id: resource for resource in dataset.resources}
    listed = {item.get("id") for item in items}
    for resource_id, resource in current.items():
        if resource_id not in listed:
            resources.delete_resource(actor, dataset, resource)
    for item in items:
        if item.get("id") in current:
            values = _resource_values(item, current[item["id"]])
            if values:
                resources.update_resource(actor, dataset, current[item["id"]], values)
        else:
            resources.add_resource(actor, dataset, _resource_values(item))


def package_create(actor: User | None, params: Params) -> dict[str, Any]:
    """Create a draft dataset (resources given as links); ``private: false`` then publishes it."""
    data = params.data
    _check_resource_items(data.get("resources"))
    dataset = services.create_dataset(_signed_in(actor), dataset_payload(data, _agency_name(data)))
    _sync_resources(actor, dataset, data.get("resources"))
    _apply_private(actor, dataset, _private(data))
    return package_dict(dataset)


def _update(actor: User | None, params: Params, *, partial: bool) -> dict[str, Any]:
    data = params.data
    dataset = services.get_dataset(actor, params.first("id", "name"))
    _check_resource_items(data.get("resources"), dataset)
    agency = _agency_name(data) or (None if partial else dataset.agency.name)
    services.update_dataset(_signed_in(actor), dataset, dataset_payload(data, agency), partial=partial)
    _sync_resources(actor, dataset, data.get("resources"))
    _apply_private(actor, dataset, _private(data))
    return package_dict(dataset)


def package_update(actor: User | None, params: Params) -> dict[str, Any]:
    """Replace a dataset's metadata (fields left out are cleared); ``resources``, if given, become the list."""
    return _update(actor, params, partial=False)


def package_patch(actor: User | None, params: Params) -> dict[str, Any]:
    """Change only the fields given."""
    return _update(actor, params, partial=True)


def package_delete(actor: User | None, params: Params) -> None:
    """Move a dataset to the trash (agency admins); a sysadmin can still restore or purge it."""
    dataset = services.get_dataset(actor, params.first("id", "name"))
    workflow.delete(_signed_in(actor), dataset)


def _resource(actor: User | None, params: Params) -> tuple[Dataset, Resource]:
    resource_id = params.first("id")
    resource = db.session.get(Resource, resource_id)
    if resource is None:
        raise NotFound("Không tìm thấy tài nguyên này.")
    dataset = services.get_dataset(actor, resource.dataset_id)
    return dataset, resources.get_resource(dataset, resource_id)


def _upload(params: Params) -> resources.Upload | None:
    part = params.files.get("upload")
    if part is None or not part.filename:
        return None
    return resources.Upload(part.stream, part.filename)


def resource_create(actor: User | None, params: Params) -> dict[str, Any]:
    """Add a file (multipart field ``upload``) or a link (``url``) to the dataset ``package_id``."""
    dataset = services.get_dataset(actor, params.first("package_id"))
    upload = _upload(params)
    values = _resource_values(params.data)
    if upload is not None and not values.get("url"):
        values.pop("url", None)  # clients send url="" beside an upload
    resource = resources.add_resource(_signed_in(actor), dataset, values, upload)
    return resource_from_document(dataset, resource.id)


def resource_update(actor: User | None, params: Params) -> dict[str, Any]:
    """Change a resource: a new file in ``upload`` replaces the old one; the fields given are set."""
    dataset, resource = _resource(actor, params)
    upload = _upload(params)
    values = _resource_values(params.data, resource)
    if upload is not None:
        values.pop("url", None)  # clients send url="" beside an upload
    resources.update_resource(_signed_in(actor), dataset, resource, values, upload)
    return resource_from_document(dataset, resource.id)


def resource_delete(actor: User | None, params: Params) -> None:
    """Remove a resource and its file."""
    dataset, resource = _resource(actor, params)
    resources.delete_resource(_signed_in(actor), dataset, resource)


def _member(params: Params) -> tuple[Agency, User]:
    agency = agency_from(params)
    username = params.text("username") or params.text("user_id") or params.text("user")
    if not username:
        raise ValidationFailed(fields={"username": [MISSING]})
    return agency, accounts.get_user(username)


def organization_member_create(actor: User | None, params: Params) -> dict[str, Any]:
    """Give ``username`` the ``role`` (admin, editor, member) in the agency ``id``, or change it."""
    agency, user = _member(params)
    role = params.text("role", required=True)
    return member_dict(accounts.add_member(_signed_in(actor), agency, user, role))


def organization_member_delete(actor: User | None, params: Params) -> None:
    """Take ``username`` out of the agency ``id``."""
    agency, user = _member(params)
    accounts.remove_member(_signed_in(actor), agency, user)


def _signed_in(actor: User | None) -> User:
    """Writes need a token; without one CKAN answers "Authorization Error"."""
    if actor is None:
        raise Forbidden("Cần khóa API (Authorization hoặc X-CKAN-API-Key) để ghi dữ liệu.")
    return actor


ACTIONS = {function.__name__: function for function in (
    package_create, package_update, package_patch, package_delete, resource_create, resource_update,
    resource_delete, organization_member_create, organization_member_delete,
)}
# The portal's resource updates only ever change the fields given, so update and patch are one.
ACTIONS["resource_patch"] = resource_update
