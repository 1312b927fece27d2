"""Generate a synthetic catalogue of N datasets into an instance folder, through the services.

    python -m bench.generate --instance bench/out/cat-10000 --datasets 10000

Everything it makes is marked synthetic: agencies are "Cơ quan tổng hợp NN", every
dataset carries the tag "dữ liệu tổng hợp" and says so in its first line. `make serve`
never loads it. Agencies, themes, tags and formats are spread unevenly, as in a real
catalogue (a few agencies and formats publish most of the data).
"""

from __future__ import annotations

import argparse
import io
import random
import time
from pathlib import Path

from flask_migrate import upgrade

from opendata.catalog import resources, services, workflow
from opendata import create_app
from opendata.accounts.services import system_actor
from opendata.catalog.metadata import load_vocabularies, vocabulary_values
from opendata.catalog.models import Agency, Dataset
from opendata.extensions import db
from bench.vietnamese import ZipfText

SYNTHETIC_TAG = "dữ liệu tổng hợp"
FORMATS = [("CSV", 45), ("XLSX", 25), ("JSON", 10), ("PDF", 10), ("GeoJSON", 5), ("XML", 5)]


def _zipf_pick(rng: random.Random, items: list, exponent: float = 1.0):
    return rng.choices(items, weights=[1 / (rank + 1) ** exponent for rank in range(len(items))])[0]


def generate(instance: Path, count: int, *, agencies: int = 30, seed: int = 2026, progress: bool = True) -> float:
    """Create agencies and ``count`` published datasets; returns the datasets created per second."""
    app = create_app({"INSTANCE": str(instance)})
    rng = random.Random(seed)
    text = ZipfText(seed=seed)
    with app.app_context():
        upgrade()
        services.sync_vocabularies()
        actor = system_actor()
        existing_agencies = db.session.query(Agency).count()
        for number in range(existing_agencies + 1, agencies + 1):
            services.create_agency(actor, {"name": f"co-quan-tong-hop-{number:02d}",
                                           "title": f"Cơ quan tổng hợp {number:02d}",
                                           "description": "Cơ quan giả lập cho đo hiệu năng (dữ liệu tổng hợp)."})
        agency_names = [f"co-quan-tong-hop-{number:02d}" for number in range(1, agencies + 1)]
        themes = [item["name"] for item in load_vocabularies()["themes"]]
        tag_pool = [" ".join(text.words_(2)) for _ in range(400)]
        frequencies = vocabulary_values("frequencies")
        start = db.session.query(Dataset).count()
        began = time.perf_counter()
        for index in range(start, count):
            payload = {
                "title": text.sentence(10),
                "notes": "**Dữ liệu tổng hợp để đo hiệu năng — không phải số liệu thật.**\n\n" + text.sentence(80) + ".",
                "agency": _zipf_pick(rng, agency_names),
                "themes": sorted({_zipf_pick(rng, themes, 0.6) for _ in range(rng.choice([1, 1, 2]))}),
                "tags": [SYNTHETIC_TAG] + sorted({_zipf_pick(rng, tag_pool) for _ in range(rng.randint(1, 4))}),
                "license_id": "cc-by",
                "update_frequency": rng.choice(frequencies),
                "source": "Sinh tự động bởi bench/generate.py (synthetic).",
                "spatial": ["Tỉnh Lâm Đồng"],
                "language": ["vi"],
            }
            dataset = services.create_dataset(actor, payload)
            fmt = rng.choices([f for f, _ in FORMATS], weights=[w for _, w in FORMATS])[0]
            rows = "".join(f"{text.sentence(2)},{rng.randint(0, 10**6)}\n" for _ in range(rng.randint(3, 30)))
            content = ("Tên,Giá trị\n" + rows).encode()
            resources.add_resource(actor, dataset, {"name": f"Bảng dữ liệu ({fmt})", "format": fmt},
                                  resources.Upload(io.BytesIO(content), f"bang-du-lieu-{index}.{fmt.lower()}"))
            if rng.random() < 0.4:
                resources.add_resource(actor, dataset, {"name": "Nguồn gốc trên hệ thống của cơ quan",
                                                       "url": f"https://example.invalid/du-lieu/{index}.csv"})
            workflow.publish(actor, dataset)
            done = index + 1 - start
            if progress and done % 500 == 0:
                print(f"  {index + 1}/{count} datasets ({done / (time.perf_counter() - began):.0f}/s)", flush=True)
        elapsed = time.perf_counter() - began
        db.engine.dispose()
    created = count - start
    return created / elapsed if created and elapsed else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--instance", type=Path, required=True, help="instance folder to fill (created if missing)")
    parser.add_argument("--datasets", type=int, default=1000, help="number of datasets the catalogue should hold")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    rate = generate(args.instance, args.datasets, seed=args.seed)
    print(f"catalogue in {args.instance}: {args.datasets} datasets ({rate:.0f} created/s)")


if __name__ == "__main__":
    main()
