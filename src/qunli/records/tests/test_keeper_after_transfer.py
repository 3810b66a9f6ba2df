"""After an accepted transfer the archives keeps the items (馆藏): it lists them, hooks their
scans, settles their fixity problems, appraises and destroys them — with its own leader's
approval — and the sending unit, whose fonds they stay in, no longer can."""

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.urls import reverse

from conftest import add_unit, grant, make_user
from qunli.records import actions, capture_actions, destruction, fixity, transfer
from qunli.records.models import DestructionBatch, Item
from qunli.records.tests.samples import minimal_pdf

pytestmark = pytest.mark.django_db
THIS_YEAR = 2026


@pytest.fixture(autouse=True)
def _files(settings, tmp_path):
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "django.core.files.storage.FileSystemStorage",
                                                           "OPTIONS": {"location": str(tmp_path / "storage")}}}
    settings.QUNLI_CHECK_WORKERS = 2


@pytest.fixture
def archives(tree, lines):
    unit = add_unit(tree["province"], name="市档案馆", level="county", line=lines["archives"])
    archivist, leader = make_user("danganguan"), make_user("guanzhang")
    grant(archivist, "staff", unit, all_lines=True)
    grant(leader, "leader", unit, all_lines=True)
    return unit, archivist, leader


@pytest.fixture
def held(capture, accounts, fonds, archives):
    """Two D10 items of 2014 (expired), transferred to 市档案馆 and accepted."""
    staff = accounts["women_staff"]
    items = [capture(date=dt.date(2014, 3, d), retention="D10", files=[(f"通知{d}.pdf", minimal_pdf(b"%d" % d))])
             for d in (1, 2)]
    actions.file_items(staff, [i.pk for i in items])
    unit, archivist, _ = archives
    batch = transfer.create_transfer(staff, fonds, receiver=unit, item_ids=[i.pk for i in items])
    transfer.send_transfer(staff, batch)
    assert transfer.check_receipt(archivist, batch).passed
    transfer.accept_transfer(archivist, batch)
    return list(Item.objects.filter(pk__in=[i.pk for i in items]).select_related("fonds__unit").order_by("pk"))


def test_the_archives_lists_and_scans_what_it_holds_and_the_sender_no_more(held, archives, accounts, client_for):
    _, archivist, _ = archives
    listed = client_for(archivist).get(reverse("records:item_list")).context["page"].object_list
    assert {i.pk for i in listed} == {i.pk for i in held}
    page = client_for(archivist).get(reverse("records:item_list"), {"fonds": held[0].fonds_id})
    assert {i.pk for i in page.context["page"].object_list} == {i.pk for i in held}  # its 全宗 filter offers them
    assert not page.context["filter_form"].errors
    scan = (f"{held[0].archival_code}_2.pdf", minimal_pdf(b"scan"))
    refused = capture_actions.attach_scans(accounts["women_staff"], [scan])
    assert refused.errors == [(scan[0], f"“{held[0].archival_code}”已移交市档案馆保管，扫描件由保管单位挂接")]
    assert held[0].files.count() == 1
    done = capture_actions.attach_scans(archivist, [scan])
    assert [n for n, _ in done.attached] == [scan[0]] and held[0].files.count() == 2


def test_a_fixity_problem_of_a_held_item_is_the_archives_to_restore(held, archives, accounts, client_for):
    _, archivist, _ = archives
    f = held[0].files.get()
    with default_storage.open(f.storage_name, "wb") as fh:
        fh.write(b"bit rot")
    fixity.run_fixity(mode="all")
    mine = client_for(archivist).get(reverse("records:fixity")).context["problems"]
    assert [(p.item_id, p.can_restore) for p in mine] == [(held[0].pk, True)]
    theirs = client_for(accounts["women_staff"]).get(reverse("records:fixity")).context["problems"]
    assert [(p.item_id, p.can_restore) for p in theirs] == [(held[0].pk, False)]
    r = client_for(accounts["women_staff"]).post(reverse("records:fixity_restore", args=[mine[0].pk]))
    assert r.status_code == 403


def kinds(user) -> list[str]:
    from qunli.core.notification_models import Notification

    return list(Notification.objects.filter(recipient=user).values_list("kind", flat=True))


