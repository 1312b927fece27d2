"""Synthetic Vietnamese text: thousands of well-formed syllables drawn with a Zipf law.

Real common words of the province's data take the top ranks, so the frequent
words of generated titles are the ones people actually search for; the long
tail is built from Vietnamese onsets, rhymes and tones and spelled by the
language's rules (k/gh/ngh before i, e, ê; tones on stop-final rhymes limited
to sắc and nặng; the tone mark on the vowel that carries it).
"""

from __future__ import annotations

import random
import unicodedata
from itertools import accumulate

COMMON = (
    "dữ liệu số tỉnh lâm đồng xã phường chuyển đổi năm công nghệ thông tin dân cư đất đai nông nghiệp du lịch "
    "y tế giáo dục trường học hành chính dịch vụ trực tuyến và của các những trong theo về cho được có là một "
    "người quản lý hệ thống kinh xây dựng môi tài nguyên nước rừng cà phê chè rau hoa đà lạt bảo lộc phan thiết "
    "gia nghĩa huyện thị thành phố danh sách kê báo cáo kế hoạch giai đoạn mục tiêu kết quả tổng hợp ngân vốn "
    "đầu tư dự án trạm cơ sở bệnh viện trung tâm điện tử chữ ký khoản định hồ sơ thủ tục cấp giấy phép doanh "
    "tác sản xuất tiêu thụ giá chợ khu cụm biển đảo mũi né tà đùng lang biang sân bay cảng cá điều tiêu sầu riêng"
).split()

ONSETS = ["", "b", "c", "ch", "d", "đ", "g", "gh", "gi", "h", "k", "kh", "l", "m", "n", "ng", "ngh", "nh",
          "p", "ph", "qu", "r", "s", "t", "th", "tr", "v", "x"]
RHYMES = (
    "a ai ao au ay âu ây an ang anh ac ach am ap at ăn ăng ăm ăc ăp ăt ân âng âm âc âp ât e eo en eng em ec ep et "
    "ê êu ên ênh êm êch êp êt i ia iu in inh im ich ip it iêu iên iêng iêm iêc iêp iêt o oa oai oan oang oanh oac "
    "oat oe oi on ong om oc op ot ô ôi ôn ông ôm ôc ôp ôt ơ ơi ơn ơm ơp ơt u ua uân uât uê uy uyên uyêt ui un ung "
    "um uc up ut uôi uôn uông uôm uôc uôt ư ưa ưi ưu ưn ưng ưc ưt ươi ươu ươn ương ươm ươc ươp ươt"
).split()
TONES = ["", "\u0300", "\u0301", "\u0309", "\u0303", "\u0323"]  # ngang, huyền, sắc, hỏi, ngã, nặng
MARKED = "ăâêôơư"
VOWELS = "aăâeêioôơuưy"


def _tone_index(rhyme: str) -> int:
    """Where the tone mark goes: ơ of ươ, else a vowel with a hat or horn, else by the rhyme's shape."""
    if "ươ" in rhyme:
        return rhyme.index("ơ")
    for index, char in enumerate(rhyme):
        if char in MARKED:
            return index
    vowels = [index for index, char in enumerate(rhyme) if char in VOWELS]
    if len(vowels) == 1:
        return vowels[0]
    ends_in_consonant = rhyme[-1] not in VOWELS
    if ends_in_consonant or rhyme[:2] in {"oa", "oe", "uy"}:
        return vowels[-1] if ends_in_consonant else vowels[1]
    return vowels[0]


def _spelled(onset: str, rhyme: str) -> bool:
    front = rhyme[0] in "ieêy"
    if onset in {"k", "gh", "ngh"}:
        return front
    if onset in {"c", "g", "ng"}:
        return not front
    if onset == "qu":
        return rhyme[0] not in "uoô"
    if onset == "gi":
        return not rhyme.startswith("i")
    return True


def syllables() -> list[str]:
    """Common words first, then every generated syllable (in a fixed shuffled order), without repeats."""
    seen: dict[str, None] = dict.fromkeys(unicodedata.normalize("NFC", word) for word in COMMON)
    generated = []
    for onset in ONSETS:
        for rhyme in RHYMES:
            if not _spelled(onset, rhyme):
                continue
            stop_final = rhyme.endswith(("c", "ch", "p", "t"))
            for tone in (TONES[2], TONES[5]) if stop_final else TONES:
                at = _tone_index(rhyme) + 1
                generated.append(unicodedata.normalize("NFC", onset + rhyme[:at] + tone + rhyme[at:]))
    # Shuffled so that the tail's ranks do not follow the alphabet of onsets.
    random.Random(7).shuffle(generated)
    for word in generated:
        seen.setdefault(word, None)
    return list(seen)


class ZipfText:
    """Draws words with probability proportional to 1 / rank ** exponent."""

    def __init__(self, vocabulary_size: int = 6000, exponent: float = 1.07, seed: int = 2026):
        words = syllables()
        if len(words) < vocabulary_size:
            raise ValueError(f"only {len(words)} syllables can be generated")
        self.words = words[:vocabulary_size]
        self.cumulative = list(accumulate(1 / rank ** exponent for rank in range(1, vocabulary_size + 1)))
        self.random = random.Random(seed)

    def words_(self, count: int) -> list[str]:
        return self.random.choices(self.words, cum_weights=self.cumulative, k=count)

    def sentence(self, count: int) -> str:
        text = " ".join(self.words_(count))
        return text[:1].upper() + text[1:]
