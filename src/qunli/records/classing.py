"""The 机构（问题）代码 a captured record takes when its module knows no code itself.

A fonds that classes by organization or problem (DA/T 22 §6.1) has codes such as BGS 办公室,
ZZB 组织部, QYB 权益部. A record captured at the source (前端控制) should arrive classed, so it
can be filed from the pending list as it is. ``org_code_for`` picks the code by the first rule
that names one:

1. 机构 — a code named after the unit the record comes from, or a unit between it and the
   fonds' unit (a department unit "…权益部" → code 权益部);
2. 问题 — a code whose name, without its 部/科/室/处/办 ending, occurs in the record's problem
   (a request type 家庭暴力/妇女儿童权益 → 权益部);
3. the department that handles this kind of record in a 群团 organ: the first of ``hints``
   (most specific first) contained in a code's name;
4. the fonds' only code.

None fits: "" — the item stays unclassed and the pending list names it when it is filed."""

import re

_DEPT_SUFFIX = re.compile(r"(办公室|中心|部|科|室|处|办|股|组)$")

# the department that keeps a 群团 organ's cadre and organization records: 组织部 (总工会,
# 团委, 妇联), 人事/干部 科 elsewhere, the 办公室 in small organs
ORGANIZATION_RECORD_HINTS = ("组织", "人事", "干部", "办公室", "综合")


def org_code_for(fonds, unit, *, problem: str = "", hints: tuple[str, ...] = ()) -> str:
    codes = list(fonds.org_codes.order_by("code"))
    if not codes:
        return ""
    handling = [u.name for u in unit.ancestors_and_self().filter(path__startswith=fonds.unit.path)]
    for c in codes:
        if c.name and any(n == c.name or n.endswith(c.name) for n in handling):
            return c.code
    for c in codes:
        stem = _DEPT_SUFFIX.sub("", c.name or "")
        if problem and len(stem) >= 2 and stem in problem:
            return c.code
    for hint in hints:
        for c in codes:
            if hint in (c.name or ""):
                return c.code
    return codes[0].code if len(codes) == 1 else ""
