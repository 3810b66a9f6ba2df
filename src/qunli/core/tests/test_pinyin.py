"""Names sort the way a Chinese roster does: by pinyin, family names read as family names."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qunli.core.pinyin import phrase_key, sort_key


def test_names_sort_by_pinyin_not_by_code_point():
    names = ["张伟", "阿依古丽", "杨欣怡", "丁一", "王芳", "李四光", "欧阳小明"]
    assert sorted(names) != sorted(names, key=sort_key)  # code-point order puts 丁 first
    assert sorted(names, key=sort_key) == ["阿依古丽", "丁一", "李四光", "欧阳小明", "王芳", "杨欣怡", "张伟"]


def test_a_name_sorts_before_longer_names_that_start_with_it():
    assert sorted(["杨欣怡", "杨", "杨欣"], key=sort_key) == ["杨", "杨欣", "杨欣怡"]


def test_family_names_are_read_as_family_names():
    assert sort_key("曾国藩").startswith("zeng1 ")
    assert sort_key("单田芳").startswith("shan4 ")
    assert sorted(["曾国藩", "陈毅", "张三"], key=sort_key) == ["陈毅", "曾国藩", "张三"]  # c < ze < zh


def test_tones_and_u_umlaut_are_spelled_plainly():
    assert sort_key("吕").startswith("lv3 ") and sort_key("女").startswith("nv3 ")
    assert sort_key("妈") < sort_key("麻") < sort_key("马") < sort_key("骂")  # tones 1 to 4


def test_names_that_read_alike_still_sort_the_same_way_every_time():
    assert sort_key("杨帆") != sort_key("杨翻") and sort_key("杨帆").split("\t")[0] == sort_key("杨翻").split("\t")[0]
    assert sorted(["杨帆", "杨翻"], key=sort_key) == sorted(["杨翻", "杨帆"], key=sort_key)


@given(st.text(max_size=50))
def test_any_name_gets_a_key_that_fits_the_column(name):
    from qunli.people.models import Person

    longest = Person._meta.get_field("name_sort").max_length
    assert len(sort_key(name)) <= longest
    assert len(sort_key("壮" * 50)) <= longest  # zhuang4: the longest spelling, 50 times


@pytest.mark.django_db
def test_saved_and_imported_persons_carry_the_key(person_factory):
    p = person_factory(name="曾小贤")
    assert p.name_sort == sort_key("曾小贤")
    p.name = "单田芳"
    p.save(update_fields=["name"])
    p.refresh_from_db()
    assert p.name_sort.startswith("shan4 ")


def test_families_whose_names_read_alike_stay_together():
    names = ["于波", "余斌", "于斌", "余波", "俞兵"]
    assert sorted(names, key=sort_key) == ["于斌", "于波", "余斌", "余波", "俞兵"]


@given(st.text(max_size=100))
def test_any_unit_name_gets_a_key_that_fits_the_column(name):
    from qunli.orgs.models import Unit

    longest = Unit._meta.get_field("name_sort").max_length
    assert len(phrase_key(name)) <= longest and len(phrase_key("壮" * 100)) <= longest


@pytest.mark.django_db
def test_the_unit_list_sorts_names_in_pinyin_order_and_a_rename_follows(tree, client_for, accounts):
    from django.urls import reverse

    from qunli.orgs.models import Unit

    assert phrase_key("曾家村").startswith("ceng2 ")  # a place, not a family: the common reading
    c = client_for(accounts["party_office"])
    names = [u.name for u in c.get(reverse("orgs:unit_list"), {"sort": "name_sort"}).context["page"].object_list]
    assert names == sorted(names, key=phrase_key) and names != sorted(names)  # code points put 东 before 城
    assert names.index("城关镇") < names.index("东风村") < names.index("示范县")
    town = tree["town"]
    town.name = "阿拉镇"
    town.save(update_fields=["name"])
    assert Unit.objects.get(pk=town.pk).name_sort.startswith("a1 la1 zhen4 ")


def test_the_table_is_pypinyins_dictionary_read_without_importing_the_package():
    from pypinyin.pinyin_dict import pinyin_dict

    from qunli.core import pinyin

    assert pinyin._readings() == pinyin_dict
