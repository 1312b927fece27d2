"""A synthetic CSV of administrative dossiers, written the Vietnamese way, for the datastore benchmark.

    python -m bench.datastore.synthetic --rows 1000000   # prints the cached file's path

One row per dossier ("hồ sơ thủ tục hành chính") received by a ward or commune, with
a text code, a place, one of the plan's nine sectors, a day-first date, an amount in
đồng grouped with dots (``1.886.105``), a rate with a decimal comma (``96,4%``), a
yes/no answer (``có``/``không``) and a short free-text note of Zipf-drawn Vietnamese
syllables (``bench/vietnamese.py``), empty for one row in five. The places are written
as the province's wards and communes are named (``Phường Xuân Hương - Đà Lạt``,
``Xã Lạc Dương``…); how many dossiers each receives follows a Zipf law, which is
invented, and so is everything else: the file is synthetic.

The file is deterministic for a given row count (seeded), about 115 bytes a row
(1,000,000 rows: about 115 MB), and cached in ``bench/out/datastore-csv/`` (not
committed), keyed by the row count and ``VERSION``.
"""

from __future__ import annotations

import argparse
import csv
import random
import time
from datetime import date, timedelta
from itertools import accumulate
from pathlib import Path

from bench.vietnamese import ZipfText

VERSION = 1  # bump when the rows change, so cached files are made again
OUT = Path(__file__).resolve().parents[1] / "out" / "datastore-csv"
HEADERS = ("Mã hồ sơ", "Xã/phường", "Lĩnh vực", "Ngày tiếp nhận", "Số tiền (đồng)", "Tỷ lệ (%)", "Đúng hạn",
           "Ghi chú")
PLACE, AMOUNT = HEADERS[1], HEADERS[4]

_WARDS = {
    "Đà Lạt": ("Xuân Hương - Đà Lạt", "Cam Ly - Đà Lạt", "Lâm Viên - Đà Lạt", "Xuân Trường - Đà Lạt",
               "Lang Biang - Đà Lạt"),
    "Bảo Lộc": ("1 Bảo Lộc", "2 Bảo Lộc", "3 Bảo Lộc", "B'Lao"),
    "Gia Nghĩa": ("Bắc Gia Nghĩa", "Nam Gia Nghĩa", "Đông Gia Nghĩa"),
    "Phan Thiết": ("Hàm Thắng", "Bình Thuận", "Mũi Né", "Phú Thủy", "Phan Thiết", "Tiến Thành"),
    "La Gi": ("La Gi", "Phước Hội"),
}
_COMMUNES = (
    # The highlands around Đà Lạt and Bảo Lộc
    "Lạc Dương", "Đơn Dương", "Ka Đô", "Quảng Lập", "D'Ran", "Hiệp Thạnh", "Đức Trọng", "Tân Hội", "Tà Hine",
    "Tà Năng", "Đinh Văn Lâm Hà", "Phú Sơn Lâm Hà", "Nam Hà Lâm Hà", "Nam Ban Lâm Hà", "Tân Hà Lâm Hà",
    "Phúc Thọ Lâm Hà", "Đam Rông 1", "Đam Rông 2", "Đam Rông 3", "Đam Rông 4", "Di Linh", "Hòa Ninh", "Hòa Bắc",
    "Đinh Trang Thượng", "Bảo Thuận", "Sơn Điền", "Gia Hiệp", "Bảo Lâm 1", "Bảo Lâm 2", "Bảo Lâm 3", "Bảo Lâm 4",
    "Bảo Lâm 5", "Đạ Huoai", "Đạ Huoai 2", "Đạ Huoai 3", "Đạ Tẻh", "Đạ Tẻh 2", "Đạ Tẻh 3", "Cát Tiên",
    "Cát Tiên 2", "Cát Tiên 3", "Lộc Bắc", "Lộc Bảo", "Lộc Thành", "Lộc Ngãi", "Tân Lâm", "Đinh Lạc",
    # The plateau around Gia Nghĩa
    "Cư Jút", "Nam Dong", "Đắk Wil", "Đức Lập", "Đắk Mil", "Đắk Sắk", "Thuận An", "Đắk Song", "Đức An",
    "Trường Xuân", "Nam Đà", "Krông Nô", "Nâm Nung", "Quảng Phú", "Đắk Glong", "Quảng Sơn", "Quảng Hòa",
    "Quảng Khê", "Tà Đùng", "Tuy Đức", "Quảng Trực", "Quảng Tân", "Kiến Đức", "Nhân Cơ", "Quảng Tín",
    "Đắk Ru", "Nghĩa Thắng", "Đạo Nghĩa", "Thuận Hạnh", "Đắk Hòa", "Nam Xuân", "Buôn Choáh",
    # The coast around Phan Thiết
    "Tuy Phong", "Vĩnh Hảo", "Liên Hương", "Phan Rí Cửa", "Bắc Bình", "Hồng Thái", "Hải Ninh", "Phan Sơn",
    "Sông Lũy", "Lương Sơn", "Hòa Thắng", "Đông Giang", "La Dạ", "Hàm Thuận Bắc", "Hàm Thuận", "Hồng Sơn",
    "Hàm Liêm", "Hàm Thạnh", "Hàm Kiệm", "Tân Thành", "Hàm Thuận Nam", "Tân Lập", "Tân Minh", "Hàm Tân",
    "Sơn Mỹ", "Bắc Ruộng", "Nghị Đức", "Đồng Kho", "Tánh Linh", "Suối Kiết", "Nam Thành", "Đức Linh",
    "Hoài Đức", "Trà Tân", "Tân Hà", "Tân Nghĩa", "Phan Hiệp", "Phan Hòa", "Chí Công", "Bình Thạnh",
    "Phong Phú", "Phú Lạc", "Hòa Minh", "Phước Thể", "Sông Bình", "Phan Lâm", "Phan Điền", "Phan Thanh",
    "Hải Ninh 2", "Thuận Minh", "Hàm Trí", "Hàm Phú", "Đa Mi", "Hàm Chính", "Hàm Hiệp", "Mương Mán",
    "Hàm Cường", "Hàm Minh", "Thuận Quý", "Tân Thuận", "Tân Phúc", "Tân Đức", "Sơn Mỹ 2",
)
PLACES = tuple(
    [f"Phường {ward}" for wards in _WARDS.values() for ward in wards]
    + [f"Xã {commune}" for commune in _COMMUNES]
    + ["Đặc khu Phú Quý"]
)
SECTORS = ("Hành chính công", "Nông nghiệp", "Tài nguyên và môi trường", "Công nghiệp", "Thương mại", "Du lịch",
           "Y tế", "Giáo dục và đào tạo", "Tài chính – ngân hàng")
