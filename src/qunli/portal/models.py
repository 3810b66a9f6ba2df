"""The public portal (网上群团): notices staff publish, and the counters behind its rate limits.

The portal reads no business table except through ``portal.actions.track`` (tracking code +
the phone's last four digits); everything else it shows is a ``Notice`` with ``is_published``."""

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone

from qunli.core.scoping import ScopedQuerySet, ScopeSpec


class Notice(models.Model):
    """A notice (通知公告) written by a unit's staff; the public sees it once published."""

    unit = models.ForeignKey("orgs.Unit", on_delete=models.PROTECT, related_name="+", verbose_name="发布单位")
    title = models.CharField("标题", max_length=100)
    body = models.TextField("正文")
    is_published = models.BooleanField("已发布", default=False)
    published_at = models.DateTimeField("发布时间", null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    scope = ScopeSpec(unit="unit", line="unit__line")
    objects = ScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-published_at", "-id"]
        verbose_name = "通知公告"
        verbose_name_plural = "通知公告"
        indexes = [models.Index(fields=["is_published", "published_at"], name="notice_published")]

    def __str__(self):
        return self.title

    def get_absolute_url(self):
        return reverse("portal:notice_edit", args=[self.pk])


class RateLimit(models.Model):
    """One fixed-window counter: ``key`` is the limit's name and a keyed hash of what is
    counted (an IP address or a phone number — never stored in the clear), ``bucket`` the
    window's number. Incremented with one atomic INSERT … ON CONFLICT DO UPDATE … RETURNING
    (``portal.ratelimit.hit``), so every gunicorn worker counts against the same row."""

    key = models.CharField(max_length=64)
    bucket = models.BigIntegerField()
    count = models.PositiveIntegerField(default=0)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["key", "bucket"], name="ratelimit_key_bucket")]
