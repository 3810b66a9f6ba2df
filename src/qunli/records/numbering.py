"""档号 formats, configurable per fonds (``Fonds.code_format`` + ``Fonds.piece_digits``).

A format is a template of six fields joined by separators, e.g. the DA/T 22 default
``{全宗号}-{门类代码}·{年度}-{保管期限}-{机构代码}-{件号}`` with a 4-digit 件号 →
``J001-WS·2023-Y-BGS-0001``. ``{机构代码}`` may be absent from a code (a fonds without
organization codes): it is dropped together with the separator before it (after it when it
comes first). Filing renders with ``format_for(fonds)``; the legacy import and checks parse
with ``parse_archival_code``. A change of format applies to later filings only; a filed 档号
changes only through ``records.actions.renumber_item`` (logged)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

DEFAULT_FORMAT = "{全宗号}-{门类代码}·{年度}-{保管期限}-{机构代码}-{件号}"
DEFAULT_DIGITS = 4
FIELDS = ("全宗号", "门类代码", "年度", "保管期限", "机构代码", "件号")
REQUIRED_FIELDS = ("全宗号", "门类代码", "年度", "保管期限", "件号")
_KEYS = {"全宗号": "fonds", "门类代码": "category", "年度": "year", "保管期限": "retention",
         "机构代码": "org", "件号": "piece"}
_TOKEN = re.compile(r"\{([^{}]*)\}")
_SEPARATOR = re.compile(r"^[-·._/\u00b7\u2014]{1,3}$")


class CodeFormatError(ValueError):
    """A format or a code that does not fit; the message is Chinese."""


@dataclass(frozen=True)
class ParsedCode:
    fonds: str
    category: str
    year: int
    retention: str
    org: str
    piece: int


@dataclass(frozen=True)
class CodeFormat:
    template: str = DEFAULT_FORMAT
    digits: int = DEFAULT_DIGITS

    @cached_property
    def parts(self) -> list[tuple[str, str]]:
        """[(separator before, field)], the first separator being ""."""
        return _split(self.template)

    def render(self, fonds: str, category: str, year: int, retention: str, org: str, piece: int) -> str:
        values = {"全宗号": fonds, "门类代码": category, "年度": str(year), "保管期限": retention,
                  "机构代码": org or "", "件号": f"{piece:0{self.digits}d}"}
        out = []
        for sep, name in self.parts:
            if name == "机构代码" and not org:
                continue  # with the separator before it
            out.append(sep if out else "")  # a leading 机构代码 dropped: the next field has none
            out.append(values[name])
        return "".join(out)

    @cached_property
    def regex(self) -> re.Pattern:
        pats = {"全宗号": r"(?P<fonds>[A-Za-z0-9]+)", "门类代码": r"(?P<category>[A-Za-z0-9]+)",
                "年度": r"(?P<year>\d{4})", "保管期限": r"(?P<retention>Y|D30|D10)",
                "机构代码": r"(?P<org>[A-Za-z0-9]+)", "件号": rf"(?P<piece>\d{{{self.digits},}})"}
        out = []
        for i, (sep, name) in enumerate(self.parts):
            if name == "机构代码":
                if i == 0:
                    nxt = re.escape(self.parts[1][0]) if len(self.parts) > 1 else ""
                    out.append(f"(?:{pats[name]}{nxt})?")
                    continue
                out.append(f"(?:{re.escape(sep)}{pats[name]})?")
                continue
            if i == 1 and self.parts[0][1] == "机构代码":
                out.append(pats[name])  # its separator sits inside the optional group
                continue
            out.append(re.escape(sep) + pats[name])
        return re.compile("^" + "".join(out) + "$")

    def parse(self, code: str) -> ParsedCode:
        m = self.regex.match((code or "").strip())
        if not m:
            example = self.render("J001", "WS", 2024, "Y", "BGS", 1)
            raise CodeFormatError(f"档号“{code}”不符合本全宗的档号格式（如 {example}）。")
        g = m.groupdict()
        return ParsedCode(g["fonds"], g["category"], int(g["year"]), g["retention"], g.get("org") or "",
                          int(g["piece"]))

    def example(self) -> str:
        return self.render("J001", "WS", 2024, "Y", "BGS", 1)


def _split(template: str) -> list[tuple[str, str]]:
    parts, pos = [], 0
    for m in _TOKEN.finditer(template):
        parts.append((template[pos:m.start()], m.group(1)))
        pos = m.end()
    if pos != len(template):
        raise CodeFormatError("档号格式须以字段结尾，如 …-{件号}。")
    return parts


def validate_format(template: str, digits: int) -> CodeFormat:
    """A usable format, or CodeFormatError naming what is wrong (in Chinese)."""
    template = (template or "").strip()
    if not template:
        raise CodeFormatError("档号格式不能为空。")
    if not 1 <= int(digits) <= 8:
        raise CodeFormatError("件号位数应在 1 至 8 之间。")
    parts = _split(template)
    names = [n for _, n in parts]
    unknown = [n for n in names if n not in FIELDS]
    if unknown:
        raise CodeFormatError(f"档号格式中有未知字段：{'、'.join(unknown)}（可用：{'、'.join(FIELDS)}）。")
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise CodeFormatError(f"字段{'、'.join(dup)}在档号格式中出现了多次。")
    missing = [n for n in REQUIRED_FIELDS if n not in names]
    if missing:
        raise CodeFormatError(f"档号格式缺少必需字段：{'、'.join(missing)}。")
    if parts[0][0]:
        raise CodeFormatError("档号格式须以字段开头，如 {全宗号}-…。")
    for sep, name in parts[1:]:
        if not _SEPARATOR.match(sep):
            raise CodeFormatError(f"“{{{name}}}”前的分隔符“{sep}”无效：应为 1 至 3 个 - · . _ / 等符号。")
    return CodeFormat(template, int(digits))


def format_for(fonds) -> CodeFormat:
    return CodeFormat(getattr(fonds, "code_format", "") or DEFAULT_FORMAT,
                      getattr(fonds, "piece_digits", None) or DEFAULT_DIGITS)


def parse_archival_code(code: str, fonds) -> ParsedCode:
    """The fields of a 档号 under the fonds' format; CodeFormatError when it does not fit or
    names another fonds."""
    parsed = format_for(fonds).parse(code)
    if parsed.fonds != fonds.code:
        raise CodeFormatError(f"档号“{code}”中的全宗号“{parsed.fonds}”与全宗“{fonds.code}”不符。")
    return parsed
