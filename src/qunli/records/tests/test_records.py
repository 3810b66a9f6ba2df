import datetime as dt
import hashlib
import io

import openpyxl
import pytest
from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qunli.core.actions import ActionError
from qunli.core.models import ChangeLog
from qunli.orgs import actions as orgs_actions
from qunli.records import actions
from qunli.records.models import FilingCounter, Item, ItemFile

# A minimal PDF that opens (capture parses every file: a broken one is refused)
PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
       b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")


@pytest.fixture(autouse=True)
def _files(settings, tmp_path):
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "django.core.files.storage.FileSystemStorage",
                                                           "OPTIONS": {"location": str(tmp_path)}}}


# --- capture ---------------------------------------------------------------------------------

def test_capture_hashes_and_stores_once(capture):
    a = capture(files=[("扫描件.pdf", PDF)])
    b = capture(files=[("同一文件.pdf", PDF)])
    fa, fb = a.files.get(), b.files.get()
    assert fa.sm3 == hashlib.new("sm3", PDF).hexdigest() == fb.sm3
    assert fa.sha256 == hashlib.sha256(PDF).hexdigest()
    assert fa.storage_name == f"files/{fa.sm3[:2]}/{fa.sm3}" == fb.storage_name
    assert default_storage.open(fa.storage_name).read() == PDF
    assert len(default_storage.listdir(f"files/{fa.sm3[:2]}")[1]) == 1
    assert a.status == "pending" and a.piece_no is None and a.archival_code is None


@pytest.mark.parametrize("name,data,msg", [
    ("病毒.exe", b"MZ....", "格式不在允许范围内"),
    ("假的.pdf", b"PK\x03\x04rest", "不符或文件已损坏"),
    ("空.png", b"", "空文件"),
])
def test_capture_refuses_bad_files(capture, name, data, msg):
    with pytest.raises(ActionError, match=msg):
        capture(files=[(name, data)])
    assert not Item.objects.exists()


def test_capture_retention_from_schedule_and_nearest_fonds(capture, tree, accounts, fonds):
    item = actions.capture_record(accounts["women_staff"], unit=tree["town_women"], title="通知", responsible="城关镇妇联",
                                  date=dt.date(2024, 5, 1), record_type="一般通知")
    assert item.fonds == fonds and item.retention == "D10" and item.year == 2024


def test_orgs_events_are_captured_after_commit(fonds, tree, accounts, person_factory,
                                               django_capture_on_commit_callbacks):
    staff = accounts["women_staff"]
    with django_capture_on_commit_callbacks(execute=True):
        orgs_actions.merge_unit(staff, tree["village_women"], tree["town_women"], document_no="县妇字〔2024〕3号")
    item = Item.objects.get(source_type="orgs.unitevent")
    assert item.title == "关于东风村妇联并入城关镇妇联的机构变动记录"
    assert item.doc_no == "县妇字〔2024〕3号" and item.retention == "Y" and item.fonds == fonds
    person = person_factory(unit=tree["town_women"], name="李四")
    with django_capture_on_commit_callbacks(execute=True):
        pos = orgs_actions.appoint(staff, unit=tree["town_women"], person=person, title="chair",
                                   started_on=dt.date(2024, 1, 1))
    with django_capture_on_commit_callbacks(execute=True):
        orgs_actions.end_position(staff, pos, on=dt.date(2025, 1, 1), reason="调动")
    titles = set(Item.objects.filter(source_type="orgs.position").values_list("title", flat=True))
    assert titles == {"关于李四任城关镇妇联主席的任职记录", "关于李四免去城关镇妇联主席职务的离任记录"}


