"""Names in the order Chinese users expect: by pinyin (杨 before 张), as Excel and every
roster sort them — not by code point, where 丁 (U+4E01) comes first and 阿 late.

``sort_key(name)`` spells each Han character in toneless pinyin with its tone number, the
family name followed by its own character so that families stay together ("yang2 杨 xin1
yi2 "), then appends the name itself, so that names that read alike still sort the same way
every time. Stored beside the name (``Person.name_sort``) and indexed: the
database sorts and pages on it like any column, on SQLite and PostgreSQL alike, with no
collation to install.

The table comes from pypinyin's character dictionary (its most common reading), built once
per process on first use (~0.1 s: the dictionary's data file is read without importing the
pypinyin package, see ``_readings``), and by a large import before it forks its workers
(``preload``); a key then costs about half a microsecond, so a million-row import pays
about half a second for it. A family name reads as a family name: 曾 zeng, not ceng; 单
shan, not dan."""

import functools
import importlib.util
import json
import unicodedata
from pathlib import Path

# Family names whose reading differs from the character's most common one.
SURNAME_READINGS = {
    "曾": "zeng1", "单": "shan4", "解": "xie4", "仇": "qiu2", "朴": "piao2", "区": "ou1", "查": "zha1",
    "缪": "miao4", "乐": "yue4", "翟": "zhai2", "盖": "ge3", "覃": "qin2", "召": "shao4", "秘": "bi4",
    "那": "na1", "种": "chong2", "员": "yun4", "柏": "bai3", "尉": "yu4", "折": "she2", "句": "gou1",
    "隗": "wei3", "繁": "po2", "宁": "ning4", "薄": "bo2", "莘": "shen1", "令": "ling2", "长": "zhang3",
    "万": "wan4", "重": "chong2", "沈": "shen3", "石": "shi2", "贾": "jia3", "纪": "ji3", "祭": "zhai4",
}
_TONE_MARKS = "\u0304\u0301\u030c\u0300"  # macron, acute, caron, grave: tones 1–4


def _plain(reading: str) -> str:
    """"lǜ" → "lv4", "yáng" → "yang2", "ma" → "ma5" (neutral tone)."""
    tone, letters = 5, []
    for ch in unicodedata.normalize("NFD", reading):
        if ch in _TONE_MARKS:
            tone = _TONE_MARKS.index(ch) + 1
        elif ch == "\u0308":  # the diaeresis of ü
            letters.append("v")
        elif ch.isascii() and ch.isalpha():
            letters.append(ch)
    return "".join(letters).replace("uv", "v") + str(tone)


@functools.cache
def _table() -> dict[int, str]:
    plain: dict[str, str] = {}  # some 1,500 readings for 42,000 characters: each spelled once
    table = {}
    for cp, readings in _readings().items():
        first = readings.split(",")[0]
        spelled = plain.get(first)
        if spelled is None:
            spelled = plain[first] = _plain(first) + " "
        table[cp] = spelled
    return table


def _readings() -> dict[int, str]:
    """pypinyin's character dictionary, {code point: "reading,reading…"}, read from its data
    file: importing ``pypinyin.pinyin_dict`` first runs the package's ``__init__``, which
    loads the phrase dictionary and trains a segmenter — 0.3 s of every import worker's
    start, for nothing this module uses."""
    spec = importlib.util.find_spec("pypinyin")
    if spec is not None and spec.submodule_search_locations:
        path = Path(spec.submodule_search_locations[0]) / "pinyin_dict.json"
        if path.is_file():
            with open(path, encoding="utf-8") as fh:
                return {int(cp): readings for cp, readings in json.load(fh).items()}
    from pypinyin.pinyin_dict import pinyin_dict  # pragma: no cover - a pypinyin without the file

    return pinyin_dict


def preload() -> None:
    """Build the table now: a process about to fork workers that make keys builds it once
    for all of them."""
    _table()


def sort_key(name: str) -> str:
    """The pinyin sort key of a name (at most 9× its length + 3: "zhuang4 " per character, the
    family name's character, then the name). Characters without a reading
    (Latin letters, digits, ·) stay as they are, lower-cased."""
    if not name:
        return ""
    family = _FAMILIES.get(name[0]) or _family(name[0])
    return f"{family}{name[1:].translate(_table()).lower()}\t{name}"


_FAMILIES: dict[str, str] = {}  # a family name's character → the start of its keys (an import's hot path)


def _family(ch: str) -> str:
    head = SURNAME_READINGS.get(ch) or _table().get(ord(ch), ch).strip()
    # the family name's own character right after its reading keeps each family together
    # (于斌, 于波 … then 余斌, 余波), as a roster lists them, though 于 and 余 read alike
    _FAMILIES[ch] = key = f"{head.lower()} {ch} "
    return key


def phrase_key(text: str) -> str:
    """The pinyin sort key of a name that is no person's (a unit: 城关镇妇联 before 东风村妇联):
    every character by its common reading, no family-name readings, then the text itself (at
    most 9× its length + 1)."""
    text = text or ""
    return f"{text.translate(_table()).lower()}\t{text}" if text else ""
