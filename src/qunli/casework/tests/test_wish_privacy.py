"""What keeps a served child identifiable off the public wishes wall: text naming the child,
their guardian, school or employer, or carrying a phone- or ID-number-like digit run is
refused at registration, edit, approval and publication; approval is four-eyes (never by
whoever registered or edited the wish); and an unpublished wish can be corrected, which sends
it back for review."""

import json

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.urls import reverse

from conftest import grant, make_user
from qunli.casework import wish_actions as wa
from qunli.casework.models import ServedPerson, Wish
from qunli.casework.wish_actions import identifying_detail
from qunli.core.actions import ActionError
from qunli.core.models import ChangeLog

pytestmark = pytest.mark.django_db
S = Wish.Status
NAME = "杨欣怡"
SCHOOL = "城关初级中学初二(3)班"
REVIEWER_TEXT = "我叫杨欣怡，城关初级中学初二(3)班，想要一个书包"


# --- the detection, on its own ---------------------------------------------------------------------

def test_full_name_is_found():
    assert identifying_detail(REVIEWER_TEXT, name=NAME) == "服务对象的姓名“杨欣怡”"
    assert identifying_detail("我是杨 欣 怡", name=NAME) == "服务对象的姓名“杨欣怡”"  # spaced out


def test_given_name_of_two_characters_is_found():
    assert identifying_detail("欣怡想要一个书包", name=NAME) == "服务对象的名字“欣怡”"
    assert identifying_detail("小明想要一个篮球", name="欧阳小明") == "服务对象的名字“小明”"  # compound surname
    assert identifying_detail("艾力想要一个足球", name="买买提·艾力") == "服务对象的名字“艾力”"


def test_a_two_character_name_is_found_whole_but_not_by_its_single_characters():
    assert identifying_detail("王芳想要一本新华字典", name="王芳") == "服务对象的姓名“王芳”"
    assert identifying_detail("想要一瓶芬芳的花露水和王者风范的书包", name="王芳") is None


def test_the_pet_names_made_from_the_given_name_are_found():
    nickname = "服务对象的昵称“{}”".format
    assert identifying_detail("小怡想要一个书包", name=NAME) == nickname("小怡")
    assert identifying_detail("欣欣最喜欢画画", name=NAME) == nickname("欣欣")
    assert identifying_detail("芳芳想要一本新华字典", name="王芳") == nickname("芳芳")
    assert identifying_detail("阿芳想要一件棉衣", name="王芳") == nickname("阿芳")
    assert identifying_detail("小学三年级的小芳想要一个书包", name="王芳") == nickname("小芳")


def test_words_that_begin_like_a_pet_name_are_not_taken_for_one():
    # 王学 → 小学; 王书 → 小书(包); 李星 → 星星(灯); 刘红 → 小红(花); 张姨 → 阿姨
    assert identifying_detail("想要一套小学数学辅导书", name="王学") is None
    assert identifying_detail("想要一个小书包", name="王书") is None
    assert identifying_detail("想要一盏星星灯", name="李星") is None
    assert identifying_detail("得了三朵小红花，想要一本画册", name="刘红") is None
    assert identifying_detail("想和阿姨一起去看电影", name="张姨") is None


def test_unrelated_common_words_are_not_false_positives():
    # the family name alone, one character of the given name, or a generic part of the school
    assert identifying_detail("想要一本关于杨树的科普书，欣赏大自然", name=NAME, places=(SCHOOL,)) is None
    assert identifying_detail("想要一套初级中学数学辅导书", name=NAME, places=(SCHOOL,)) is None
    assert identifying_detail("想要一双新运动鞋", name="", guardian="", places=("", "教师")) is None


def test_school_employer_and_guardian_are_found():
    assert identifying_detail("我在城关初级中学读书，想要书包", name=NAME, places=(SCHOOL,)) == \
        "服务对象的学校或工作单位“城关初级中学”"
    assert identifying_detail("妈妈在县农商银行上班", name=NAME, places=("", "县农商银行 柜员")) == \
        "服务对象的学校或工作单位“县农商银行”"
    assert identifying_detail("爸爸杨建国常年在外打工", name=NAME, guardian="杨建国") == "监护人的姓名“杨建国”"


