"""Who a transfer can go to — the archives of the sender's own region (档案 line units hanging
off the fonds unit or any of its ancestors), found by the sender's staff although the archives
belongs to another line — and the item metadata the receiving archivist reads (Chinese values,
codes in attributes, parse errors in Chinese)."""

import re

import pytest
from django.urls import reverse

from conftest import add_unit
from qunli.core.actions import ActionError
from qunli.records import actions, transfer
from qunli.records.models import TransferBatch
from qunli.records.tests.samples import minimal_pdf

pytestmark = pytest.mark.django_db


@pytest.fixture
def filed(capture, accounts):
    items = [capture(files=[(f"{n}.pdf", minimal_pdf(b"%d" % n))]) for n in range(2)]
    actions.file_items(accounts["women_staff"], [i.pk for i in items])
    return items


def picked(client, q: str) -> str:
    page = client.get(reverse("orgs:unit_picker"), {"name": "receiver", "id": "id_receiver",
                                                     "source": "transfer_receivers:0", "receiver_q": q})
    assert page.status_code == 200
    return page.content.decode()


def test_a_lines_staff_finds_and_picks_the_county_archives(client, fonds, filed, county_archives, accounts):
    unit, _ = county_archives
    client.force_login(accounts["women_staff"])
    assert "示范县档案馆" in picked(client, "档案馆")
    r = client.post(reverse("records:transfer_add"), {"fonds": fonds.pk, "year": 2023, "retention": "Y",
                                                     "receiver": unit.pk, "title": ""})
    assert r.status_code == 302, r.content.decode()[:2000]
    assert TransferBatch.objects.get().receiver == unit


def test_the_picker_offers_no_archives_of_another_county(client, fonds, tree, lines, county_archives, accounts):
    add_unit(tree["other_county"], name="邻县档案馆", level="county", line=lines["archives"])
    client.force_login(accounts["women_staff"])
    page = picked(client, "档案馆")
    assert "示范县档案馆" in page and "邻县档案馆" not in page


def test_a_unit_that_is_no_archives_cannot_receive_a_transfer(fonds, filed, tree, accounts):
    with pytest.raises(ActionError, match="不是.*档案馆或综合档案室"):
        transfer.create_transfer(accounts["women_staff"], fonds, receiver=tree["union"], item_ids=[filed[0].pk])
    assert not TransferBatch.objects.exists()


def test_another_countys_archives_cannot_receive_a_transfer(fonds, filed, tree, lines, accounts):
    elsewhere = add_unit(tree["other_county"], name="邻县档案馆", level="county", line=lines["archives"])
    with pytest.raises(ActionError, match="不是.*档案馆或综合档案室"):
        transfer.create_transfer(accounts["women_staff"], fonds, receiver=elsewhere, item_ids=[filed[0].pk])


# --- the item metadata a receiving archivist reads ----------------------------------------------------------

def test_item_xml_reads_in_chinese_and_parses_back_to_the_codes():
    meta = {"archival_code": "J001-WS·2023-D30-BGS-0001", "retention": "D30", "classification": "internal",
            "openness": "pending", "title": "关于开展活动的通知"}
    xml = transfer.item_xml(meta, [], [("records.capture_record", "2023-03-01T08:00:00+08:00", "fulian")]).decode()
    assert '<保管期限 代码="D30">定期30年</保管期限>' in xml and '<密级 代码="internal">内部</密级>' in xml
    assert '<开放标识 代码="pending">待定</开放标识>' in xml and '<行为 代码="records.capture_record">登记档案</行为>' in xml
    parsed, _, events = transfer.parse_item_xml(xml.encode())
    assert (parsed["retention"], parsed["classification"], parsed["openness"]) == ("D30", "internal", "pending")
    assert events == 1


def test_an_older_package_with_bare_codes_and_a_hand_written_one_with_labels_both_parse():
    ns = transfer.XML_NS
    for inner, expected in (("<保管期限>Y</保管期限><密级>public</密级>", ("Y", "public")),
                            ("<保管期限>永久</保管期限><密级>公开</密级>", ("Y", "public"))):
        xml = f'<?xml version="1.0" encoding="UTF-8"?>\n<电子文件元数据 xmlns="{ns}">{inner}</电子文件元数据>'
        meta, _, _ = transfer.parse_item_xml(xml.encode())
        assert (meta["retention"], meta["classification"]) == expected


