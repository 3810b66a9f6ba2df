"""缺号说明: a 件号 missing from a class is explained by the records office; only a real gap
may be explained; the explanation is logged, can be withdrawn, and is shown on the fonds."""

import datetime as dt
import io
import zipfile

import pytest
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from qunli.core.actions import ActionError
from qunli.core.models import ChangeLog
from qunli.records import actions, transfer
from qunli.records.gaps import PieceGap, explain_gaps, explained_pieces, parse_pieces, withdraw_gap
from qunli.records.models import Category, Item
from qunli.records.tests.samples import minimal_pdf

pytestmark = pytest.mark.django_db
CLASS = ("J001", "WS", 2023, "Y", "BGS")


@pytest.fixture(autouse=True)
def _files(settings, tmp_path):
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "django.core.files.storage.FileSystemStorage",
                                                           "OPTIONS": {"location": str(tmp_path / "storage")}}}


@pytest.fixture
def with_gaps(capture, accounts):
    """J001-WS·2023-Y-BGS numbered 0001–0005, then 0002 and 0004 lost (as a legacy catalogue with holes)."""
    items = [capture(date=dt.date(2023, 3, 1 + i), files=[(f"{i}.pdf", minimal_pdf(str(i).encode()))]) for i in range(5)]
    actions.file_items(accounts["women_staff"], [i.pk for i in items])
    items = list(Item.objects.filter(pk__in=[i.pk for i in items]).order_by("piece_no"))
    Item.objects.filter(pk__in=[items[1].pk, items[3].pk]).update(status=Item.Status.PENDING, piece_no=None,
                                                                   archival_code=None)
    return items


def explain(accounts, fonds, pieces, reason="原件于1998年搬迁时遗失", who="women_staff", **over):
    data = dict(category=Category.objects.get(code="WS"), year=2023, retention="Y",
                org_code=fonds.org_codes.get(code="BGS"), pieces=pieces, reason=reason)
    data.update(over)
    return explain_gaps(accounts[who], fonds, **data)


def test_piece_lists_are_read_the_way_people_write_them():
    assert parse_pieces("7, 12-14，20、3") == [3, 7, 12, 13, 14, 20]
    assert parse_pieces("5～6 9至10") == [5, 6, 9, 10]
    for bad in ("", "七", "0", "9-3", "1-100000"):
        with pytest.raises(ActionError):
            parse_pieces(bad)


def test_a_real_gap_is_explained_logged_and_counted(fonds, with_gaps, accounts):
    gaps = explain(accounts, fonds, "2, 4")
    assert [g.piece_no for g in gaps] == [2, 4] and gaps[0].class_label == "J001-WS·2023-Y-BGS"
    assert explained_pieces(fonds) == {CLASS: {2, 4}}
    log = ChangeLog.objects.get(action="records.explain_gaps")
    assert log.after["件号"] == "0002、0004" and log.after["缺号原因"] == "原件于1998年搬迁时遗失"


@pytest.mark.parametrize("pieces, message", [
    ("3", "件号 0003 已有条目，不是缺号"),
    ("2, 6", "超出 J001-WS·2023-Y-BGS 的最大件号 0005"),
])
def test_only_a_number_missing_below_the_highest_can_be_explained(fonds, with_gaps, accounts, pieces, message):
    with pytest.raises(ActionError, match=message):
        explain(accounts, fonds, pieces)
    assert not PieceGap.objects.exists()


def test_refusals_write_nothing(fonds, with_gaps, accounts):
    explain(accounts, fonds, "2")
    with pytest.raises(ActionError, match="0002 已有缺号说明"):
        explain(accounts, fonds, "2, 4")
    with pytest.raises(ActionError, match="缺号原因"):
        explain(accounts, fonds, "4", reason=" ")
    with pytest.raises(ActionError, match="不存在缺号"):
        explain(accounts, fonds, "1", year=2019)
    with pytest.raises(PermissionDenied):
        explain(accounts, fonds, "4", who="leader")
    assert list(PieceGap.objects.values_list("piece_no", flat=True)) == [2]
    assert ChangeLog.objects.filter(action="records.explain_gaps").count() == 1


def test_the_fonds_page_registers_lists_and_withdraws_an_explanation(fonds, with_gaps, accounts, client_for):
    c = client_for(accounts["women_staff"])
    r = c.post(f"/records/fonds/{fonds.pk}/gaps/add/", {"category": "WS", "year": "2023", "retention": "Y",
                                                         "org_code": "BGS", "pieces": "3", "reason": "漏号"})
    assert r.status_code == 200 and "0003 已有条目" in r.content.decode()  # the reason, on the form
    r = c.post(f"/records/fonds/{fonds.pk}/gaps/add/", {"category": "WS", "year": "2023", "retention": "Y",
                                                         "org_code": "BGS", "pieces": "2,4", "reason": "编号时漏号"})
    assert r.status_code == 302 and r["Location"].endswith("?tab=gaps")
    page = c.get(f"/records/fonds/{fonds.pk}/", {"tab": "gaps"}).content.decode()
    assert "J001-WS·2023-Y-BGS" in page and "0004" in page and "编号时漏号" in page
    gap = PieceGap.objects.get(piece_no=4)
    assert client_for(accounts["leader"]).post(f"/records/gaps/{gap.pk}/withdraw/").status_code in (403, 404)
    assert client_for(accounts["women_staff"]).post(f"/records/gaps/{gap.pk}/withdraw/").status_code == 302
    assert explained_pieces(fonds) == {CLASS: {2}}
    assert ChangeLog.objects.filter(action="records.withdraw_gap").exists()
    history = client_for(accounts["women_staff"]).get(f"/records/fonds/{fonds.pk}/", {"tab": "history"}).content.decode()
    assert "登记缺号说明" in history and "撤销缺号说明" in history and "records.explain_gaps" not in history


