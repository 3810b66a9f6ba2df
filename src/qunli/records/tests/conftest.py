import datetime as dt

import pytest

from conftest import add_unit, grant, make_user
from qunli.records import actions
from qunli.records.models import Fonds, Item


@pytest.fixture
def fonds(tree, accounts):
    """示范县's fonds J001 (on the county node, so every unit of the county files into it) with
    办公室 BGS, and a retention schedule."""
    staff = accounts["women_staff"]
    f = actions.create_fonds(staff, unit=tree["county"], code="J001", name="示范县群团组织")
    actions.add_org_code(staff, f, code="BGS", name="办公室")
    actions.add_schedule_version(staff, tree["county"], effective_on=dt.date(2000, 1, 1),
                                 rules=[("机构变动", "Y"), ("干部任免", "Y"), ("一般通知", "D10")])
    return Fonds.objects.select_related("unit").get(pk=f.pk)


@pytest.fixture
def capture(fonds, accounts, tree):
    counter = {"n": 0}

    def make(date=dt.date(2023, 3, 1), **kw):
        counter["n"] += 1
        data = dict(unit=tree["women"], title=f"关于第{counter['n']}项工作的通知", responsible="示范县妇联",
                    file_origin="scan",
                    date=date, doc_no=f"县妇发〔2023〕{counter['n']}号", retention="Y", org_code="BGS", pages=2)
        data.update(kw)
        # 开放 comes only from an opening decision (records.opening): a test's item "already
        # opened" is captured as 待定 and given the state such a decision leaves
        opened = data.get("openness") == "open"
        if opened:
            data["openness"] = "pending"
        item = actions.capture_record(accounts["women_staff"], **data)
        if opened:
            Item.objects.filter(pk=item.pk).update(openness="open")
            item.openness = "open"
        return item

    return make


# --- opening and use: a filed fonds with one item in every public/non-public state ----------------

HIDDEN_WORDS = {
    "controlled": "返城安置",  # 开放标识 控制使用 (划控)
    "undecided": "纪要甲乙",  # 开放标识 待定 (not yet appraised)
    "secret": "测绘坐标",  # 密级 秘密, even though flagged open
    "confidential": "机要电报",  # 密级 机密, flagged open
    "unfiled": "草稿丙丁",  # flagged open but never filed
}


@pytest.fixture
def holdings(capture, accounts, django_capture_on_commit_callbacks):
    """Items of 示范县's fonds J001: two open ones ("婚姻登记") and one per hidden state, each
    hidden one with a word found in no other item."""

    staff = accounts["women_staff"]
    made = {}
    with django_capture_on_commit_callbacks(execute=True):
        made["open"] = capture(title="关于1985年婚姻登记工作的通知", openness="open", classification="public",
                               date=dt.date(1985, 3, 1))
        made["open2"] = capture(title="关于做好婚姻登记档案查询的通知", openness="open", classification="internal",
                                date=dt.date(1990, 5, 1))
        made["controlled"] = capture(title="关于知青返城安置名单的报告（婚姻登记）", openness="controlled",
                                     classification="internal", date=dt.date(1980, 1, 1))
        made["undecided"] = capture(title="党组会议纪要甲乙", openness="pending", date=dt.date(1999, 1, 1))
        made["secret"] = capture(title="测绘坐标成果", openness="open", classification="secret",
                                 date=dt.date(1970, 1, 1))
        made["confidential"] = capture(title="机要电报汇编", openness="open", classification="confidential",
                                       date=dt.date(1970, 2, 1))
        actions.file_items(staff, [i.pk for k, i in made.items()])
        made["unfiled"] = capture(title="草稿丙丁（婚姻登记）", openness="open", date=dt.date(1980, 6, 1))
    return {k: Item.objects.select_related("fonds__unit").get(pk=v.pk) for k, v in made.items()}


@pytest.fixture
def archives(tree, lines):
    """市档案馆 (outside the county, so the county's staff cannot act for it) and its archivist."""
    unit = add_unit(tree["province"], name="市档案馆", level="county", line=lines["archives"])
    archivist = make_user("danganguan")
    grant(archivist, "staff", unit, all_lines=True)
    return unit, archivist


@pytest.fixture
def county_archives(tree, lines):
    """示范县档案馆 inside the county (the county's staff pick it as receiver) and its archivist."""
    unit = add_unit(tree["county"], name="示范县档案馆", level="county", kind="organ", line=lines["archives"])
    archivist = make_user("xiandangan")
    grant(archivist, "staff", unit, all_lines=True)
    return unit, archivist