def test_a_file_origin_travels_as_da_t_46_generation_and_an_older_package_is_read_by_extension():
    files = [{"name": "合影.jpg", "size": 3, "mime": "image/jpeg", "path": "1-合影.jpg", "sm3": "a", "sha256": "b",
              "origin": "born_digital"},
             {"name": "扫描.pdf", "size": 3, "mime": "application/pdf", "path": "2-扫描.pdf", "sm3": "c", "sha256": "d",
              "origin": "scan"}]
    xml = transfer.item_xml({"archival_code": "J001-WS·2023-Y-0001"}, files, []).decode()
    assert "<生成方式>原生</生成方式>" in xml and "<生成方式>数字化</生成方式>" in xml
    _, parsed, _ = transfer.parse_item_xml(xml.encode())
    assert [f["origin"] for f in parsed] == ["born_digital", "scan"]
    older = xml.replace("<生成方式>原生</生成方式>", "").replace("<生成方式>数字化</生成方式>", "")
    _, parsed, _ = transfer.parse_item_xml(older.encode())
    assert [f["origin"] for f in parsed] == ["scan", "scan"]  # as such files were counted before
    assert transfer.file_origin("", "录音.mp3") == "born_digital"


def test_broken_item_xml_is_reported_in_chinese():
    with pytest.raises(ValueError) as e:
        transfer.parse_item_xml(b'<?xml version="1.0"?>\n<a><b></a>')
    assert "第2行" in str(e.value) and "不是合法的 XML" in str(e.value) and "mismatched" not in str(e.value)


# --- the receiver's buttons ----------------------------------------------------------------------------------

def test_accept_waits_for_the_receipt_check_and_return_says_return(client, fonds, filed, county_archives, accounts):
    unit, archivist = county_archives
    batch = transfer.send_transfer(accounts["women_staff"], transfer.create_transfer(
        accounts["women_staff"], fonds, receiver=unit, item_ids=[i.pk for i in filed]))
    client.force_login(archivist)
    page = client.get(batch.get_absolute_url()).content.decode()
    assert 'disabled title="请先进行接收检测">接收</button>' in page
    transfer.check_receipt(archivist, batch)
    page = client.get(batch.get_absolute_url()).content.decode()
    assert reverse("records:transfer_accept", args=[batch.pk]) in page and "确定接收？" in page
    form = client.get(reverse("records:transfer_return", args=[batch.pk])).content.decode()
    assert 'type="submit">退回</button>' in form


def test_the_pickers_receivers_take_two_queries_however_many_fonds_the_user_transfers(fonds, tree, lines, accounts,
                                                                                     county_archives,
                                                                                     django_assert_num_queries):
    staff = accounts["women_staff"]
    for n, unit in enumerate((tree["women"], tree["town_women"], tree["village_women"])):
        actions.create_fonds(staff, unit=unit, code=f"J10{n}", name=unit.name)
    transfer.receiver_units(staff).count()  # the grants are read once per request, then cached
    with django_assert_num_queries(2):  # the fonds' paths, then the archives off them
        assert list(transfer.receiver_units(staff).values_list("name", flat=True)) == ["示范县档案馆"]


def test_the_receiver_picker_offers_the_nearest_archives_first(fonds, tree, lines, accounts, county_archives,
                                                              client_for):
    """Typing 档案馆 lists the county's own archives before the city's and the province's: the
    first match is the usual receiver, not the province's (a wrong pick is only undone by a 退回)."""
    from conftest import add_unit

    add_unit(tree["province"], name="湖南省档案馆", level="province", kind="organ", line=lines["archives"])
    c = client_for(accounts["women_staff"])
    url = reverse("records:transfer_add")
    page = c.get(url).content.decode()
    picker = re.search(r'hx-get="([^"]*source=transfer_receivers[^"]*)"', page)
    assert picker, "the receiver field is a picker bound to the receivers source"
    found = c.get(picker.group(1).replace("&amp;", "&") + "&receiver_q=档案馆").content.decode()
    assert found.index("示范县档案馆") < found.index("湖南省档案馆")
