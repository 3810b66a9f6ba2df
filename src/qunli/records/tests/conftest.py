import datetime as dt

import pytest

from qunli.records import actions
from qunli.records.models import Fonds


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
                    date=date, doc_no=f"县妇发〔2023〕{counter['n']}号", retention="Y", org_code="BGS", pages=2)
        data.update(kw)
        return actions.capture_record(accounts["women_staff"], **data)

    return make