def test_orgs_events_arrive_classed_with_pages_and_the_organization_department(
        fonds, tree, accounts, person_factory, django_capture_on_commit_callbacks):
    """前端控制 means fileable as captured: 页数 and, in a fonds classed by codes, the code of the
    department keeping organization and cadre records (组织部 before 办公室, never 权益部)."""
    staff = accounts["women_staff"]
    actions.add_org_code(staff, fonds, code="QYB", name="权益部")
    actions.add_org_code(staff, fonds, code="ZZB", name="组织部")
    person = person_factory(unit=tree["town_women"], name="李四")
    with django_capture_on_commit_callbacks(execute=True):
        pos = orgs_actions.appoint(staff, unit=tree["town_women"], person=person, title="chair",
                                   started_on=dt.date(2024, 1, 1), term_ends_on=dt.date(2028, 12, 31))
    with django_capture_on_commit_callbacks(execute=True):
        orgs_actions.end_position(staff, pos, on=dt.date(2025, 1, 1), reason="调动", confirm_early=True)
    with django_capture_on_commit_callbacks(execute=True):
        orgs_actions.dissolve_unit(staff, tree["village_women"], note="村改居")
    items = list(Item.objects.order_by("pk"))
    assert [(i.org_code.code, i.pages) for i in items] == [("ZZB", 1)] * 3
    assert items[0].note == "任职日期：2024-01-01；任期届满：2028-12-31"
    assert items[1].note == "任职日期：2024-01-01；任期届满：2028-12-31；离任日期：2025-01-01；离任原因：调动"
    assert items[2].note.startswith("变动日期：") and items[2].note.endswith("说明：村改居")
    actions.file_items(staff, [i.pk for i in items])
    assert all(i.archival_code for i in Item.objects.all())


