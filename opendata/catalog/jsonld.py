"""schema.org ``Dataset`` JSON-LD for dataset pages, so search engines list the data."""

from __future__ import annotations

import json
from typing import Any

from flask import url_for
from markupsafe import Markup


def dataset_jsonld(document: dict[str, Any]) -> Markup:
    """JSON-LD from a dataset's stored document (see catalog/document.py)."""
    name = document["name"]
    data: dict[str, Any] = {
        "@context": "https://schema.org/",
        "@type": "Dataset",
        "name": document["title"],
        "description": document.get("notes") or document["title"],
        "url": url_for("catalog.dataset_detail", name=name, _external=True),
        "identifier": document["id"],
        "keywords": [tag["name"] for tag in document["tags"]],
        "inLanguage": document.get("language") or ["vi"],
        "isAccessibleForFree": True,
        "publisher": {"@type": "GovernmentOrganization", "name": document["agency"]["title"],
                      "url": url_for("catalog.agency_detail", name=document["agency"]["name"], _external=True)},
        "dateModified": document["updated_at"],
        "distribution": [
            {
                "@type": "DataDownload",
                "name": resource["name"],
                "encodingFormat": resource.get("media_type") or resource.get("format"),
                "contentUrl": url_for("catalog.resource_download", name=name, resource_id=resource["id"],
                                      filename=resource["filename"], _external=True)
                if resource["is_upload"] else resource.get("url"),
            }
            for resource in document["resources"] if not resource.get("held_back")  # public: cleared files only
        ],
    }
    if document.get("license") and document["license"].get("url"):
        data["license"] = document["license"]["url"]
    if document.get("published_at"):
        data["datePublished"] = document["published_at"]
    if document.get("temporal_start") or document.get("temporal_end"):
        data["temporalCoverage"] = f"{document.get('temporal_start') or '..'}/{document.get('temporal_end') or '..'}"
    if document.get("spatial"):
        data["spatialCoverage"] = [{"@type": "Place", "name": place} for place in document["spatial"]]
    # Escape "<" so that a description can never close the surrounding <script> element.
    return Markup(json.dumps(data, ensure_ascii=False).replace("<", "\\u003c"))
