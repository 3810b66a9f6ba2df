"""Each hand-over of the archives workflow tells the next person: a transfer sent reaches the
receiver's staff; its return or acceptance reaches the sender; a controlled item waiting for
approval reaches the archives leaders."""

import pytest

from conftest import grant, make_user
from qunli.core.notification_models import Notification
from qunli.records import transfer, use
from qunli.records.models import Item
from qunli.records.tests.samples import minimal_pdf

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(capture, county_archives, accounts, django_capture_on_commit_callbacks):
    from qunli.records import actions

    items = [capture(files=[("1.pdf", minimal_pdf(b"1"))])]
    actions.file_items(accounts["women_staff"], [i.pk for i in items])
    with django_capture_on_commit_callbacks(execute=True):
        batch = transfer.send_transfer(accounts["women_staff"], transfer.create_transfer(
            accounts["women_staff"], items[0].fonds, receiver=county_archives[0], item_ids=[i.pk for i in items]))
    return batch


def kinds(user) -> list[str]:
    return list(Notification.objects.filter(recipient=user).values_list("kind", flat=True))


def test_a_sent_transfer_reaches_the_receivers_staff(sent, county_archives, accounts):
    assert kinds(county_archives[1]) == ["transfer_sent"]
    assert kinds(accounts["women_staff"]) == []  # nobody is told what they did themself


def test_a_transfer_to_an_archives_without_its_own_staff_reaches_the_archives_line_not_every_line(
        capture, accounts, tree, lines, django_capture_on_commit_callbacks):
    """As in the demo county: the archivist's grant is on the county for the 档案 line, where
    the 工会's and 妇联's staff hold theirs: only the archives line and the 群团办 are told."""
    from conftest import add_unit
    from qunli.records import actions

    archives = add_unit(tree["county"], name="示范县档案馆", level="county", kind="organ", line=lines["archives"])
    archivist = make_user("xiandangan")
    grant(archivist, "staff", tree["county"], lines=[lines["archives"]])
    item = capture(files=[("1.pdf", minimal_pdf(b"1"))])
    actions.file_items(accounts["women_staff"], [item.pk])
    with django_capture_on_commit_callbacks(execute=True):
        transfer.send_transfer(accounts["women_staff"], transfer.create_transfer(
            accounts["women_staff"], item.fonds, receiver=archives, item_ids=[item.pk]))
    assert kinds(archivist) == ["transfer_sent"] and kinds(accounts["party_office"]) == ["transfer_sent"]
    assert kinds(accounts["union_staff"]) == []


def test_a_return_and_an_acceptance_reach_the_sender(sent, county_archives, accounts,
                                                     django_capture_on_commit_callbacks):
    archivist = county_archives[1]
    with django_capture_on_commit_callbacks(execute=True):
        transfer.return_transfer(archivist, sent, reason="缺少2019年度档案")
    assert kinds(accounts["women_staff"]) == ["transfer_returned"]


def test_an_accepted_transfer_reaches_the_sender(sent, county_archives, accounts, django_capture_on_commit_callbacks):
    archivist = county_archives[1]
    with django_capture_on_commit_callbacks(execute=True):
        transfer.check_receipt(archivist, sent)
        transfer.accept_transfer(archivist, sent)
    assert "transfer_accepted" in kinds(accounts["women_staff"])


def test_a_controlled_item_at_the_desk_reaches_the_archives_leaders(capture, accounts, tree, fonds,
                                                                    django_capture_on_commit_callbacks):
    from qunli.records import actions

    item = capture(openness="controlled")
    actions.file_items(accounts["women_staff"], [item.pk])
    leader = make_user("guanzhang")
    grant(leader, "leader", tree["county"], all_lines=True)
    with django_capture_on_commit_callbacks(execute=True):
        req = use.register_use(accounts["women_staff"], fonds=fonds, reader_name="李桂兰", purpose="marriage",
                               items=[Item.objects.get(pk=item.pk)])
    assert kinds(leader) == ["use_pending"]
    assert req.code in Notification.objects.get(recipient=leader).title and "李桂兰" not in Notification.objects.get(
        recipient=leader).title


def test_once_one_leader_decides_every_line_no_leader_keeps_an_unread_to_approve(capture, accounts, tree, fonds,
                                                                                 django_capture_on_commit_callbacks):
    from qunli.core.models import User
    from qunli.records import actions
    from qunli.records.models import UseLine

    items = [capture(openness="controlled") for _ in range(2)]
    actions.file_items(accounts["women_staff"], [i.pk for i in items])
    first, second = make_user("guanzhang"), make_user("fuguanzhang")
    for leader in (first, second):
        grant(leader, "leader", tree["county"], all_lines=True)
    with django_capture_on_commit_callbacks(execute=True):
        req = use.register_use(accounts["women_staff"], fonds=fonds, reader_name="李桂兰", purpose="marriage",
                               items=list(Item.objects.filter(pk__in=[i.pk for i in items])))
    lines = list(UseLine.objects.filter(request=req).order_by("pk"))
    with django_capture_on_commit_callbacks(execute=True):
        use.decide_line(first, lines[0], approve=True)
    assert User.objects.get(pk=second.pk).unread_notifications == 1  # one line still waits
    with django_capture_on_commit_callbacks(execute=True):
        use.decide_line(first, lines[1], approve=False, reason="涉及他人隐私")
    assert Notification.objects.filter(kind="use_pending", read_at__isnull=True).count() == 0
    assert User.objects.get(pk=second.pk).unread_notifications == 0


def test_a_request_registered_and_decided_in_one_transaction_leaves_no_unread_to_approve(
        capture, accounts, tree, fonds, django_capture_on_commit_callbacks):
    """As the demo does: the leaders' notices are sent on commit, so they are settled on commit too."""
    from qunli.core.models import User
    from qunli.records import actions

    item = capture(openness="controlled")
    actions.file_items(accounts["women_staff"], [item.pk])
    leader = make_user("guanzhang")
    grant(leader, "leader", tree["county"], all_lines=True)
    with django_capture_on_commit_callbacks(execute=True):
        req = use.register_use(accounts["women_staff"], fonds=fonds, reader_name="李桂兰", purpose="marriage",
                               items=[Item.objects.get(pk=item.pk)])
        use.decide_line(leader, req.lines.get(), approve=True)
    assert kinds(leader) == ["use_pending"] and User.objects.get(pk=leader.pk).unread_notifications == 0