def test_phone_and_id_number_like_digit_runs_are_found_amounts_and_dates_are_not():
    assert identifying_detail("联系13812345678", name=NAME) == "疑似电话号码或身份证号的数字“138****5678”"
    assert identifying_detail("联系 138 1234 5678", name=NAME) == "疑似电话号码或身份证号的数字“138****5678”"
    assert identifying_detail("身份证43012120100101123X", name=NAME).startswith("疑似电话号码或身份证号的数字“430")
    assert identifying_detail("座机 0731-8888888", name=NAME) is not None
    assert identifying_detail("想要500元以内的自行车，2026-09-01开学前用，初二3班", name=NAME) is None



def test_the_short_names_people_use_for_a_school_or_employer_are_found():
    found = "服务对象的学校或工作单位“{}”".format
    assert identifying_detail("我在城关中学读初二", name=NAME, places=(SCHOOL,)) == found("城关中学")
    assert identifying_detail("城关初中的学生", name=NAME, places=(SCHOOL,)) == found("城关初中")
    assert identifying_detail("秦安一中高三", name=NAME, places=("秦安县第一中学",)) == found("秦安一中")
    assert identifying_detail("在城关小学读书", name=NAME, places=("秦安县城关镇中心小学",)) == found("城关小学")
    assert identifying_detail("爸爸在华天电子上班", name=NAME, places=("", "华天电子有限公司")) == found("华天电子")
    # what every county has, or a generic kind of school, is nobody's address
    for text in ("想要第一中学的参考书", "想要一本中学生字典", "想要一套初级中学数学辅导书", "想去县城的小学看看"):
        assert identifying_detail(text, name=NAME, places=(SCHOOL, "秦安县第一中学", "秦安县城关镇中心小学")) is None


def test_the_village_community_or_street_of_the_address_is_found_the_township_is_not():
    address = "甘肃省天水市秦安县城关镇东风村三组12号"
    assert identifying_detail("东风村的孩子想要书包", name=NAME, address=address) == "服务对象的住址“东风村”"
    assert identifying_detail("家住幸福小区", name=NAME, address="秦安县兴国镇幸福小区3号楼") == "服务对象的住址“幸福小区”"
    assert identifying_detail("城关镇的孩子想要书包，秦安县", name=NAME, address=address) is None


def test_the_name_in_pinyin_and_digits_written_in_chinese_or_full_width_are_found():
    assert identifying_detail("From Yang Xinyi: a schoolbag", name=NAME) == "服务对象姓名的拼音“yang xin yi”"
    assert identifying_detail("XINYI想要书包", name=NAME) == "服务对象姓名的拼音“xin yi”"
    assert identifying_detail("曾小军想", name="曾小军") == "服务对象的姓名“曾小军”"
    assert identifying_detail("ceng xiaojun", name="曾小军") is not None  # 曾 read either way
    assert identifying_detail("want a yang-style kite", name=NAME) is None  # the family name alone
    assert identifying_detail("电话一三九一二三四五六七八", name=NAME) == "疑似电话号码或身份证号的数字“139****5678”"
    assert identifying_detail("电话１３９１２３４５６７８", name=NAME) == "疑似电话号码或身份证号的数字“139****5678”"
    assert identifying_detail("想要一二年级的课外书", name=NAME) is None

# --- the actions -----------------------------------------------------------------------------------

@pytest.fixture
def staff(accounts):
    return accounts["party_office"]


@pytest.fixture
def reviewer(accounts):
    return accounts["women_staff"]


@pytest.fixture
def child(tree, person_factory):
    p = person_factory(unit=tree["village_women"], name=NAME)
    ServedPerson.objects.create(person=p, unit=tree["village_women"], school_or_employer=SCHOOL,
                                guardian_name="杨建国")
    return p


def collect(staff, child, tree, text="想要一个新书包") -> Wish:
    return wa.collect_wish(staff, served=child, unit=tree["women"], category="school", text=text, amount="120")


def test_the_reviewers_wish_is_refused_at_registration_and_nothing_is_written(staff, child, tree):
    with pytest.raises(ActionError) as e:
        collect(staff, child, tree, text=REVIEWER_TEXT)
    assert e.value.messages == ["心愿内容含有服务对象的姓名“杨欣怡”，公开前请删去可识别身份的信息。"]
    with pytest.raises(ActionError, match="学校或工作单位“城关初级中学”"):
        collect(staff, child, tree, text="城关初级中学的同学，想要一个书包")
    child.set_sensitive("address", "秦安县城关镇东风村三组12号")
    child.save()
    with pytest.raises(ActionError, match="服务对象的住址“东风村”"):
        collect(staff, child, tree, text="东风村三组的孩子，想要一个书包")
    assert not Wish.objects.exists() and not ChangeLog.objects.filter(object_type="casework.wish").exists()