def test_the_archives_appraises_and_destroys_what_it_holds_with_its_own_leaders_approval(
        held, archives, accounts, client_for, django_capture_on_commit_callbacks):
    unit, archivist, leader = archives
    ids = [i.pk for i in held]
    with pytest.raises(PermissionDenied):
        destruction.appraise(accounts["women_staff"], ids, decision="destroy", reason="到期", year=THIS_YEAR)
    due = client_for(archivist).get(reverse("records:appraisal_list")).context["page"].object_list
    assert {i.pk for i in due} >= set(ids)
    assert not client_for(accounts["women_staff"]).get(reverse("records:appraisal_list")).context["page"].object_list
    destruction.appraise(archivist, ids, decision="destroy", reason="已无保存价值", year=THIS_YEAR)
    with django_capture_on_commit_callbacks(execute=True):
        batch = destruction.propose_destruction(archivist, held[0].fonds, ids, title="市馆2026年第1批", reason="到期")
    assert batch.holder == unit
    # its own leader is asked to approve, in the inbox; not the county's
    assert kinds(leader) == ["destruction_pending"] and kinds(accounts["leader"]) == []
    assert "销毁清册" in client_for(leader).get(reverse("core:notifications")).content.decode()
    assert client_for(archivist).get(batch.get_absolute_url()).status_code == 200
    with pytest.raises(PermissionDenied, match="市档案馆"):
        destruction.decide_destruction(accounts["leader"], batch, approve=True, note="同意")  # the county's leader
    with django_capture_on_commit_callbacks(execute=True):
        r = client_for(leader).post(reverse("records:destruction_decide", args=[batch.pk]),
                                    {"approve": "1", "note": "同意"}, follow=True)
    assert "已批准，经办人可执行销毁。" in r.content.decode()
    assert kinds(archivist) == ["destruction_decided"]
    with pytest.raises(PermissionDenied):
        destruction.execute_destruction(accounts["women_staff"], batch)
    execute = reverse("records:destruction_execute", args=[batch.pk])
    assert client_for(accounts["women_staff"]).post(execute).status_code == 403
    assert client_for(archivist).post(execute).status_code == 302  # the page's button, as the holder
    assert DestructionBatch.objects.get(pk=batch.pk).status == "executed"
    assert set(Item.objects.filter(pk__in=ids).values_list("status", flat=True)) == {"disposed"}


def test_one_batch_holds_items_of_one_keeper(held, archives, capture, accounts, tree):
    """The 群团办 reaches both the county's fonds and (here) the archives: a batch mixing what
    each keeps is refused, so that the right leader approves each."""
    unit, archivist, _ = archives
    both = make_user("both")
    grant(both, "staff", tree["province"], all_lines=True)
    own = capture(date=dt.date(2014, 9, 1), retention="D10")
    actions.file_items(accounts["women_staff"], [own.pk])
    ids = [held[0].pk, own.pk]
    destruction.appraise(both, ids, decision="destroy", reason="已无保存价值", year=THIS_YEAR)
    with pytest.raises(Exception, match="请按保管单位分别列入清册"):
        destruction.propose_destruction(both, held[0].fonds, ids, title="混合清册", reason="到期")
    assert not DestructionBatch.objects.exists()


def test_a_read_only_leader_is_not_offered_to_propose_a_destruction_list(accounts, client_for):
    page = client_for(accounts["leader"]).get(reverse("records:destruction_list")).content.decode()
    assert "提出新的销毁清册" not in page
    assert "提出新的销毁清册" in client_for(accounts["women_staff"]).get(reverse("records:destruction_list")).content.decode()


@pytest.mark.parametrize("page", ["records:opening_queue", "records:appraisal_list", "records:destruction_candidates"])
def test_a_read_only_leader_reads_the_archives_queues_without_their_action_forms(page, accounts, client_for):
    body = client_for(accounts["leader"]).get(reverse(page)).content.decode()
    assert "您的账户只有查看权限" in body and 'method="post"' not in body.split("read-only-note")[0].split("<main")[-1]
    assert "您的账户只有查看权限" not in client_for(accounts["women_staff"]).get(reverse(page)).content.decode()


def test_enqueueing_without_a_fonds_says_so_instead_of_a_missing_page(accounts, client_for):
    r = client_for(accounts["women_staff"]).post(reverse("records:opening_enqueue"), {"fonds": ""}, follow=True)
    assert r.status_code == 200 and "请先选择全宗" in r.content.decode()


def test_the_archives_reads_a_held_item_without_links_into_the_senders_fonds(held, archives, accounts, client_for):
    _, archivist, _ = archives
    fonds_url = held[0].fonds.get_absolute_url()
    page = client_for(archivist).get(held[0].get_absolute_url()).content.decode()
    assert held[0].archival_code in page and f'href="{fonds_url}"' not in page and "本类目录 PDF" not in page
    assert client_for(archivist).get(fonds_url).status_code == 404  # the fonds' other items stay the sender's
    sender = client_for(accounts["women_staff"]).get(held[0].get_absolute_url()).content.decode()
    assert f'href="{fonds_url}"' in sender


def test_the_archives_use_page_links_the_items_it_holds(held, archives, client_for):
    from qunli.records import use

    _, archivist, _ = archives
    req = use.register_use(archivist, fonds=held[0].fonds, reader_name="王芳", purpose="marriage", items=[held[0]])
    page = client_for(archivist).get(reverse("records:use_detail", args=[req.pk])).content.decode()
    assert f'<a href="{held[0].get_absolute_url()}">{held[0].archival_code}</a>' in page
