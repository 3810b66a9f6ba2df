"""缺号说明: a 件号 missing from a class, explained by the records office.

DA/T 22 numbers every class from 0001 without gaps, and 四性检测 (2-4) fails a class with a
hole. Legacy paper holdings have holes nobody can fill: a file lost before it was
catalogued, a number skipped by hand decades ago. The records office records why, as the
备考表 of the paper catalogue does; the check then counts the number as accounted for and
reports it as explained (a warning, not a failure), and the explanation travels with a
transfer (``bag-info.txt``: Qunli-Explained-Gaps; the catalogue's 缺号说明 sheet) so that the
receiving archives sees the same.

Only a real gap may be explained: a number below the class's highest 件号 that no item holds
(filed, destroyed or transferred). Adding or withdrawing one is an action with its change-log
row, on the fonds."""

import re

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

from qunli.core.actions import ActionError, action, require_change
from qunli.core.audit import log_change
from qunli.core.scoping import ScopedQuerySet, ScopeSpec

from .models import Category, Fonds, Item, OrgCode, Retention

MAX_PIECES_AT_ONCE = 500


class PieceGap(models.Model):
    fonds = models.ForeignKey(Fonds, on_delete=models.PROTECT, related_name="piece_gaps", verbose_name="全宗")
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="+", verbose_name="门类")
    year = models.PositiveSmallIntegerField("年度")
    retention = models.CharField("保管期限", max_length=3, choices=Retention.choices)
    org_code = models.ForeignKey(OrgCode, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                 verbose_name="机构（问题）")
    piece_no = models.PositiveIntegerField("件号")
    reason = models.CharField("缺号原因", max_length=200)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                    verbose_name="登记人")
    recorded_at = models.DateTimeField("登记时间", default=timezone.now)

    scope = ScopeSpec(unit="fonds__unit", line="fonds__unit__line")
    objects = ScopedQuerySet.as_manager()

    class Meta:
        verbose_name = "缺号说明"
        verbose_name_plural = "缺号说明"
        ordering = ["year", "retention", "category", "org_code", "piece_no"]
        indexes = [models.Index(fields=["fonds", "year", "retention", "piece_no"], name="piecegap_class")]

    def __str__(self):
        return f"缺号说明 {self.class_label} {self.piece_no:04d}"

    @property
    def class_key(self) -> tuple:
        return (self.fonds.code, self.category.code, self.year, self.retention,
                self.org_code.code if self.org_code_id else "")

    @property
    def class_label(self) -> str:
        org = f"-{self.org_code.code}" if self.org_code_id else ""
        return f"{self.fonds.code}-{self.category.code}·{self.year}-{self.retention}{org}"


def parse_pieces(text: str) -> list[int]:
    """"7, 12-14，20" → [7, 12, 13, 14, 20]. Chinese and ASCII commas, 、 and spaces separate;
    a range is written with - or ～ / ~ / 至."""
    numbers: set[int] = set()
    for part in re.split(r"[,，、;；\s]+", (text or "").strip()):
        if not part:
            continue
        m = re.fullmatch(r"(\d{1,6})(?:\s*(?:-|－|~|～|至)\s*(\d{1,6}))?", part)
        if not m:
            raise ActionError(f"件号“{part[:20]}”格式不对：请写数字，多个用逗号分隔，连续的写成 12-14。")
        lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
        if lo < 1 or hi < lo:
            raise ActionError(f"件号“{part}”不是有效的件号或范围。")
        if hi - lo >= MAX_PIECES_AT_ONCE or len(numbers) + hi - lo + 1 > MAX_PIECES_AT_ONCE:
            raise ActionError(f"一次最多登记{MAX_PIECES_AT_ONCE}个缺号。")
        numbers.update(range(lo, hi + 1))
    if not numbers:
        raise ActionError("请填写缺号的件号。")
    return sorted(numbers)


def _shown(numbers) -> str:
    numbers = sorted(numbers)
    return "、".join(f"{n:04d}" for n in numbers[:20]) + ("…" if len(numbers) > 20 else "")


