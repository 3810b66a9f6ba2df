from django import forms

from qunli.orgs.filters import _FilterForm

from .models import Category, Classification, Fonds, Item, Openness, Retention


def _blank(choices, label="全部"):
    return [("", label), *choices]


class ItemFilterForm(_FilterForm):
    fonds = forms.ModelChoiceField(label="全宗", queryset=Fonds.objects.none(), empty_label="全部",
                                   error_messages={"invalid_choice": "全宗不存在或不在您的数据范围内。"})
    year = forms.IntegerField(label="年度", min_value=1900, max_value=2100)
    retention = forms.ChoiceField(label="保管期限", choices=_blank(Retention.choices))
    category = forms.ModelChoiceField(label="门类", queryset=Category.objects.none(), empty_label="全部",
                                      error_messages={"invalid_choice": "门类不存在。"})
    status = forms.ChoiceField(label="状态", choices=_blank(Item.Status.choices))
    openness = forms.ChoiceField(label="开放标识", choices=_blank(Openness.choices))
    classification = forms.ChoiceField(label="密级", choices=_blank(Classification.choices))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from qunli.core.scoping import VIEW

        from .use import fonds_for_use

        # an archives filters its holdings by the fonds they came from (the sender's)
        self.fields["fonds"].queryset = fonds_for_use(self.user, VIEW).distinct().order_by("code")
        self.fields["category"].queryset = Category.objects.all()


class PendingFilterForm(ItemFilterForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        del self.fields["status"]
