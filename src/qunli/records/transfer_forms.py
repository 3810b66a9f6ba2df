"""Forms of the transfer pages (移交/接收). They collect input; ``records.transfer`` validates,
checks permissions and writes."""

from django import forms

from qunli.core.scoping import CHANGE
from qunli.orgs.widgets import UnitPickerField
from qunli.people.forms import UserForm

from .models import Fonds, Retention


class TransferForm(UserForm):
    fonds = forms.ModelChoiceField(label="全宗", queryset=Fonds.objects.none(),
                                   error_messages={"invalid_choice": "全宗不存在或不在您的数据范围内。"})
    year = forms.IntegerField(label="年度", min_value=1900, max_value=2100)
    retention = forms.ChoiceField(label="保管期限", choices=[("", "（全部）"), *Retention.choices], required=False)
    receiver = UnitPickerField(label="接收单位（档案馆、综合档案室）",
                               help_text="本单位所在地区的档案馆或综合档案室（档案条线单位）。输入名称查找，再点选。")
    title = forms.CharField(label="批次名称", max_length=200, required=False,
                            help_text="留空则为“全宗名称 + 档案移交”。")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["fonds"].queryset = Fonds.objects.visible_to(self.user, CHANGE).select_related("unit")
        self.fields["receiver"].bind(self.user, source="transfer_receivers:0")


class ReceiveForm(UserForm):
    receiver = UnitPickerField(label="接收单位")
    package = forms.FileField(label="移交数据包（ZIP）", help_text="BagIt 格式，含 SM3 与 SHA-256 清单；上传后立即进行四性检测。")
    title = forms.CharField(label="批次名称", max_length=200, required=False)


class ReturnForm(UserForm):
    reason = forms.CharField(label="退回原因", widget=forms.Textarea(attrs={"rows": 4}), max_length=2000)