def test_orgs_events_without_fonds_capture_nothing(tree, accounts, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        orgs_actions.dissolve_unit(accounts["union_staff"], tree["union"])
    assert not Item.objects.exists()
    with pytest.raises(ActionError, match="未建立全宗"):
        actions.capture_record(accounts["union_staff"], unit=tree["union"], title="x", responsible="y",
                               date=dt.date(2024, 1, 1))


def test_split_is_captured(fonds, tree, accounts, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        orgs_actions.split_unit(accounts["women_staff"], tree["village_women"],
                                [{"name": "东风村一组妇联", "level": "village", "line": tree["women"].line},
                                 {"name": "东风村二组妇联", "level": "village", "line": tree["women"].line}])
    assert Item.objects.get().title == "关于东风村妇联拆分为东风村一组妇联、东风村二组妇联的机构变动记录"


# --- filing ----------------------------------------------------------------------------------

def test_filing_numbers_per_class_in_date_order(capture, accounts):
    late = capture(date=dt.date(2023, 9, 1))
    early = capture(date=dt.date(2023, 1, 5))
    other_year = capture(date=dt.date(2022, 6, 1))
    d30 = capture(date=dt.date(2023, 2, 1), retention="D30")
    out = actions.file_items(accounts["women_staff"], [late.pk, early.pk, other_year.pk, d30.pk])
    assert out["count"] == 4
    codes = dict(Item.objects.values_list("pk", "archival_code"))
    assert codes[early.pk] == "J001-WS·2023-Y-BGS-0001"
    assert codes[late.pk] == "J001-WS·2023-Y-BGS-0002"
    assert codes[other_year.pk] == "J001-WS·2022-Y-BGS-0001"
    assert codes[d30.pk] == "J001-WS·2023-D30-BGS-0001"
    nxt = capture(date=dt.date(2023, 1, 1))  # earlier date, later batch: continues the class
    actions.file_items(accounts["women_staff"], [nxt.pk])
    assert Item.objects.get(pk=nxt.pk).archival_code == "J001-WS·2023-Y-BGS-0003"
    assert ChangeLog.objects.filter(action="records.file_items").count() == 2


def test_required_elements_refuse_the_whole_batch(capture, accounts):
    good = capture()
    bad = capture(title="", pages=None, org_code="")
    bad.responsible = ""
    bad.save()
    with pytest.raises(ActionError) as e:
        actions.file_items(accounts["women_staff"], [good.pk, bad.pk])
    msg = " ".join(e.value.messages)
    assert f"条目 {bad.pk}" in msg and "题名" in msg and "责任者" in msg and "页数" in msg and "机构（问题）代码" in msg
    assert not Item.objects.filter(status="filed").exists()
    assert not FilingCounter.objects.filter(last_no__gt=0).exists()


def test_filing_twice_and_out_of_reach_refused(capture, accounts):
    item = capture()
    actions.file_items(accounts["women_staff"], [item.pk])
    with pytest.raises(ActionError, match="已归档"):
        actions.file_items(accounts["women_staff"], [item.pk])
    other = capture()
    with pytest.raises(PermissionDenied):
        actions.file_items(accounts["leader"], [other.pk])
    with pytest.raises(ActionError, match="不在您的数据范围内"):
        actions.file_items(accounts["women_staff"], [other.pk, 987654])


def test_renumber_keeps_class_gapless_and_is_logged(capture, accounts):
    items = [capture(date=dt.date(2023, 1, d)) for d in (1, 2, 3, 4)]
    actions.file_items(accounts["women_staff"], [i.pk for i in items])
    moved = actions.renumber_item(accounts["women_staff"], Item.objects.get(pk=items[3].pk), piece_no=1, reason="补排")
    assert moved.archival_code.endswith("-0001")
    nos = dict(Item.objects.values_list("pk", "piece_no"))
    assert [nos[i.pk] for i in items] == [2, 3, 4, 1]
    assert all(c.endswith(f"-{n:04d}") for n, c in Item.objects.values_list("piece_no", "archival_code"))
    assert ChangeLog.objects.filter(action="records.renumber_item").count() == 1


def test_renumber_refuses_to_cross_or_take_a_destroyed_number(capture, accounts):
    items = [capture(date=dt.date(2023, 1, d)) for d in (1, 2, 3)]
    actions.file_items(accounts["women_staff"], [i.pk for i in items])
    Item.objects.filter(pk=items[1].pk).update(status=Item.Status.DISPOSED)  # 2 destroyed, entry kept
    before = dict(Item.objects.values_list("pk", "archival_code"))
    for target in (1, 2):
        with pytest.raises(ActionError, match="件号 2 为已销毁条目"):
            actions.renumber_item(accounts["women_staff"], Item.objects.get(pk=items[2].pk), piece_no=target,
                                  reason="补排")
    assert dict(Item.objects.values_list("pk", "archival_code")) == before
    assert not ChangeLog.objects.filter(action="records.renumber_item").exists()


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=st.lists(st.lists(st.tuples(st.integers(2020, 2022), st.sampled_from(["Y", "D30", "D10"]),
                                           st.integers(1, 28)), min_size=1, max_size=6), min_size=1, max_size=4))
def test_numbering_is_unique_and_gapless(capture, accounts, batches):
    Item.objects.all().delete()
    FilingCounter.objects.all().delete()
    for batch in batches:
        ids = [capture(date=dt.date(y, 2, d), retention=r).pk for y, r, d in batch]
        actions.file_items(accounts["women_staff"], ids)
    classes = {}
    for y, r, no, code in Item.objects.values_list("year", "retention", "piece_no", "archival_code"):
        classes.setdefault((y, r), []).append(no)
        assert code == f"J001-WS·{y}-{r}-BGS-{no:04d}"
    for nos in classes.values():
        assert sorted(nos) == list(range(1, len(nos) + 1))


# --- views -----------------------------------------------------------------------------------

def test_pending_list_and_bulk_filing(client_for, capture, accounts):
    a, b = capture(), capture(title="")
    c = client_for(accounts["women_staff"])
    assert "归档所选条目" in c.get(reverse("records:pending_list")).content.decode()
    r = c.post(reverse("records:file_items"), {"pk": [a.pk, b.pk]}, follow=True)
    assert "缺少必著项：题名" in r.content.decode() and not Item.objects.filter(status="filed").exists()
    r = c.post(reverse("records:file_items"), {"pk": [a.pk]}, follow=True)
    assert "已归档 1 件" in r.content.decode()
    assert Item.objects.get(pk=a.pk).archival_code == "J001-WS·2023-Y-BGS-0001"


def test_leader_cannot_file(client_for, capture, accounts):
    a = capture()
    r = client_for(accounts["leader"]).post(reverse("records:file_items"), {"pk": [a.pk]}, follow=True)
    assert "只有查看权限" in r.content.decode() and Item.objects.get(pk=a.pk).status == "pending"


def test_manual_capture_with_upload(client_for, accounts, fonds, tree):
    c = client_for(accounts["women_staff"])
    data = {"unit": tree["women"].pk, "title": "会议纪要", "responsible": "示范县妇联", "date": "2024-03-01",
            "category": "WS", "classification": "internal", "openness": "pending", "retention": "Y", "pages": 3}
    r = c.post(reverse("records:item_add"), {**data, "files": SimpleUploadedFile("a.exe", b"MZ")})
    assert "格式不在允许范围内" in r.content.decode() and not Item.objects.exists()
    r = c.post(reverse("records:item_add"), {**data, "files": SimpleUploadedFile("纪要.pdf", PDF)})
    assert r.status_code == 302
    item = Item.objects.get()
    assert item.files.get().sm3 == hashlib.new("sm3", PDF).hexdigest()
    page = c.get(reverse("records:item_detail", args=[item.pk]) + "?tab=files").content.decode()
    assert item.files.get().sm3 in page
    assert "登记档案" in c.get(reverse("records:item_detail", args=[item.pk]) + "?tab=history").content.decode()


def test_catalogue_export_keeps_destroyed_entries_marked(client_for, capture, accounts, fonds):
    items = [capture(date=dt.date(2023, 1, d)) for d in (1, 2, 3)]
    actions.file_items(accounts["women_staff"], [i.pk for i in items])
    Item.objects.filter(pk=items[1].pk).update(status=Item.Status.DISPOSED)
    r = client_for(accounts["leader"]).get(reverse("records:catalogue", args=[fonds.pk]), {"year": 2023, "retention": "Y"})
    rows = list(openpyxl.load_workbook(io.BytesIO(b"".join(r.streaming_content))).active.iter_rows(values_only=True))
    assert [row[0] for row in rows[3:]] == [1, 2, 3]  # under the title, the class line and the headers
    assert [row[8] or "" for row in rows[3:]] == ["", "已销毁", ""]


def test_catalogue_export(client_for, capture, accounts, fonds):
    items = [capture(date=dt.date(2023, 1, d)) for d in (2, 1)]
    capture(date=dt.date(2023, 1, 3))  # pending: not in the catalogue
    actions.file_items(accounts["women_staff"], [i.pk for i in items])
    r = client_for(accounts["leader"]).get(reverse("records:catalogue", args=[fonds.pk]), {"year": 2023, "retention": "Y"})
    wb = openpyxl.load_workbook(io.BytesIO(b"".join(r.streaming_content)))
    rows = list(wb.active.iter_rows(values_only=True))
    assert rows[0][0] == "归档文件目录" and "机构（问题）：办公室（BGS）" in rows[1][0]
    assert list(rows[2]) == ["件号", "档号", "文号", "责任者", "题名", "日期", "密级", "页数", "备注"]
    assert [row[1] for row in rows[3:]] == ["J001-WS·2023-Y-BGS-0001", "J001-WS·2023-Y-BGS-0002"]
    assert rows[3][5] == "20230101"


def test_fonds_pages_and_schedule_version(client_for, accounts, fonds):
    c = client_for(accounts["women_staff"])
    page = c.get(reverse("records:fonds_detail", args=[fonds.pk])).content.decode()
    assert "BGS" in page and "办公室" in page
    r = c.post(reverse("records:schedule_add", args=[fonds.pk]), {"effective_on": "2026-01-01",
                                                                  "rules": "机构变动=Y\n会议记录=D30"})
    assert r.status_code == 302
    page = c.get(reverse("records:fonds_detail", args=[fonds.pk]) + "?tab=schedules").content.decode()
    assert "第2版" in page and "第1版" in page and "会议记录" in page


def test_a_schedule_takes_chinese_retention_names_and_the_latest_effective_version_governs(client_for, accounts,
                                                                                          fonds, tree):
    """The fonds' schedule (effective 2000: 一般通知=D10) gets a version effective 2026, then one
    added later but effective 2020: records of 2021 follow the 2020 version, 2026's the 2026 one."""
    from qunli.records.actions import current_schedule

    c = client_for(accounts["women_staff"])
    url = reverse("records:schedule_add", args=[fonds.pk])
    assert c.post(url, {"effective_on": "2026-01-01", "rules": "一般通知=永久"}).status_code == 302
    assert c.post(url, {"effective_on": "2020-01-01", "rules": "一般通知=定期30年"}).status_code == 302
    page = c.post(url, {"effective_on": "2020-01-01", "rules": "一般通知=长期"}).content.decode()
    assert "保管期限“长期”无效" in page
    assert current_schedule(tree["women"], dt.date(2021, 5, 1)).retention_for("一般通知") == "D30"
    assert current_schedule(tree["women"], dt.date(2026, 5, 1)).retention_for("一般通知") == "Y"
    assert current_schedule(tree["women"], dt.date(2010, 5, 1)).retention_for("一般通知") == "D10"


def test_other_county_is_out_of_reach(client_for, accounts, tree, capture):
    from qunli.records.models import Fonds

    foreign = Fonds.objects.create(code="J900", name="邻县妇联全宗", unit=tree["other_women"])
    item = Item.objects.create(fonds=foreign, category_id=capture().category_id, year=2023, title="邻县文件")
    c = client_for(accounts["party_office"])
    assert c.get(reverse("records:fonds_detail", args=[foreign.pk])).status_code == 404
    assert c.get(reverse("records:item_detail", args=[item.pk])).status_code == 404
    assert c.get(reverse("records:catalogue", args=[foreign.pk]), {"year": 2023, "retention": "Y"}).status_code == 404
    assert "邻县" not in c.get(reverse("records:item_list")).content.decode()
    assert "邻县" not in c.get(reverse("records:fonds_list")).content.decode()
    r = c.get(reverse("records:item_list"), {"export": "xlsx"})
    assert "邻县" not in str(list(openpyxl.load_workbook(io.BytesIO(b"".join(r.streaming_content))).active.values))
    r = c.post(reverse("records:file_items"), {"pk": [item.pk]})
    assert r.status_code == 404


def test_query_ceilings(client_for, accounts, capture, django_assert_max_num_queries):
    items = [capture(files=[(f"{n}.pdf", PDF + bytes([n]))]) for n in range(30)]
    actions.file_items(accounts["women_staff"], [i.pk for i in items[:15]])
    c = client_for(accounts["women_staff"])
    c.get(reverse("records:item_list"))  # warm the session
    for url in (reverse("records:item_list"), reverse("records:pending_list"), reverse("records:fonds_list"),
                reverse("records:item_list") + "?year=2023&retention=Y&q=通知"):
        with django_assert_max_num_queries(12):
            assert c.get(url).status_code == 200
    for url in (reverse("records:item_detail", args=[items[0].pk]),
                reverse("records:item_detail", args=[items[0].pk]) + "?tab=files",
                reverse("records:item_detail", args=[items[0].pk]) + "?tab=history",
                reverse("records:fonds_detail", args=[items[0].fonds_id]),
                reverse("records:fonds_detail", args=[items[0].fonds_id]) + "?tab=schedules"):
        with django_assert_max_num_queries(13):  # the fonds page lists the 门类 for its catalogue form
            assert c.get(url).status_code == 200
    assert ItemFile.objects.count() == 30


def test_a_long_text_column_wraps_instead_of_widening_the_list(capture, client_for, accounts):
    """Lists keep short cells on one line; 题名 wraps, so the columns after it stay on a 1366 px page."""
    from django.urls import reverse

    capture(title="关于做好二〇二三年度全县妇女儿童权益保障工作和家庭教育指导服务的通知")
    page = client_for(accounts["women_staff"]).get(reverse("records:item_list")).content.decode()
    assert '<td class="text-wrap" style="min-width: 12em"><a href=' in page
    assert page.count('class="text-wrap"') == 1  # the 题名 column only


def test_an_items_history_names_its_fonds_and_category_and_labels_the_filing_in_chinese(capture, accounts,
                                                                                        client_for):
    from qunli.records import actions

    item = capture()
    actions.file_items(accounts["women_staff"], [item.pk])
    page = client_for(accounts["women_staff"]).get(item.get_absolute_url() + "?tab=history").content.decode()
    assert str(item.fonds) in page and str(item.category) in page
    assert "编号 " not in page and "batch" not in page and "classes" not in page
