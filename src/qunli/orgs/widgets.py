"""The unit picker: one widget and one form field for every input that chooses a unit.

A drop-down of every unit a user may change is unusable at 100,000 units. The picker is a
search box that asks ``orgs:unit_picker`` (htmx, HTML fragments) for at most twenty
matches by name or administrative-division code, a hidden input that carries the chosen
unit's id, and the chosen unit's full name. Picking a result re-renders the widget from
the server, so it needs no JavaScript beyond htmx; results are buttons (keyboard reachable).

The field and the endpoint build their candidates with the same ``unit_scope``: the
endpoint never offers a unit the field would refuse, and the field still resolves the
posted id through ``Unit.objects.visible_to`` — an id outside the grant is a form error.

A few choices lie outside the user's own grants: a case is 转介'd to another line's unit.
For those a module registers a *source* (``register_source``): a function of (user, object
id) answering the units it offers — none to a user who may not act on that object. A
picker bound to ``source="name:id"`` searches and accepts exactly those units."""

import re
from collections.abc import Callable, Mapping
from urllib.parse import urlencode

from django import forms
from django.template.loader import render_to_string
from django.urls import reverse

from qunli.core.params import parse_id
from qunli.core.scoping import CHANGE, VIEW

from .models import Level, Unit, UnitStatus

PICKER_LIMIT = 20
NOT_FOUND = "单位不存在或不在您的权限范围内。"
# Narrowing filters a picker may carry in its URL. Each one only removes candidates; the
# base set is always what the user may see (``view``) or change (``change``).
FILTER_KEYS = ("action", "active", "line", "level", "exclude", "not_under", "source")
SOURCES: dict[str, Callable] = {}
_SOURCE = re.compile(r"^([a-z_]{1,40}):([0-9]{1,12})$")
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
_PATH = re.compile(r"^[0-9A-Z]{1,255}$")


def clean_params(params: Mapping) -> dict[str, str]:
    """The recognised filters, as strings, dropping anything malformed."""
    out: dict[str, str] = {}
    action = str(params.get("action") or CHANGE)
    out["action"] = VIEW if action == VIEW else CHANGE
    out["active"] = "0" if str(params.get("active", "1")) == "0" else "1"
    line = str(params.get("line") or "")
    if line in ("none", "any") or parse_id(line) is not None:
        out["line"] = line
    level = str(params.get("level") or "")
    if level in Level.values:
        out["level"] = level
    exclude = str(params.get("exclude") or "")
    if parse_id(exclude) is not None:
        out["exclude"] = exclude
    not_under = str(params.get("not_under") or "")
    if _PATH.match(not_under):
        out["not_under"] = not_under
    source = _SOURCE.match(str(params.get("source") or ""))
    if source and source.group(1) in SOURCES:
        out["source"] = source.group(0)
    return out


TREE_ORDER = ("depth", "path")  # the top of the tree first
SOURCE_ORDER: dict[str, tuple[str, ...]] = {}


def register_source(name: str, units: Callable, order: tuple[str, ...] = TREE_ORDER) -> None:
    """``units(user, object_id)`` → the units a picker bound to ``source="name:<id>"`` offers
    instead of the user's own (none to whoever may not act on that object), matches listed
    in ``order``."""
    SOURCES[name] = units
    SOURCE_ORDER[name] = order


def unit_scope(user, params: Mapping):
    """The units a picker with these filters offers (and its field accepts)."""
    p = clean_params(params)
    if p.get("source"):
        name, object_id = p["source"].split(":")
        qs = SOURCES[name](user, int(object_id)).select_related("line").order_by(*SOURCE_ORDER[name])
    else:
        qs = Unit.objects.visible_to(user, p["action"]).select_related("line").order_by(*TREE_ORDER)
    if p["active"] == "1":
        qs = qs.filter(status=UnitStatus.ACTIVE)
    line = p.get("line")
    if line == "none":
        qs = qs.filter(line__isnull=True)
    elif line == "any":
        qs = qs.filter(line__isnull=False)
    elif line:
        qs = qs.filter(line_id=int(line))
    if p.get("level"):
        qs = qs.filter(level=p["level"])
    if p.get("exclude"):
        qs = qs.exclude(pk=int(p["exclude"]))
    if p.get("not_under"):
        qs = qs.exclude(path__startswith=p["not_under"])
    return qs


def search(qs, q: str, limit: int = PICKER_LIMIT) -> list[Unit]:
    """Digits search division codes (prefix) and unit numbers; anything else the name; in
    ``unit_scope``'s order."""
    q = (q or "").strip()
    if not q:
        return []
    if q.isdecimal():
        from django.db.models import Q

        cond = Q(division_code__startswith=q)
        if len(q) < 10:
            cond |= Q(pk=int(q))
        qs = qs.filter(cond)
    else:
        qs = qs.filter(name__icontains=q)
    return list(qs[:limit])


