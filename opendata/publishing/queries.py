"""What a publisher's dashboard lists: their agencies' datasets by state, and what waits for them."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from opendata import authz
from opendata.accounts.models import Membership, Role, User
from opendata.authz import Action
from opendata.catalog.models import Agency, Dataset, DatasetState
from opendata.catalog.workflow import state_of
from opendata.extensions import db

STATE_ORDER = (DatasetState.PENDING, DatasetState.DRAFT, DatasetState.PUBLISHED, DatasetState.WITHDRAWN, "deleted")


@dataclass
class AgencyBoard:
    agency: Agency
    role: str
    by_state: dict[str, list[Dataset]] = field(default_factory=dict)

    @property
    def to_review(self) -> list[Dataset]:
        return self.by_state.get(DatasetState.PENDING, []) if self.role in {Role.ADMIN, "sysadmin"} else []


def publisher_agencies(actor: User) -> list[tuple[Agency, str]]:
    """The agencies the actor works for, with the role: every agency for a sysadmin."""
    if actor.is_sysadmin:
        return [(agency, "sysadmin") for agency in db.session.scalars(select(Agency).order_by(Agency.title))]
    rows = db.session.execute(select(Agency, Membership.role).join(Membership, Membership.agency_id == Agency.id)
                              .where(Membership.user_id == actor.id).order_by(Agency.title))
    return [(agency, role) for agency, role in rows]


def creatable_agencies(actor: User) -> list[Agency]:
    """Agencies in which the actor may create datasets (the agency field's choices)."""
    return [agency for agency, _ in publisher_agencies(actor) if authz.can(actor, Action.DATASET_CREATE, agency)]


def dashboard(actor: User, agency_name: str | None = None) -> list[AgencyBoard]:
    """One board per agency (or only ``agency_name``), datasets grouped by state, trash last."""
    boards = []
    for agency, role in publisher_agencies(actor):
        if agency_name and agency.name != agency_name:
            continue
        board = AgencyBoard(agency, role)
        datasets = db.session.scalars(select(Dataset).where(Dataset.agency_id == agency.id)
                                      .options(selectinload(Dataset.resources))
                                      .order_by(Dataset.updated_at.desc()))
        for dataset in datasets:
            state = state_of(dataset)
            if state == "deleted" and not authz.can(actor, Action.DATASET_RESTORE, dataset):
                continue
            board.by_state.setdefault(state, []).append(dataset)
        boards.append(board)
    return boards
