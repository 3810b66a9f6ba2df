"""Fixity (re-hashing the content-addressed storage) and the off-site copy (sync, verify,
restore) on a directory and on a real S3 server (moto's ThreadedMotoServer over HTTP)."""

import datetime as dt
import hashlib

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.utils import timezone

from qunli.core.actions import ActionError
from qunli.core.models import ChangeLog
from qunli.records import fixity, offsite
from qunli.records.models import FixityRun, PreservationEvent, StoredObject
from qunli.records.tests.samples import minimal_pdf

PDF = minimal_pdf(bytes(range(32, 127)) * 64)


@pytest.fixture(autouse=True)
def _files(settings, tmp_path):
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "django.core.files.storage.FileSystemStorage",
                                                           "OPTIONS": {"location": str(tmp_path / "primary")}}}


@pytest.fixture
def items(capture):
    """Three items; the first two share one stored object (same bytes)."""
    a = capture(files=[("a.pdf", PDF)])
    b = capture(files=[("b.pdf", PDF)])
    c = capture(files=[("c.pdf", PDF + b"c")])
    return a, b, c


def _flip_a_bit(name):
    path = default_storage.path(name)
    data = bytearray(open(path, "rb").read())
    data[100] ^= 0x01
    open(path, "wb").write(bytes(data))


def test_digest_stream_matches_hashlib_for_any_buffer_size(tmp_path):
    data = bytes(range(256)) * 5000 + b"tail"
    p = tmp_path / "x"
    p.write_bytes(data)
    for size in (1, 7, 4096, 1 << 22):
        with open(p, "rb", buffering=0) as fh:
            assert fixity.digest_stream(fh, size) == (hashlib.new("sm3", data).hexdigest(),
                                                      hashlib.sha256(data).hexdigest(), len(data))


def test_fixity_all_reports_ok_mismatch_and_missing_with_an_event_per_item(items):
    a, b, c = items
    shared = a.files.get().storage_name
    _flip_a_bit(shared)
    default_storage.delete(c.files.get().storage_name)
    run = fixity.run_fixity(mode="all")
    assert (run.status, run.objects_checked, run.ok_count, run.mismatch_count, run.missing_count) == \
        ("done", 2, 0, 2, 1)
    events = {e.item_id: e for e in PreservationEvent.objects.filter(run=run)}
    assert events[a.pk].outcome == events[b.pk].outcome == "mismatch"  # one object, both items told
    assert events[c.pk].outcome == "missing"
    assert StoredObject.objects.get(storage_name=shared).check_ok is False
    assert ChangeLog.objects.filter(action="records.fixity_run", object_id=str(run.pk)).exists()


def test_fixity_due_rechecks_only_objects_past_the_interval(items, settings):
    settings.QUNLI_FIXITY_INTERVAL_DAYS = 30
    first = fixity.run_fixity(mode="due")
    assert (first.objects_checked, first.ok_count) == (2, 3)
    again = fixity.run_fixity(mode="due")
    assert again.objects_checked == 0
    name = items[2].files.get().storage_name
    StoredObject.objects.filter(storage_name=name).update(checked_at=timezone.now() - dt.timedelta(days=31))
    later = fixity.run_fixity(mode="due")
    assert later.objects_checked == 1 and later.ok_count == 1


def test_fixity_of_one_fonds_leaves_other_fonds_alone(items, fonds, accounts, tree):
    from qunli.records import actions

    other = actions.create_fonds(accounts["women_staff"], unit=tree["town_women"], code="J002", name="城关镇妇联")
    run = fixity.run_fixity(mode="all", fonds=other)
    assert run.objects_checked == 0 and run.fonds_id == other.pk
    assert fixity.run_fixity(mode="all", fonds=fonds).objects_checked == 2


def test_command_exits_non_zero_on_problems(items, capsys):
    default_storage.delete(items[2].files.get().storage_name)
    with pytest.raises(SystemExit) as exc:
        call_command("records", "fixity", "--all", "--no-progress")
    assert exc.value.code == 1
    assert "缺失 1" in capsys.readouterr().out
    call_command("records", "fixity", "--all", "--no-progress", "--fonds", "J001", "--keep-going")
    assert FixityRun.objects.count() == 2


# --- off-site copy ----------------------------------------------------------------------------