@action
def explain_gaps(actor, fonds: Fonds, *, category: Category, year: int, retention: str, org_code: OrgCode | None,
                 pieces: str, reason: str) -> list[PieceGap]:
    """Record why these 件号 of one class are missing. Refused, with nothing written, when a
    number is held by an item, lies beyond the class's highest 件号, or is explained already."""
    require_change(actor, fonds)
    reason = " ".join((reason or "").split())
    if len(reason) < 2:
        raise ActionError("请填写缺号原因（如：原件遗失、编号时漏号）。")
    if len(reason) > 200:
        raise ActionError("缺号原因不能超过200字。")
    if retention not in Retention.values:
        raise ActionError("保管期限不正确。")
    if org_code is not None and org_code.fonds_id != fonds.pk:
        raise ActionError("机构（问题）代码不属于本全宗。")
    numbers = parse_pieces(pieces)
    in_class = dict(fonds=fonds, category=category, year=year, retention=retention, org_code=org_code)
    with transaction.atomic():
        Fonds.objects.select_for_update().filter(pk=fonds.pk).first()  # one explainer of a fonds at a time
        held = set(Item.objects.filter(piece_no__isnull=False, **in_class).values_list("piece_no", flat=True))
        label = PieceGap(**in_class, piece_no=0).class_label
        if not held:
            raise ActionError(f"{label} 还没有已编号的条目，不存在缺号。")
        taken = sorted(set(numbers) & held)
        if taken:
            raise ActionError(f"{label} 的件号 {_shown(taken)} 已有条目，不是缺号。")
        beyond = [n for n in numbers if n > max(held)]
        if beyond:
            raise ActionError(f"件号 {_shown(beyond)} 超出 {label} 的最大件号 {max(held):04d}：缺号只能在已有件号之间。")
        known = set(PieceGap.objects.filter(piece_no__in=numbers, **in_class).values_list("piece_no", flat=True))
        if known:
            raise ActionError(f"{label} 的件号 {_shown(known)} 已有缺号说明。")
        gaps = PieceGap.objects.bulk_create([PieceGap(**in_class, piece_no=n, reason=reason, recorded_by=actor)
                                             for n in numbers])
        log_change(actor, "records.explain_gaps", fonds, None,
                   {"类别": label, "件号": _shown(numbers), "缺号原因": reason}, unit_path=fonds.unit.path,
                   obj_repr=f"缺号说明 {label} {_shown(numbers)}")
    return gaps


@action
def withdraw_gap(actor, gap: PieceGap) -> None:
    """Take back an explanation entered by mistake: the number is a gap again."""
    require_change(actor, gap.fonds)
    before = {"类别": gap.class_label, "件号": f"{gap.piece_no:04d}", "缺号原因": gap.reason}
    PieceGap.objects.filter(pk=gap.pk).delete()
    log_change(actor, "records.withdraw_gap", gap.fonds, before, None, unit_path=gap.fonds.unit.path,
               obj_repr=f"撤销缺号说明 {gap.class_label} {gap.piece_no:04d}")


def explained_pieces(fonds: Fonds) -> dict[tuple, set[int]]:
    """件号 of the fonds explained as missing, per class (全宗号, 门类, 年度, 保管期限, 机构)."""
    out: dict[tuple, set[int]] = {}
    rows = PieceGap.objects.filter(fonds=fonds).values_list("category__code", "year", "retention", "org_code__code",
                                                            "piece_no")
    for category, year, retention, org, piece in rows.iterator(chunk_size=5000):
        out.setdefault((fonds.code, category, year, retention, org or ""), set()).add(piece)
    return out


def with_filled(fonds: Fonds, gaps: list[PieceGap]) -> list[PieceGap]:
    """``gaps`` with ``filled`` set on each: an item holds its 件号 now (a found original
    imported, a renumbering) — the explanation no longer applies. One query."""
    held = set()
    if gaps:
        rows = Item.objects.filter(fonds=fonds, year__in={g.year for g in gaps}, piece_no__in={g.piece_no for g in gaps})
        held = set(rows.values_list("category_id", "year", "retention", "org_code_id", "piece_no"))
    for g in gaps:
        g.filled = (g.category_id, g.year, g.retention, g.org_code_id, g.piece_no) in held
    return gaps


def gap_notes(fonds: Fonds) -> list[tuple[tuple, str]]:
    """The fonds' 缺号说明 as (class, "J001-WS·2001-Y-BGS 0007：原件遗失") lines for a package."""
    gaps = with_filled(fonds, list(PieceGap.objects.filter(fonds=fonds).select_related("fonds", "category", "org_code")))
    return [(g.class_key, f"{g.class_label} {g.piece_no:04d}：{g.reason}") for g in gaps if not g.filled]
