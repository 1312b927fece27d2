"""``authz.can`` alone: role × action × dataset state, against one table of expected outcomes.

Whether a state allows a step is the workflow's business (409), tested with the
HTML views in ``test_workflow_table.py``; this table is only about who may.
"""

import pytest

from opendata.authz import Action, can
from opendata.catalog.models import Dataset, DatasetState, utcnow
from opendata.catalog.queries import visible_datasets
from opendata.extensions import db
from tests.authz.conftest import ROLES
from tests.factories import make_dataset

STATES = ["draft", "pending", "published", "withdrawn", "deleted"]
DATASET_ACTIONS = [Action.DATASET_READ, Action.DATASET_UPDATE, Action.RESOURCE_UPLOAD, Action.DATASET_SUBMIT,
                   Action.DATASET_APPROVE, Action.DATASET_PUBLISH, Action.DATASET_WITHDRAW, Action.DATASET_DELETE,
                   Action.DATASET_RESTORE, Action.PRIVACY_OVERRIDE, Action.DATASET_PURGE]

# Who may act on a dataset of agency A, by state. "*" = every state.
ALLOWED: dict[Action, dict[str, set[str]]] = {
    Action.DATASET_READ: {
        "published": {"anonymous", "user", "member_a", "editor_a", "admin_a", "editor_b", "sysadmin"},
        "*": {"member_a", "editor_a", "admin_a", "sysadmin"},
        "deleted": {"admin_a", "sysadmin"},  # admins see their agency's trash
    },
    Action.DATASET_UPDATE: {"*": {"editor_a", "admin_a", "sysadmin"}, "deleted": {"sysadmin"}},
    Action.RESOURCE_UPLOAD: {"*": {"editor_a", "admin_a", "sysadmin"}, "deleted": {"sysadmin"}},
    Action.DATASET_SUBMIT: {"*": {"editor_a", "admin_a", "sysadmin"}, "deleted": {"sysadmin"}},
    Action.DATASET_APPROVE: {"*": {"admin_a", "sysadmin"}, "deleted": {"sysadmin"}},
    Action.DATASET_PUBLISH: {"*": {"admin_a", "sysadmin"}, "deleted": {"sysadmin"}},
    Action.DATASET_WITHDRAW: {"*": {"admin_a", "sysadmin"}, "deleted": {"sysadmin"}},
    Action.DATASET_DELETE: {"*": {"admin_a", "sysadmin"}, "deleted": {"sysadmin"}},
    Action.DATASET_RESTORE: {"*": {"admin_a", "sysadmin"}},
    Action.PRIVACY_OVERRIDE: {"*": {"admin_a", "sysadmin"}, "deleted": {"sysadmin"}},
    Action.DATASET_PURGE: {"*": {"sysadmin"}},
}


def expected(action: Action, state: str) -> set[str]:
    table = ALLOWED[action]
    return table.get(state, table["*"])


@pytest.fixture
def world(system, cast):
    agency_a, users = cast
    datasets = {}
    for state in STATES:
        dataset = make_dataset(system, agency_a, published=False)
        if state == "deleted":
            dataset.state, dataset.deleted_at = DatasetState.PUBLISHED, utcnow()
        else:
            dataset.state = DatasetState(state)
        datasets[state] = dataset
    db.session.commit()
    return users, datasets


@pytest.mark.parametrize("action", DATASET_ACTIONS, ids=str)
def test_role_action_state_table(world, action):
    users, datasets = world
    mismatches = []
    for state, dataset in datasets.items():
        allowed = expected(action, state)
        for role in ROLES:
            if can(users[role], action, dataset) != (role in allowed):
                mismatches.append((role, state))
    assert mismatches == []


def test_agency_actions(world, system):
    users, datasets = world
    agency_a = datasets["draft"].agency
    managers = {role for role in ROLES if can(users[role], Action.AGENCY_MANAGE_MEMBERS, agency_a)}
    assert managers == {"admin_a", "sysadmin"}
    creators = {role for role in ROLES if can(users[role], Action.DATASET_CREATE, agency_a)}
    assert creators == {"editor_a", "admin_a", "sysadmin"}
    assert {role for role in ROLES if can(users[role], Action.AGENCY_CREATE)} == {"sysadmin"}


def test_lists_show_exactly_what_can_read_allows(world):
    """The visibility filter of lists and search agrees with the permission check.

    Trashed datasets are the exception: lists and search leave them out even for a
    sysadmin, who reaches them through the trash.
    """
    users, datasets = world
    for role in ROLES:
        listed = set(db.session.scalars(visible_datasets(users[role]).with_only_columns(Dataset.id)))
        readable = {dataset.id for dataset in datasets.values()
                    if dataset.deleted_at is None and can(users[role], Action.DATASET_READ, dataset)}
        assert listed == readable, role