def test_registration_of_a_person_not_yet_served_checks_the_name_too(staff, tree, person_factory):
    p = person_factory(unit=tree["village_women"], name="李浩然")
    with pytest.raises(ActionError, match="服务对象的名字“浩然”"):
        collect(staff, p, tree, text="浩然想要一个篮球")
    assert not ServedPerson.objects.filter(person=p).exists()  # refused before registering them as served


def test_approval_and_publication_check_again_against_the_current_record(staff, reviewer, tree, person_factory):
    p = person_factory(unit=tree["village_women"], name="陈小花")
    w = collect(staff, p, tree, text="想要东风村小学的新校服")
    served = ServedPerson.objects.get(person=p)
    served.school_or_employer = "东风村小学"  # recorded after the wish was registered
    served.save()
    with pytest.raises(ActionError, match="学校或工作单位“东风村小学”"):
        wa.approve_wish(reviewer, w)
    assert Wish.objects.get(pk=w.pk).status == S.PENDING
    served.school_or_employer = ""
    served.save()
    w = wa.approve_wish(reviewer, w)
    Wish.objects.filter(pk=w.pk).update(text="陈小花想要新校服")  # e.g. a row written before the check existed
    with pytest.raises(ActionError, match="服务对象的姓名“陈小花”"):
        wa.publish_wish(staff, w)
    assert Wish.objects.get(pk=w.pk).status == S.APPROVED
    assert not Wish.objects.on_wall().exists()


def test_the_wall_never_shows_the_reviewers_details(client, staff, reviewer, child, tree):
    with pytest.raises(ActionError):
        collect(staff, child, tree, text=REVIEWER_TEXT)
    w = collect(staff, child, tree, text="想要一个书包")
    wa.publish_wish(staff, wa.approve_wish(reviewer, w))
    page = client.get(reverse("portal:wishes")).content.decode()
    assert "想要一个书包" in page and "杨*" in page
    for secret in (NAME, "欣怡", "城关初级中学", "初二(3)班"):
        assert secret not in page


# --- four-eyes -------------------------------------------------------------------------------------

def test_approval_by_the_registrant_is_refused(staff, reviewer, child, tree):
    w = collect(staff, child, tree)
    with pytest.raises(ActionError) as e:
        wa.approve_wish(staff, w)
    assert e.value.messages == ["心愿需由登记人以外的工作人员审核。"]
    assert Wish.objects.get(pk=w.pk).status == S.PENDING
    assert not ChangeLog.objects.filter(action="casework.approve_wish").exists()
    w = wa.approve_wish(reviewer, w)
    assert w.status == S.APPROVED and w.reviewed_by == reviewer


def test_approval_by_whoever_edited_the_text_is_refused(staff, reviewer, child, tree, lines):
    w = collect(staff, child, tree)
    wa.edit_wish(reviewer, w, text="想要一个蓝色的书包")
    for who in (staff, reviewer):
        with pytest.raises(ActionError, match="登记人以外"):
            wa.approve_wish(who, w)
    third = make_user("fulian2")
    grant(third, "staff", tree["women"], lines=[lines["women"]])
    assert wa.approve_wish(third, w).status == S.APPROVED


def test_approval_by_the_registrant_is_refused_on_the_page(client_for, staff, reviewer, child, tree):
    w = collect(staff, child, tree)
    c = client_for(staff)
    page = c.get(reverse("casework:wish_detail", args=[w.pk])).content.decode()
    assert 'data-four-eyes="1"' in page and reverse("casework:wish_approve", args=[w.pk]) not in page
    r = c.post(reverse("casework:wish_approve", args=[w.pk]), follow=True)
    assert "心愿需由登记人以外的工作人员审核。" in r.content.decode() and Wish.objects.get().status == S.PENDING
    other = Client()
    other.force_login(reviewer)
    page = other.get(reverse("casework:wish_detail", args=[w.pk])).content.decode()
    assert reverse("casework:wish_approve", args=[w.pk]) in page and 'data-four-eyes="1"' not in page
    assert other.post(reverse("casework:wish_approve", args=[w.pk])).status_code == 302
    assert Wish.objects.get().status == S.APPROVED


