"""Filter forms for the organization lists. Each takes the signed-in ``user`` so choices
can be limited to what the user may see."""

from django import forms

from qunli.core.forms import BootstrapFormMixin

from .models import Level, Line, PositionTitle, UnitKind, UnitStatus, VenueKind


def _blank(choices, label="全部"):
    return [("", label), *choices]


class _FilterForm(BootstrapFormMixin, forms.Form):
    blank_label = "全部"

    def __init__(self, *args, user=None, **kwargs):
        self.user = user
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.required = False
            css = field.widget.attrs.get("class", "")
            field.widget.attrs["class"] = (css.replace("form-control", "form-control form-control-sm")
                                           .replace("form-select", "form-select form-select-sm"))


class UnitFilterForm(_FilterForm):
    line = forms.ModelChoiceField(label="条线", queryset=Line.objects.none(), empty_label="全部")
    level = forms.ChoiceField(label="层级", choices=_blank(Level.choices))
    kind = forms.ChoiceField(label="类别", choices=_blank(UnitKind.choices))
    status = forms.ChoiceField(label="状态", choices=_blank(UnitStatus.choices))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["line"].queryset = Line.objects.filter(is_active=True)


class PositionFilterForm(_FilterForm):
    title = forms.ChoiceField(label="职务", choices=_blank(PositionTitle.choices))
    line = forms.ModelChoiceField(label="条线", queryset=Line.objects.none(), empty_label="全部")
    expired = forms.ChoiceField(label="任期", choices=[("", "全部"), ("1", "任期已届满"), ("0", "任期内")])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["line"].queryset = Line.objects.filter(is_active=True)


class VenueFilterForm(_FilterForm):
    kind = forms.ChoiceField(label="类型", choices=_blank(VenueKind.choices))
    line = forms.ModelChoiceField(label="条线", queryset=Line.objects.none(), empty_label="全部")
    passed = forms.ChoiceField(label="最近检查", choices=[("", "全部"), ("1", "达标"), ("0", "未达标"),
                                                         ("none", "未检查")])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["line"].queryset = Line.objects.filter(is_active=True)
