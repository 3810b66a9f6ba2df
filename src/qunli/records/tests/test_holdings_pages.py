"""Holdings statistics (annual report shape), the access-figures hook, and the preservation
pages' query counts."""

import datetime as dt
import io

import openpyxl
import pytest
from django.urls import reverse

from qunli.records import actions, fixity, holdings
from qunli.records.models import Item
from qunli.records.tests.samples import minimal_pdf

PDF = minimal_pdf(b"y" * 300)


@pytest.fixture(autouse=True)
def _files(settings, tmp_path):
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "django.core.files.storage.FileSystemStorage",
                                                           "OPTIONS": {"location": str(tmp_path / "primary")}}}


@pytest.fixture
def held(capture, accounts):
    made = [capture(retention="Y", files=[("a.pdf", PDF)]), capture(retention="D30"), capture(retention="D10"),
            capture(retention="D10", date=dt.date(2021, 1, 1), files=[("b.pdf", PDF + b"b")])]
    actions.file_items(accounts["women_staff"], [i.pk for i in made[:3] + made[3:]])
    capture(retention="Y")  # stays pending
    return [Item.objects.get(pk=i.pk) for i in made]


def test_annual_report_counts_holdings_by_retention_and_digitization(held, accounts):
    year = Item.objects.filter(status="filed").first().filed_at.year
    r = holdings.annual_report(accounts["women_staff"], year)
    [row] = r["rows"]
    assert (row["total"], row["y"], row["d30"], row["d10"], row["pending"]) == (4, 1, 1, 2, 1)
    assert (row["digitized"], row["rate"], row["filed_in_year"]) == (2, 50.0, 4)
    assert {x["year"]: x["n"] for x in r["by_year"]} == {2023: 3, 2021: 1}
    assert r["by_category"][0]["n"] == 4
    assert (row["use_persons"], row["use_items"]) == (0, 0)  # nobody has asked to use them yet
    assert holdings.annual_report(accounts["clerk"], year)["rows"] == []  # a village clerk sees no county fonds


def test_a_born_digital_item_is_electronic_holdings_outside_the_digitization_rate(held, capture, accounts):
    staff = accounts["women_staff"]
    photo = capture(retention="Y", category="WS", files=[("合影.pdf", PDF + b"photo")], file_origin="born_digital")
    actions.file_items(staff, [photo.pk])
    year = Item.objects.get(pk=photo.pk).filed_at.year
    [row] = holdings.annual_report(staff, year)["rows"]
    # 5 held: 2 with scans, 1 born-digital; the rate is over the 4 paper items
    assert (row["total"], row["digitized"], row["electronic"], row["rate"]) == (5, 2, 1, 50.0)


def test_access_figures_come_from_the_use_register(held, accounts):
    from qunli.records import use

    Item.objects.filter(pk=held[0].pk).update(openness="open")  # approved at once; the others wait
    fonds = held[0].fonds
    use.register_use(accounts["women_staff"], fonds=fonds, reader_name="王芳", purpose="marriage",
                     items=[Item.objects.get(pk=held[0].pk), held[1]])
    use.register_use(accounts["women_staff"], fonds=fonds, reader_name="李强", purpose="social_security",
                     items=[Item.objects.get(pk=held[0].pk)])
    from django.utils import timezone

    row = holdings.annual_report(accounts["women_staff"], timezone.localdate().year)["rows"][0]
    assert (row["use_persons"], row["use_items"]) == (2, 2)  # 2 requests; held[1] still waits for a leader
    assert holdings.annual_report(accounts["women_staff"], timezone.localdate().year - 1)["rows"][0]["use_persons"] == 0


def test_holdings_page_and_xlsx(held, accounts, client_for):
    c = client_for(accounts["women_staff"])
    page = c.get(reverse("records:holdings"), {"year": "2026"}).content.decode()
    assert "J001" in page and "数字化率" in page
    r = c.get(reverse("records:holdings"), {"year": "2026", "export": "xlsx"})
    wb = openpyxl.load_workbook(io.BytesIO(b"".join(r.streaming_content)), read_only=True)
    rows = list(wb.worksheets[0].iter_rows(values_only=True))
    assert rows[0][:3] == ("全宗号", "全宗名称", "馆（室）藏档案（件）")
    assert rows[1][0] == "J001" and rows[1][2] == 4 and rows[-1][0] == "合计"


def test_preservation_pages_query_counts(held, accounts, client_for, django_assert_max_num_queries):
    fixity.run_fixity(mode="all")
    c = client_for(accounts["women_staff"])
    # the holdings page's 15th: the born-digital items (电子档案) per fonds
    for name, most in (("records:fixity", 14), ("records:appraisal_list", 14), ("records:destruction_list", 14),
                       ("records:destruction_candidates", 14), ("records:holdings", 15)):
        with django_assert_max_num_queries(most):
            assert c.get(reverse(name)).status_code == 200


def test_fixity_page_shows_problems_only_to_those_who_see_the_item(held, accounts, client_for):
    from django.core.files.storage import default_storage

    default_storage.delete(held[0].files.get().storage_name)
    fixity.run_fixity(mode="all")
    assert held[0].archival_code in client_for(accounts["women_staff"]).get(reverse("records:fixity")).content.decode()
    assert held[0].archival_code not in client_for(accounts["clerk"]).get(
        reverse("records:fixity")).content.decode()


def test_items_handed_to_an_archives_leave_the_holdings_and_are_counted_as_transferred(held, accounts, tree,
                                                                                      client_for):
    """After an accepted transfer the fonds' unit no longer holds the item (Custody names the
    archives): 馆藏 drops by one, 已移交 counts it, in the rows and the xlsx."""
    from conftest import add_unit, grant, make_user
    from qunli.records import transfer

    staff = accounts["women_staff"]
    from qunli.orgs.models import Line

    archives = add_unit(tree["province"], name="市档案馆", level="county", line=Line.objects.get(code="archives"))
    archivist = make_user("danganguan")
    grant(archivist, "staff", archives, all_lines=True)
    batch = transfer.create_transfer(staff, held[1].fonds, receiver=archives, item_ids=[held[1].pk])
    transfer.send_transfer(staff, batch)
    assert transfer.check_receipt(archivist, batch).passed
    transfer.accept_transfer(archivist, batch)
    year = held[0].filed_at.year
    r = holdings.annual_report(staff, year)
    [row] = r["rows"]
    assert (row["total"], row["y"], row["d30"], row["d10"], row["transferred"]) == (3, 1, 0, 2, 1)
    assert r["total"]["transferred"] == 1
    assert sum(x["n"] for x in r["by_retention"]) == 3
    resp = client_for(staff).get(reverse("records:holdings"), {"year": str(year), "export": "xlsx"})
    wb = openpyxl.load_workbook(io.BytesIO(b"".join(resp.streaming_content)), read_only=True)
    rows = list(wb.worksheets[0].iter_rows(values_only=True))
    assert rows[0][-1] == "已移交（件）" and rows[1][2] == 3 and rows[1][-1] == 1


def test_the_fixity_page_says_how_to_set_up_the_offsite_copy_when_there_is_none(accounts, client_for, settings):
    settings.QUNLI_OFFSITE = ""
    page = client_for(accounts["women_staff"]).get(reverse("records:fixity")).content.decode()
    assert 'id="offsite-missing"' in page and "QUNLI_OFFSITE" in page and "qunli records offsite sync" in page
