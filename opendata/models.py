"""Every model of the portal, imported in one place so the metadata knows all tables."""

from opendata.accounts.models import ApiToken, Invitation, LoginAttempt, Membership, Role, User
from opendata.activity.models import Activity
from opendata.activity import immutability  # noqa: F401  (installs the ORM guard)
from opendata.catalog.models import Agency, Dataset, DatasetState, License, Resource, Tag, Theme
from opendata.datastore.models import DatastoreTable

__all__ = [
    "Activity", "Agency", "ApiToken", "Dataset", "DatastoreTable", "DatasetState", "Invitation", "License", "LoginAttempt", "Membership",
    "Resource", "Role", "Tag", "Theme", "User",
]