# --- correcting an unpublished wish ----------------------------------------------------------------

def test_editing_sends_the_wish_back_for_review_and_logs_before_and_after(staff, reviewer, child, tree):
    w = wa.approve_wish(reviewer, collect(staff, child, tree))
    w = wa.edit_wish(staff, w, category="daily", text="想要一件厚棉衣", amount="200")
    assert (w.status, w.category, w.text, str(w.amount)) == (S.PENDING, "daily", "想要一件厚棉衣", "200.00")
    assert w.reviewed_by is None and w.reviewed_at is None
    log = ChangeLog.objects.get(action="casework.edit_wish")
    assert log.before["text"] == "想要一个新书包" and log.before["status"] == S.APPROVED
    assert log.after["text"] == "想要一件厚棉衣" and log.after["status"] == S.PENDING
    rejected = wa.reject_wish(reviewer, collect(staff, child, tree, text="想要一部手机"), reason="不宜公开")
    rejected = wa.edit_wish(staff, rejected, text="想要一本英语词典")
    assert rejected.status == S.PENDING and rejected.reject_reason == ""


def test_editing_refuses_identifying_text_a_published_wish_and_no_change(staff, reviewer, child, tree):
    w = collect(staff, child, tree)
    with pytest.raises(ActionError, match="服务对象的姓名“杨欣怡”"):
        wa.edit_wish(staff, w, text=REVIEWER_TEXT)
    with pytest.raises(ActionError, match="疑似电话号码"):
        wa.edit_wish(staff, w, text="请联系13812345678")
    with pytest.raises(ActionError, match="没有修改任何内容"):
        wa.edit_wish(staff, w, text="想要一个新书包")
    with pytest.raises(ActionError, match="心愿类别"):
        wa.edit_wish(staff, w, category="toys")
    published = wa.publish_wish(staff, wa.approve_wish(reviewer, w))
    with pytest.raises(ActionError, match="请先从心愿墙撤回"):
        wa.edit_wish(staff, published, text="想要一个红色书包")
    assert Wish.objects.get(pk=w.pk).text == "想要一个新书包"
    assert not ChangeLog.objects.filter(action="casework.edit_wish").exists()


def test_editing_needs_change_rights(accounts, staff, child, tree):
    w = collect(staff, child, tree)
    for who in ("leader", "union_staff"):
        with pytest.raises(PermissionDenied):
            wa.edit_wish(accounts[who], w, text="想要一个篮球")


def test_edit_page(client_for, accounts, staff, child, tree):
    w = collect(staff, child, tree)
    c = client_for(staff)
    assert reverse("casework:wish_edit", args=[w.pk]) in c.get(w.get_absolute_url()).content.decode()
    page = c.get(reverse("casework:wish_edit", args=[w.pk])).content.decode()
    assert "想要一个新书包" in page
    r = c.post(reverse("casework:wish_edit", args=[w.pk]), {"category": "school", "text": REVIEWER_TEXT,
                                                            "amount": "120"})
    assert "心愿内容含有服务对象的姓名“杨欣怡”" in r.content.decode() and Wish.objects.get().text == "想要一个新书包"
    r = c.post(reverse("casework:wish_edit", args=[w.pk]), {"category": "school", "text": "想要一盏护眼台灯",
                                                            "amount": "80"})
    assert r.status_code == 302 and Wish.objects.get().text == "想要一盏护眼台灯"
    assert client_for(accounts["leader"]).get(reverse("casework:wish_edit", args=[w.pk])).status_code == 403


def test_edit_through_the_api(accounts, staff, child, tree):
    w = collect(staff, child, tree)
    c = Client()
    c.force_login(staff)
    url = f"/api/casework/wishes/{w.pk}"
    r = c.patch(url, json.dumps({"text": "欣怡想要一个书包"}), content_type="application/json")
    assert r.status_code == 400 and r.json()["detail"] == ["心愿内容含有服务对象的名字“欣怡”，公开前请删去可识别身份的信息。"]
    r = c.patch(url, json.dumps({"amount": "90"}), content_type="application/json")
    assert r.status_code == 200 and r.json()["amount"] == "90.00" and r.json()["text"] == "想要一个新书包"
    leader = Client()
    leader.force_login(accounts["leader"])
    assert leader.patch(url, json.dumps({"amount": "1"}), content_type="application/json").status_code == 404