def test_withdrawing_needs_write_reach(fonds, with_gaps, accounts):
    gap = explain(accounts, fonds, "2")[0]
    with pytest.raises(PermissionDenied):
        withdraw_gap(accounts["leader"], gap)
    assert PieceGap.objects.filter(pk=gap.pk).exists()


# --- in 四性检测 and in a transfer -----------------------------------------------------------------

def result(run, code: str) -> dict:
    return next(r for r in run.results if r["code"] == code)


def test_an_unexplained_gap_fails_the_holdings_check_an_explained_one_is_a_warning(fonds, with_gaps, accounts):
    staff = accounts["women_staff"]
    run = transfer.check_holdings(staff, fonds)
    assert result(run, "2-4")["status"] == "failed" and "缺号 2 个（0002、0004）" in "".join(result(run, "2-4")["failures"])
    explain(accounts, fonds, "2")
    run = transfer.check_holdings(staff, fonds)
    assert "缺号 1 个（0004）" in "".join(result(run, "2-4")["failures"])  # 0004 is still a gap
    explain(accounts, fonds, "4", reason="编号时漏号")
    run = transfer.check_holdings(staff, fonds)
    assert run.passed and result(run, "2-4")["status"] == "warning"
    assert "缺号 2 个已有缺号说明（0002、0004）" in "".join(result(run, "2-4")["warnings"])


def test_a_row_that_only_warns_says_so_in_its_problem_count_on_the_page_and_in_the_xlsx(
        fonds, with_gaps, accounts, client_for):
    import openpyxl

    explain(accounts, fonds, "2, 4")
    run = transfer.check_holdings(accounts["women_staff"], fonds)
    c = client_for(accounts["women_staff"])
    page = c.get(reverse("records:check_run", args=[run.pk])).content.decode()
    assert "1（警告）" in page
    xlsx = c.get(reverse("records:check_xlsx", args=[run.pk]))
    rows = list(openpyxl.load_workbook(io.BytesIO(b"".join(xlsx.streaming_content))).active.values)
    assert next(r for r in rows if r[0] == "2-4")[5] == "1（警告）"


def test_the_explanation_travels_with_the_transfer_and_satisfies_the_receipt_check(
        fonds, with_gaps, accounts, archives):
    from qunli.records.models import Custody, TransferBatch

    staff = accounts["women_staff"]
    filed = [i for i in with_gaps if Item.objects.get(pk=i.pk).status == Item.Status.FILED]
    blocked = transfer.create_transfer(staff, fonds, receiver=archives[0], item_ids=[i.pk for i in filed])
    assert not blocked.check_runs.get().passed
    transfer.withdraw_transfer(staff, blocked)
    explain(accounts, fonds, "2, 4", reason="原件遗失")
    batch = transfer.create_transfer(staff, fonds, receiver=archives[0], item_ids=[i.pk for i in filed])
    assert batch.check_runs.get().passed
    transfer.send_transfer(staff, batch)
    out = io.BytesIO()
    transfer.write_zip(batch, out)
    package = zipfile.ZipFile(io.BytesIO(out.getvalue()))
    assert "Qunli-Explained-Gaps: WS|2023|Y|BGS|2,4\n" in package.read("bag-info.txt").decode()
    assert "J001-WS·2023-Y-BGS 0004：原件遗失" in package.read("gap-notes.txt").decode()
    receipt = transfer.check_receipt(archives[1], batch)
    assert receipt.passed and "已有缺号说明" in "".join(result(receipt, "2-4")["warnings"])
    # another system receiving the package offline knows the explanation only from the package
    Custody.objects.all().delete()
    TransferBatch.objects.update(status="returned")
    PieceGap.objects.all().delete()
    offline = transfer.receive_package(archives[1], receiver=archives[0],
                                       uploaded=SimpleUploadedFile("p.zip", out.getvalue()))
    assert offline.check_runs.get().passed


def test_an_explanation_whose_number_is_filled_again_is_marked_and_no_longer_sent(fonds, with_gaps, accounts,
                                                                                   client_for):
    from qunli.records.gaps import gap_notes

    explain(accounts, fonds, "2, 4")
    found = with_gaps[1]  # the original of 0002 turned up and is catalogued again
    Item.objects.filter(pk=found.pk).update(status=Item.Status.FILED, piece_no=2,
                                            archival_code="J001-WS·2023-Y-BGS-0002")
    assert [line for _, line in gap_notes(fonds)] == ["J001-WS·2023-Y-BGS 0004：原件于1998年搬迁时遗失"]
    page = client_for(accounts["women_staff"]).get(f"/records/fonds/{fonds.pk}/", {"tab": "gaps"}).content.decode()
    assert page.count("已补号</span>") == 1
