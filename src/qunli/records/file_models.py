"""Models of the capture features: legacy volumes (案卷) and what is derived once per content
digest from a stored file (``FileContent``: extracted text, page count, thumbnail).

``FileContent`` is keyed by the file's SM3: two items holding the same bytes share one
extraction, and ``qunli reindex`` reads the stored text instead of parsing files again. It is
not scoped and has no page of its own: it is reached only through a visible ``ItemFile``."""

from django.db import models
from django.utils import timezone

from qunli.core.scoping import ScopedQuerySet, ScopeSpec


class Volume(models.Model):
    """案卷 of legacy paper holdings (imported with their items)."""

    fonds = models.ForeignKey("records.Fonds", on_delete=models.PROTECT, related_name="volumes",
                              verbose_name="全宗")
    archival_code = models.CharField("案卷档号", max_length=60, unique=True)
    title = models.CharField("案卷题名", max_length=300, blank=True)
    year = models.PositiveSmallIntegerField("年度", null=True, blank=True)
    retention = models.CharField("保管期限", max_length=3, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    scope = ScopeSpec(unit="fonds__unit", line="fonds__unit__line")
    objects = ScopedQuerySet.as_manager()

    class Meta:
        ordering = ["archival_code"]
        verbose_name = "案卷"
        verbose_name_plural = "案卷"

    def __str__(self):
        return f"{self.archival_code} {self.title}".strip()


class FileContent(models.Model):
    class Status(models.TextChoices):
        TEXT = "text", "已提取全文"
        EMPTY = "empty", "无文本层"
        NONE = "none", "无需提取"

    sm3 = models.CharField("SM3", max_length=64, primary_key=True)
    kind = models.CharField("格式", max_length=10)
    status = models.CharField("状态", max_length=8, choices=Status.choices)
    text = models.TextField("全文", blank=True)
    page_count = models.PositiveIntegerField("页数", default=0)
    thumb_name = models.CharField("缩略图", max_length=120, blank=True)
    extracted_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "文件内容"
        verbose_name_plural = "文件内容"

    def __str__(self):
        return self.sm3
