"""The one authorization module: every permission check of the portal goes through ``can``.

Services call ``require``; views and queries never decide permissions themselves.
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import select

from opendata.accounts.models import Membership, Role, User
from opendata.catalog.models import Agency, Dataset, DatasetState, Resource
from opendata.errors import Forbidden, NotFound
from opendata.privacy.gate import resource_blocker
from opendata.extensions import db


class Action(StrEnum):
    DATASET_READ = "dataset:read"
    DATASET_CREATE = "dataset:create"
    DATASET_UPDATE = "dataset:update"
    DATASET_SUBMIT = "dataset:submit"
    DATASET_APPROVE = "dataset:approve"  # approve or reject a submitted dataset
    DATASET_PUBLISH = "dataset:publish"  # publish without review
    DATASET_WITHDRAW = "dataset:withdraw"
    DATASET_DELETE = "dataset:delete"
    DATASET_RESTORE = "dataset:restore"
    DATASET_PURGE = "dataset:purge"
    PRIVACY_OVERRIDE = "dataset:privacy_override"
    RESOURCE_UPLOAD = "resource:upload"
    RESOURCE_DOWNLOAD = "resource:download"
    AGENCY_CREATE = "agency:create"
    AGENCY_UPDATE = "agency:update"
    AGENCY_MANAGE_MEMBERS = "agency:manage_members"
    AGENCY_READ_ACTIVITY = "agency:read_activity"
    AUDIT_READ = "audit:read"
    USER_CREATE = "user:create"
    TOKEN_CREATE = "token:create"


_MEMBER_ACTIONS = {Action.DATASET_READ, Action.AGENCY_READ_ACTIVITY}
_EDITOR_ACTIONS = _MEMBER_ACTIONS | {
    Action.DATASET_CREATE, Action.DATASET_UPDATE, Action.DATASET_SUBMIT, Action.RESOURCE_UPLOAD,
}
ROLE_ACTIONS: dict[Role, frozenset[Action]] = {
    Role.MEMBER: frozenset(_MEMBER_ACTIONS),
    Role.EDITOR: frozenset(_EDITOR_ACTIONS),
    Role.ADMIN: frozenset(_EDITOR_ACTIONS | {
        Action.DATASET_APPROVE, Action.DATASET_PUBLISH, Action.DATASET_WITHDRAW, Action.DATASET_DELETE,
        Action.DATASET_RESTORE, Action.PRIVACY_OVERRIDE, Action.AGENCY_UPDATE, Action.AGENCY_MANAGE_MEMBERS,
    }),
}
# Actions that no agency role grants: only a sysadmin may take them.
SYSADMIN_ONLY = frozenset({Action.DATASET_PURGE, Action.AGENCY_CREATE, Action.USER_CREATE, Action.AUDIT_READ})
# What an agency admin may still do with a dataset in the trash; for everyone else it is gone.
_TRASH_ACTIONS = frozenset({Action.DATASET_READ, Action.DATASET_RESTORE})


def membership_role(user: User | None, agency_id: str | None) -> Role | None:
    """The user's role in the agency, or None for anonymous users and outsiders."""
    if user is None or agency_id is None or not user.is_authenticated:
        return None
    role = db.session.scalar(
        select(Membership.role).where(Membership.user_id == user.id, Membership.agency_id == agency_id)
    )
    return Role(role) if role else None


def member_agency_ids(user: User | None) -> list[str]:
    """Ids of the agencies the user belongs to, whatever the role."""
    if user is None or not user.is_authenticated:
        return []
    return list(db.session.scalars(select(Membership.agency_id).where(Membership.user_id == user.id)))


def read_scope(user: User | None) -> tuple[bool, list[str]]:
    """What a user may read beyond published datasets: (everything, agency ids).

    The one visibility rule: database lists (``queries.visible_datasets``) and the
    search backends (``search.service.visibility_for``) both derive from it, and it
    agrees with ``can(user, DATASET_READ, dataset)``.
    """
    if user is not None and getattr(user, "is_authenticated", False) and user.is_sysadmin:
        return True, []
    return False, member_agency_ids(user)


def can(user: User | None, action: Action, target: Dataset | Agency | Resource | User | None = None) -> bool:
    """Whether ``user`` (None when anonymous) may take ``action`` on ``target``."""
    if action is Action.RESOURCE_DOWNLOAD:
        return _can_download(user, target)
    if user is not None and getattr(user, "is_authenticated", False) and user.is_sysadmin:
        return True
    if action in SYSADMIN_ONLY:
        return False
    if action is Action.TOKEN_CREATE:
        return user is not None and isinstance(target, User) and target.id == user.id
    if isinstance(target, Dataset):
        if action is Action.DATASET_READ and target.is_published:
            return True
        agency_id = target.agency_id
    elif isinstance(target, Agency):
        agency_id = target.id
    else:
        return False
    role = membership_role(user, agency_id)
    if role is None:
        return False
    if isinstance(target, Dataset) and target.deleted_at is not None:
        return role is Role.ADMIN and action in _TRASH_ACTIONS
    if action is Action.DATASET_PUBLISH and role is Role.EDITOR:
        agency = target.agency if isinstance(target, Dataset) else target
        return agency.editors_publish
    return action in ROLE_ACTIONS[role]


def _can_download(user: User | None, resource: Resource) -> bool:
    """Readers get a file once the non-sensitive gate has cleared it; its editors always do.

    A file added to a published dataset is not served to the public until its
    personal-data scan is clean (or an admin accepted the findings).
    """
    dataset = resource.dataset
    if not can(user, Action.DATASET_READ, dataset):
        return False
    if can(user, Action.DATASET_UPDATE, dataset):
        return True
    return resource_blocker(dataset, resource) is None


def require(user: User | None, action: Action, target: Dataset | Agency | User | None = None) -> None:
    """Raise unless ``user`` may take ``action``.

    A reader who may not even see a dataset gets NotFound, as in CKAN, so that
    the existence of unpublished datasets does not leak.
    """
    if can(user, action, target):
        return
    if isinstance(target, Dataset) and not can(user, Action.DATASET_READ, target):
        raise NotFound()
    raise Forbidden()


__all__ = ["Action", "ROLE_ACTIONS", "Role", "can", "member_agency_ids", "membership_role", "read_scope", "require",
           "DatasetState"]