_FIRST_DAY, _DAYS = date(2020, 1, 1), 6 * 365 + 2  # 2020-01-01 to 2025-12-31
_BATCH = 10_000


def csv_path(rows: int) -> Path:
    return OUT / f"ho-so-v{VERSION}-{rows}.csv"


def ensure_csv(rows: int, *, seed: int = 2026, quiet: bool = False) -> Path:
    """The cached CSV of ``rows`` dossiers, written first if missing."""
    path = csv_path(rows)
    if path.exists():
        return path
    OUT.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    partial = path.with_suffix(".partial")
    with partial.open("w", encoding="utf-8", newline="") as handle:
        write_rows(handle, rows, seed=seed)
    partial.rename(path)
    if not quiet:
        print(f"wrote {path} ({rows:,} rows, {path.stat().st_size / 1e6:,.0f} MB) "
              f"in {time.perf_counter() - started:.1f} s", flush=True)
    return path


def write_rows(handle, rows: int, *, seed: int = 2026) -> None:
    """Write the header and ``rows`` rows to a text handle, batch by batch (the draws stay seeded)."""
    rng = random.Random(seed)
    text = ZipfText(seed=seed)
    place_weights = list(accumulate(1 / rank ** 0.8 for rank in range(1, len(PLACES) + 1)))
    sector_weights = list(accumulate((30, 16, 14, 9, 9, 7, 6, 5, 4)))
    days = [(_FIRST_DAY + timedelta(days)).strftime("%d/%m/%Y") for days in range(_DAYS)]
    writer = csv.writer(handle, lineterminator="\n")
    writer.writerow(HEADERS)
    for start in range(0, rows, _BATCH):
        count = min(_BATCH, rows - start)
        places = rng.choices(PLACES, cum_weights=place_weights, k=count)
        sectors = rng.choices(SECTORS, cum_weights=sector_weights, k=count)
        lengths = [0 if rng.random() < 0.2 else rng.randint(1, 6) for _ in range(count)]
        words = text.words_(sum(lengths))
        at = 0
        batch = []
        for index in range(count):
            number = start + index + 1
            day = rng.randrange(_DAYS)
            note = " ".join(words[at:at + lengths[index]])
            at += lengths[index]
            amount = int(10 ** rng.uniform(4, 9.7))  # 10.000 to 5 tỷ đồng, log-uniform
            rate = min(100.0, rng.gauss(92, 6))
            batch.append((
                f"H38.{number % 97:02d}-{days[day][8:]}{days[day][3:5]}{days[day][:2]}-{number:07d}",
                places[index],
                sectors[index],
                days[day],
                f"{amount:,}".replace(",", "."),
                f"{max(rate, 0.0):.1f}".replace(".", ",") + "%",
                "có" if rng.random() < 0.87 else "không",
                note[:1].upper() + note[1:],
            ))
        writer.writerows(batch)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    print(ensure_csv(args.rows))


if __name__ == "__main__":
    main()
