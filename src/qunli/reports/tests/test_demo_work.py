"""The demo county's work is real product data: every state reached through the actions."""

import pytest

from qunli.casework.models import Case, Pairing, Wish
from qunli.core.models import ChangeLog, User
from qunli.records.models import Item

pytestmark = pytest.mark.django_db


def _generate(force=False):
    from qunli import demo

    demo.SCALES["tiny"] = demo.Scale("tiny", 1, 1, 300, townships=2, villages_per_township=3,
                                     volunteers_per_county=30)
    try:
        return demo.generate("tiny", seed=11, force=force)
    finally:
        del demo.SCALES["tiny"]


def test_demo_work_spans_every_module_and_regenerates_over_itself(client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        _generate()
    statuses = set(Case.objects.values_list("status", flat=True))
    assert {"received", "assigned", "in_service", "closed"} <= statuses
    closed = Case.objects.filter(status="closed").count()
    assert closed and Item.objects.filter(source_type="casework.case").count() == closed  # captured on commit
    assert ChangeLog.objects.filter(action="casework.close_case").count() == closed
    assert any(c.acknowledged_at > c.request.received_at for c in Case.objects.exclude(acknowledged_at=None))
    assert Pairing.objects.filter(visits__isnull=False).distinct().count() >= 10
    assert {"published", "fulfilled", "pending"} <= set(Wish.objects.values_list("status", flat=True))
    filed = Item.objects.filter(status="filed")
    assert filed.count() > 5 and not filed.filter(archival_code=None).exists()
    # the county archives' side: custody after an accepted transfer, one waiting, readers, the opening queue
    from qunli.records.access_models import OpeningReview, UseLine
    from qunli.records.models import Custody, TransferBatch

    assert set(TransferBatch.objects.values_list("status", flat=True)) == {"accepted", "sent"}
    assert Custody.objects.filter(unit__name__endswith="档案馆").exists()
    assert {"approved", "pending"} <= set(UseLine.objects.values_list("status", flat=True))
    assert OpeningReview.objects.filter(decision="queued").count() >= 5
    # scans to read online (the approved reader's items among them), expired D10 items to appraise
    from qunli.records import destruction
    from qunli.records.models import ItemFile

    assert ItemFile.objects.filter(origin="scan").count() >= 6
    approved = UseLine.objects.filter(status="approved").values_list("item_id", flat=True)
    assert ItemFile.objects.filter(item_id__in=approved).exists()
    due = destruction.due_for_appraisal(Item.objects.all())
    assert due.filter(custody__isnull=False).exists() and due.filter(custody__isnull=True).exists()
    page = client.get("/portal/wishes/").content.decode()
    assert Wish.objects.filter(status="published").first().text in page

    account = User.objects.get(username="shegong").pk
    _generate(force=True)  # the audit trail names the demo accounts: they stay, with fresh grants
    assert User.objects.get(username="shegong").pk == account
    assert User.objects.get(username="shegong").grants.count() == 1
    assert Case.objects.count() == 20
