"""schema.org ``Dataset`` JSON-LD for dataset pages, so search engines list the data."""

from __future__ import annotations

import json
from typing import Any

from flask import url_for
from markupsafe import Markup

from opendata.catalog.models import Dataset


def dataset_jsonld(dataset: Dataset) -> Markup:
    extras = dataset.extras or {}
    data: dict[str, Any] = {
        "@context": "https://schema.org/",
        "@type": "Dataset",
        "name": dataset.title,
        "description": dataset.notes or dataset.title,
        "url": url_for("catalog.dataset_detail", name=dataset.name, _external=True),
        "identifier": dataset.id,
        "keywords": [tag.name for tag in dataset.tags],
        "inLanguage": extras.get("language") or ["vi"],
        "isAccessibleForFree": True,
        "publisher": {"@type": "GovernmentOrganization", "name": dataset.agency.title,
                      "url": url_for("catalog.agency_detail", name=dataset.agency.name, _external=True)},
        "dateModified": dataset.updated_at.isoformat(),
        "distribution": [
            {
                "@type": "DataDownload",
                "name": resource.name,
                "encodingFormat": resource.media_type or resource.format,
                "contentUrl": resource.url if not resource.is_upload else url_for(
                    "catalog.resource_download", name=dataset.name, resource_id=resource.id,
                    filename=resource.filename, _external=True),
            }
            for resource in dataset.resources
        ],
    }
    if dataset.license is not None and dataset.license.url:
        data["license"] = dataset.license.url
    if dataset.published_at:
        data["datePublished"] = dataset.published_at.isoformat()
    if extras.get("temporal_start") or extras.get("temporal_end"):
        data["temporalCoverage"] = f"{extras.get('temporal_start', '..')}/{extras.get('temporal_end', '..')}"
    if extras.get("spatial"):
        data["spatialCoverage"] = [{"@type": "Place", "name": place} for place in extras["spatial"]]
    # Escape "<" so that a description can never close the surrounding <script> element.
    return Markup(json.dumps(data, ensure_ascii=False).replace("<", "\\u003c"))