def with_full_names(user, units: list[Unit]) -> list[Unit]:
    """Set ``full_name`` ("示范县 › 城关镇 › 东风村妇联") from the ancestors the user may see,
    with one query for the whole list. Ancestors outside the grant are left out."""
    units = [u for u in units if u is not None]
    paths = {u.path[: i * Unit.steplen] for u in units for i in range(1, u.depth)}
    names = {}
    if paths:
        names = dict(Unit.objects.visible_to(user, VIEW).filter(path__in=paths).values_list("path", "name"))
    for u in units:
        chain = [names[p] for p in (u.path[: i * Unit.steplen] for i in range(1, u.depth)) if p in names]
        u.ancestry = " › ".join(chain)
        u.full_name = " › ".join([*chain, u.name])
        u.picker_label = f"{u.line.name if u.line_id else '党委'} · {u.get_level_display()}"
    return units


def picker_url(name: str, html_id: str, params: Mapping, **extra) -> str:
    query = {"name": name, "id": html_id, **clean_params(params), **extra}
    return f"{reverse('orgs:unit_picker')}?{urlencode(query)}"


def picker_context(user, *, name: str, html_id: str, params: Mapping, unit: Unit | None, attrs=None,
                   focus: bool = False) -> dict:
    if unit is not None:
        with_full_names(user, [unit])
    attrs = dict(attrs or {})
    attrs.pop("id", None)
    # A bound field's widget attrs name its help text and error (<id>_helptext, <id>_error:
    # Django's aria-describedby, as every other field gets); the search box carries them too.
    describedby = " ".join(filter(None, [f"{html_id}_chosen", attrs.pop("aria-describedby", "")]))
    return {
        "name": name,
        "html_id": html_id,
        "unit": unit,
        "search_url": picker_url(name, html_id, params),
        "clear_url": picker_url(name, html_id, params, pick=""),
        "css_class": attrs.pop("class", "form-control"),
        "required": attrs.pop("required", False),
        "invalid": attrs.pop("aria-invalid", None) in (True, "true"),
        "describedby": describedby,
        "focus": focus,
    }


def valid_name(value: str) -> bool:
    return bool(_SAFE_NAME.match(value or ""))


class UnitPickerWidget(forms.Widget):
    template_name = "orgs/_unit_picker.html"

    def __init__(self, attrs=None):
        super().__init__(attrs)
        self.user = None
        self.params: dict = clean_params({})

    def value_from_datadict(self, data, files, name):
        return data.get(name)

    def value_omitted_from_data(self, data, files, name):
        return name not in data

    def id_for_label(self, id_):
        return f"{id_}_q" if id_ else id_

    def resolve(self, value) -> Unit | None:
        """The unit a value names, if this picker offers it (a foreign id shows nothing)."""
        if isinstance(value, Unit):
            value = value.pk
        pk = parse_id(value)
        if pk is None or self.user is None:
            return None
        return unit_scope(self.user, self.params).filter(pk=pk).first()

    def get_context(self, name, value, attrs):
        ctx = super().get_context(name, value, attrs)
        html_id = (attrs or {}).get("id") or self.attrs.get("id") or f"id_{name}"
        ctx["widget"].update(picker_context(self.user, name=name, html_id=html_id, params=self.params,
                                            unit=self.resolve(value), attrs=ctx["widget"]["attrs"]))
        return ctx


class UnitPickerField(forms.ModelChoiceField):
    """A unit chosen with the picker. Forms derived from ``UserForm`` bind it to their user;
    a form may narrow it further with ``bind(user, level=…, line=…, exclude=…)``."""

    widget = UnitPickerWidget
    default_error_messages = {"invalid_choice": NOT_FOUND, "required": "请选择单位。"}

    def __init__(self, *, action: str = CHANGE, active: bool = True, line: str = "", **kwargs):
        kwargs.setdefault("queryset", Unit.objects.none())
        kwargs.setdefault("help_text", "输入单位名称或行政区划代码查找，再点选。")
        super().__init__(**kwargs)
        self.params = clean_params({"action": action, "active": "1" if active else "0", "line": line})
        self.user = None

    def bind(self, user, **params) -> "UnitPickerField":
        self.user = user
        self.params = clean_params({**self.params, **{k: v for k, v in params.items() if v is not None}})
        self.queryset = unit_scope(user, self.params)
        if isinstance(self.widget, UnitPickerWidget):
            self.widget.user = user
            self.widget.params = dict(self.params)
        return self

    def label_from_instance(self, obj):
        return f"{obj.name}（{obj.line or '党委'} · {obj.get_level_display()}）"


def render_picker(request, *, name: str, html_id: str, params: Mapping, unit: Unit | None) -> str:
    ctx = picker_context(request.user, name=name, html_id=html_id, params=params, unit=unit, focus=True)
    return render_to_string(UnitPickerWidget.template_name, {"widget": ctx}, request=request)
