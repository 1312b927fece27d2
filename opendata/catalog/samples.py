"""Load the province's sample datasets from ``datasets/`` (see ``datasets/README.md``).

Loading is idempotent: agencies and datasets that already exist (by URL name) are
left as they are, so running ``make serve`` twice changes nothing the second time.
Everything goes through the services, acting as the system actor.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select

from opendata.catalog import resources, services, workflow
from opendata.accounts.models import User
from opendata.catalog.models import Agency, Dataset
from opendata.errors import ValidationFailed
from opendata.extensions import db
from opendata.text import nfc

log = logging.getLogger(__name__)
DEFAULT_PATH = Path(__file__).resolve().parents[2] / "datasets"
RESOURCE_KEYS = ("name", "description", "format", "url", "schema")


@dataclass
class LoadReport:
    agencies_created: list[str] = field(default_factory=list)
    datasets_created: list[str] = field(default_factory=list)
    datasets_skipped: list[str] = field(default_factory=list)


def _read_yaml(path: Path) -> Any:
    return yaml.safe_load(nfc(path.read_text(encoding="utf-8")))


def load_samples(actor: User, root: Path = DEFAULT_PATH) -> LoadReport:
    """Create the sample agencies and datasets that do not exist yet, published.

    Raises FileNotFoundError for a missing folder or file, and the services'
    ValidationFailed (naming the dataset) for a sample that breaks the schema.
    """
    report = LoadReport()
    services.sync_vocabularies()
    for entry in _read_yaml(root / "agencies.yaml"):
        if db.session.scalar(select(Agency.id).where(Agency.name == entry["name"])) is None:
            services.create_agency(actor, entry)
            report.agencies_created.append(entry["name"])
    for meta_path in sorted(root.glob("*/dataset.yaml")):
        meta = _read_yaml(meta_path)
        if db.session.scalar(select(Dataset.id).where(Dataset.name == meta["name"])) is not None:
            report.datasets_skipped.append(meta["name"])
            continue
        _load_dataset(actor, meta_path.parent, meta)
        report.datasets_created.append(meta["name"])
    return report


def _load_dataset(actor: User, folder: Path, meta: dict[str, Any]) -> None:
    entries = meta.pop("resources", [])
    payload = {key: (value.isoformat() if hasattr(value, "isoformat") else value) for key, value in meta.items()}
    try:
        dataset = services.create_dataset(actor, payload)
    except ValidationFailed as error:
        error.message = f"{folder.name}: {error.message}"
        raise
    for entry in entries:
        data = {key: entry[key] for key in RESOURCE_KEYS if key in entry}
        if "file" in entry:
            path = folder / entry["file"]
            with path.open("rb") as stream:
                resources.add_resource(actor, dataset, data, resources.Upload(stream, path.name))
        else:
            resources.add_resource(actor, dataset, data)
    workflow.publish(actor, dataset)
    log.info("sample dataset %s loaded", dataset.name)
