"""Chinese national identifiers: resident ID (GB 11643), unified social credit code
(GB 32100) and administrative division codes (GB/T 2260, extended by the 9- and 12-digit
statistical codes for townships and villages). Each validator returns the cleaned value or
raises ``InvalidIdentifier`` with a message in Chinese that says exactly what is wrong."""

import datetime as dt
import re
import unicodedata

# Province-level prefixes of GB/T 2260 (71 台湾, 81 香港, 82 澳门 included).
PROVINCE_CODES = frozenset(
    "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 53 54 "
    "61 62 63 64 65 71 81 82".split()
)

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_ID_SHAPE = re.compile(r"^\d{17}[\dX]$", re.ASCII)

_USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_USCC_SHAPE = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$", re.ASCII)


class InvalidIdentifier(ValueError):
    pass


def id_check_digit(first17: str) -> str:
    """GB 11643's check character of 17 ASCII digits: Σ digit × weight mod 11, where the
    weights (``_ID_WEIGHTS``) are 2^17 … 2^1 mod 11. Read as a base-13 number the digits give
    Σ digit × 13^(16-i), and 13 ≡ 2 (mod 11), so twice that number has the same remainder —
    one ``int()`` in C instead of seventeen multiplications in Python (an import checks a
    million of them)."""
    return _ID_CHECK[2 * int(first17, 13) % 11]


def halfwidth(value: str) -> str:
    """Full-width digits, letters, hyphens and spaces (a Chinese input method's full-width
    mode, common in Excel rosters) as their ASCII forms (NFKC); ASCII text as it is."""
    value = value or ""
    return value if value.isascii() else unicodedata.normalize("NFKC", value)


def normalize_id_number(value: str) -> str:
    return halfwidth(value).strip().upper().replace(" ", "")


def validate_id_number(value: str, today: dt.date | None = None) -> str:
    """Validate an 18-digit resident ID number (公民身份号码) and return it normalized."""
    v = normalize_id_number(value)
    if not v:
        raise InvalidIdentifier("身份证号为空")
    if len(v) != 18:
        raise InvalidIdentifier(f"身份证号应为18位，实际为{len(v)}位")
    if not _ID_SHAPE.match(v):
        raise InvalidIdentifier("身份证号只能由17位数字和1位数字或X组成")
    if v[:2] not in PROVINCE_CODES:
        raise InvalidIdentifier(f"身份证号地区码“{v[:6]}”不是有效的行政区划代码")
    birth = id_birth_date(v)
    if birth is None:
        raise InvalidIdentifier(f"身份证号中的出生日期“{v[6:14]}”不存在")
    today = today or dt.date.today()
    if birth > today or birth.year < 1900:
        raise InvalidIdentifier(f"身份证号中的出生日期“{v[6:14]}”不在合理范围内")
    expected = id_check_digit(v[:17])
    if v[17] != expected:
        raise InvalidIdentifier(f"身份证号校验位错误（应为{expected}）")
    return v


def age_on(birth: dt.date, day: dt.date) -> int:
    """Full years of age on ``day`` (the birthday itself counts)."""
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def id_birth_date(v: str) -> dt.date | None:
    try:
        return dt.date(int(v[6:10]), int(v[10:12]), int(v[12:14]))
    except ValueError:
        return None


def id_gender(v: str) -> str:
    """'M' or 'F' from the sequence digit (odd = male)."""
    return "M" if int(v[16]) % 2 else "F"


def make_id_number(region6: str, birth: dt.date, seq3: int) -> str:
    """Build a valid ID number (for demo data and tests)."""
    first17 = f"{region6}{birth:%Y%m%d}{seq3:03d}"
    return first17 + id_check_digit(first17)


def uscc_check_char(first17: str) -> str:
    total = sum(_USCC_CHARS.index(c) * w for c, w in zip(first17, _USCC_WEIGHTS, strict=True))
    return _USCC_CHARS[(31 - total % 31) % 31]


def validate_uscc(value: str) -> str:
    """Validate a unified social credit code (统一社会信用代码, GB 32100)."""
    v = halfwidth(value).strip().upper()
    if len(v) != 18:
        raise InvalidIdentifier(f"统一社会信用代码应为18位，实际为{len(v)}位")
    if not _USCC_SHAPE.match(v):
        raise InvalidIdentifier("统一社会信用代码含有不允许的字符（不使用I、O、Z、S、V）")
    if v[2:4] not in PROVINCE_CODES:
        raise InvalidIdentifier(f"统一社会信用代码中的行政区划码“{v[2:8]}”无效")
    expected = uscc_check_char(v[:17])
    if v[17] != expected:
        raise InvalidIdentifier(f"统一社会信用代码校验位错误（应为{expected}）")
    return v


def make_uscc(prefix2: str, region6: str, body9: str) -> str:
    first17 = f"{prefix2}{region6}{body9}"
    return first17 + uscc_check_char(first17)


def validate_division_code(value: str) -> str:
    """Validate an administrative division code: 6 digits (GB/T 2260: province, city,
    county), 9 digits (township) or 12 digits (village/community statistical code)."""
    v = halfwidth(value).strip()
    if not (v.isascii() and v.isdigit()) or len(v) not in (6, 9, 12):
        raise InvalidIdentifier("行政区划代码应为6位（县级及以上）、9位（乡镇）或12位（村/社区）数字")
    if v[:2] not in PROVINCE_CODES:
        raise InvalidIdentifier(f"行政区划代码“{v}”的省级代码“{v[:2]}”无效")
    if v[2:4] == "00" and v[4:6] != "00":
        raise InvalidIdentifier(f"行政区划代码“{v}”层级不连续")
    return v


_PHONE = re.compile(r"^(1[3-9]\d{9}|0\d{2,3}-?\d{7,8})$", re.ASCII)


def validate_phone(value: str) -> str:
    v = halfwidth(value).strip().replace(" ", "")
    if not _PHONE.match(v):
        raise InvalidIdentifier("电话号码格式不正确（手机11位，座机如0731-12345678）")
    return v
