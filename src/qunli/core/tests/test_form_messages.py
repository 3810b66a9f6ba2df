"""Form errors name the field and say what to do, in plain Chinese, instead of Django's
translated defaults; blank options read 请选择 (全部 in list filters), not 「---------」; a
message a form gives a field itself is kept."""

import pytest
from django import forms
from django.urls import reverse

from qunli.core.forms import BootstrapFormMixin
from qunli.orgs.models import Line

pytestmark = pytest.mark.django_db


class Sample(BootstrapFormMixin, forms.Form):
    reason = forms.CharField(label="理由", max_length=5)
    line = forms.ModelChoiceField(label="条线", queryset=Line.objects.all())
    amount = forms.DecimalField(label="金额", max_digits=4, decimal_places=2)
    day = forms.DateField(label="日期")
    kind = forms.ChoiceField(label="类别", choices=[("", "---------"), ("a", "甲")])
    code = forms.CharField(label="编号", max_length=3, error_messages={"max_length": "编号为三位。"})


def errors(**data):
    form = Sample(data)
    assert not form.is_valid()
    return {k: " ".join(v) for k, v in form.errors.items()}


def test_too_long_text_names_the_field_and_both_counts():
    assert errors(reason="一二三四五六")["reason"] == "“理由”最多 5 个字，现在是 6 个字，请删减。"


def test_unknown_choice_and_bad_number_and_date_say_what_to_fix():
    e = errors(line="99999", amount="123.456", day="2026-13-40", kind="z")
    assert e["line"] == "“条线”的选项无效，请重新选择。" and e["kind"] == "“类别”的选项无效，请重新选择。"
    assert "金额" in e["amount"] and "位" in e["amount"]
    assert e["day"] == "“日期”请填写正确的日期，如 2026-03-08。"


def test_missing_field_asks_for_it_by_name():
    assert errors()["reason"] == "请填写“理由”。"


def test_a_forms_own_message_is_kept():
    assert errors(code="1234")["code"] == "编号为三位。"


def test_blank_options_say_please_choose():
    html = str(Sample())
    assert "---------" not in html and html.count("请选择") == 2


def test_list_filters_blank_says_all_and_staff_forms_say_please_choose(client_for, accounts):
    c = client_for(accounts["party_office"])
    intake = c.get(reverse("casework:intake")).content.decode()
    assert "---------" not in intake and "请选择" in intake
    units = c.get(reverse("orgs:unit_list")).content.decode()
    assert "---------" not in units and "全部" in units


def test_portal_form_keeps_its_own_wording_and_never_djangos(client, tree):
    from qunli.portal.tests.test_portal import form_data

    html = client.post(reverse("portal:submit"), form_data(tree, name="名" * 60, type="999")).content.decode()
    assert "姓名不能超过50字。" in html and "请选择诉求类型。" in html
    assert "确保该变量" not in html and "不在可用的选项中" not in html



def test_a_missing_choice_asks_to_choose_and_missing_text_to_fill_in():
    e = errors()
    assert e["line"] == "请选择“条线”。" and e["kind"] == "请选择“类别”。"
    assert e["reason"] == "请填写“理由”。" and e["day"] == "请填写“日期”。"
