"""Every model of the portal, imported in one place so the metadata knows all tables."""

from opendata.accounts.models import ApiToken, Membership, Role, User
from opendata.activity.models import Activity
from opendata.catalog.models import Agency, Dataset, DatasetState, License, Resource, Tag, Theme

__all__ = [
    "Activity", "Agency", "ApiToken", "Dataset", "DatasetState", "License", "Membership",
    "Resource", "Role", "Tag", "Theme", "User",
]