def _roundtrip(store, items):
    a, b, c = items
    out = offsite.sync(store=store)
    assert (out["objects"], out["copied"], out["skipped"]) == (2, 2, [])
    assert offsite.sync(store=store)["copied"] == 0  # only missing objects are copied
    assert offsite.verify(store=store)["ok"] == 2
    name = a.files.get().storage_name
    # corrupt the primary: fixity finds it, restore brings the verified bytes back
    _flip_a_bit(name)
    assert fixity.run_fixity(mode="all").mismatch_count == 2
    assert offsite.problem_objects() == [name]
    restored = offsite.restore(None, name, store=store)
    assert restored["was"] == "摘要不符"
    assert default_storage.open(name).read() == PDF
    assert offsite.problem_objects() == []
    assert fixity.run_fixity(mode="all").ok_count == 3
    # a missing primary comes back too
    other = c.files.get().storage_name
    default_storage.delete(other)
    assert offsite.restore(None, other, store=store)["was"] == "缺失"
    assert default_storage.open(other).read() == PDF + b"c"
    kinds = set(PreservationEvent.objects.filter(item=a).values_list("kind", flat=True))
    assert {"offsite_sync", "offsite_verify", "restore", "fixity"} <= kinds


def test_offsite_directory_sync_verify_restore(items, tmp_path):
    _roundtrip(offsite.store_from_url(f"file://{tmp_path / 'offsite'}"), items)


def test_a_corrupted_offsite_copy_is_detected_and_never_restored(items, tmp_path):
    store = offsite.FileStore(tmp_path / "offsite")
    offsite.sync(store=store)
    name = items[2].files.get().storage_name
    (tmp_path / "offsite" / name).write_bytes(b"%PDF-broken")
    out = offsite.verify(store=store)
    assert out["mismatch"] == [name] and out["ok"] == 1
    default_storage.delete(name)
    with pytest.raises(ActionError, match="摘要与登记不符"):
        offsite.restore(None, name, store=store)
    assert not default_storage.exists(name)  # nothing half-restored


def test_a_corrupted_primary_is_not_copied_offsite(items, tmp_path):
    store = offsite.FileStore(tmp_path / "offsite")
    name = items[2].files.get().storage_name
    _flip_a_bit(name)
    out = offsite.sync(store=store)
    assert out["skipped"] == [name] and out["copied"] == 1
    assert not store.exists(name)


def test_missing_offsite_object_is_reported(items, tmp_path):
    store = offsite.FileStore(tmp_path / "offsite")
    offsite.sync(store=store)
    name = items[0].files.get().storage_name
    store.delete(name)
    assert offsite.verify(store=store)["missing"] == [name]


def test_store_url_must_be_file_or_s3():
    with pytest.raises(ValueError, match="QUNLI_OFFSITE"):
        offsite.store_from_url("ftp://x/y")
    assert offsite.store_from_url("") is None


@pytest.fixture(scope="module")
def s3_server():
    """A real S3-compatible HTTP server on a free local port (moto's server mode)."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def test_offsite_s3_sync_verify_restore(items, s3_server, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("QUNLI_OFFSITE_ENDPOINT_URL", s3_server)
    store = offsite.store_from_url("s3://qunli-offsite/county")
    store.client.create_bucket(Bucket="qunli-offsite")
    _roundtrip(store, items)
    keys = {o["Key"] for o in store.client.list_objects_v2(Bucket="qunli-offsite")["Contents"]}
    assert all(k.startswith("county/files/") for k in keys) and len(keys) == 2
    name = items[0].files.get().storage_name
    assert store.exists(name)
    offsite.delete_everywhere([name], store)  # what an executed destruction does
    assert not store.exists(name) and not default_storage.exists(name)
    assert offsite.verify(store=store)["missing"] == [name]


def test_offsite_commands_restore_the_problems(items, tmp_path, settings, capsys):
    settings.QUNLI_OFFSITE = f"file://{tmp_path / 'offsite'}"
    call_command("records", "offsite", "sync")
    call_command("records", "offsite", "verify")
    name = items[2].files.get().storage_name
    default_storage.delete(name)
    with pytest.raises(SystemExit):
        call_command("records", "fixity", "--all", "--no-progress")
    call_command("records", "offsite", "restore", "--problems")
    assert f"已恢复 {name}（原文件缺失）" in capsys.readouterr().out
    assert default_storage.open(name).read() == PDF + b"c"


def test_restore_button_needs_change_rights(items, tmp_path, settings, accounts, client_for):
    from django.urls import reverse

    settings.QUNLI_OFFSITE = f"file://{tmp_path / 'offsite'}"
    offsite.sync()
    name = items[2].files.get().storage_name
    default_storage.delete(name)
    fixity.run_fixity(mode="all")
    event = PreservationEvent.objects.get(outcome="missing")
    page = client_for(accounts["leader"]).get(reverse("records:fixity")).content.decode()
    assert "文件缺失" in page and "从异地恢复" not in page  # a leader reads, cannot restore
    assert client_for(accounts["leader"]).post(reverse("records:fixity_restore", args=[event.pk])).status_code == 403
    assert not default_storage.exists(name)
    c = client_for(accounts["women_staff"])
    assert "从异地恢复" in c.get(reverse("records:fixity")).content.decode()
    assert c.post(reverse("records:fixity_restore", args=[event.pk])).status_code == 302
    assert default_storage.open(name).read() == PDF + b"c"
