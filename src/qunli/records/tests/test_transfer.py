"""四性检测 and 移交/接收: the package layout (BagIt, SM3 + SHA-256 manifests, item XML,
catalogue), the online flow (send → receipt check → accept/return), offline upload with
hostile-zip defences, corrupted packages, and the export/re-import round trip."""

import datetime as dt
import hashlib
import io
import os
import shutil
import struct
import sys
import zipfile
import zlib

import bagit
import openpyxl
import pytest
from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile

from qunli.core.actions import ActionError
from qunli.core.models import ChangeLog
from qunli.records import actions, checks, transfer
from qunli.records.models import (
    CheckRun,
    Custody,
    FilingCounter,
    Fonds,
    Item,
    ItemFile,
    OrgCode,
    TransferBatch,
)
from qunli.records.tests.samples import docx as sample_docx
from qunli.records.tests.samples import jpeg as sample_jpeg
from qunli.records.tests.samples import minimal_pdf

PDF = minimal_pdf()


def png() -> bytes:
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    raw = zlib.compress(b"\x00\xff\x00\x00")
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", raw) + chunk(b"IEND", b""))


def jpeg() -> bytes:
    return sample_jpeg()


def docx(encrypted_member=False) -> bytes:
    data = bytearray(sample_docx())
    if encrypted_member:
        data[6] |= 0x1  # general purpose flag of the first local header
        cd = data.find(b"PK\x01\x02")
        data[cd + 8] |= 0x1
    return bytes(data)


@pytest.fixture(autouse=True)
def _files(settings, tmp_path):
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "django.core.files.storage.FileSystemStorage",
                                                           "OPTIONS": {"location": str(tmp_path / "storage")}}}
    settings.QUNLI_CHECK_WORKERS = 2


@pytest.fixture
def filed(capture, accounts):
    """Three filed items of J001-WS·2023-Y-BGS with a PDF, a PNG+JPEG and a DOCX."""
    items = [capture(date=dt.date(2023, 3, 1), files=[("通知.pdf", PDF)]),
             capture(date=dt.date(2023, 4, 1), files=[("照片.png", png()), ("扫描.jpg", jpeg())]),
             capture(date=dt.date(2023, 5, 1), files=[("报告.docx", docx())])]
    actions.file_items(accounts["women_staff"], [i.pk for i in items])
    return list(Item.objects.filter(pk__in=[i.pk for i in items]).order_by("piece_no"))


def status_of(run: CheckRun) -> dict:
    return {r["code"]: r["status"] for r in run.results}


def failures(run: CheckRun, code: str) -> str:
    return "\n".join(next(r for r in run.results if r["code"] == code)["failures"])


def package_bytes(batch) -> bytes:
    """The package as the download gives it (a zip)."""
    out = io.BytesIO()
    transfer.write_zip(batch, out)
    return out.getvalue()


def rezip(data: bytes, change=None, drop=()) -> bytes:
    """A copy of a package with members dropped or rewritten (``change(name, bytes) -> bytes``)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            if any(d in info.filename for d in drop):
                continue
            body = src.read(info.filename)
            dst.writestr(info, change(info.filename, body) if change else body)
    return out.getvalue()


def send(fonds, filed, archives, staff):
    batch = transfer.create_transfer(staff, fonds, receiver=archives[0], item_ids=[i.pk for i in filed])
    return transfer.send_transfer(staff, batch)


def upload(archives, data: bytes, name="package.zip"):
    unit, archivist = archives
    return transfer.receive_package(archivist, receiver=unit, uploaded=SimpleUploadedFile(name, data))


# --- the package ------------------------------------------------------------------------------------

def test_package_is_a_valid_bag_with_sm3_manifest_item_xml_and_catalogue(fonds, filed, archives, accounts, tmp_path,
                                                                         settings):
    settings.QUNLI_TRANSFER_LAYOUT = "zip"
    batch = transfer.create_transfer(accounts["women_staff"], fonds, receiver=archives[0],
                                     item_ids=[i.pk for i in filed])
    data = package_bytes(batch)
    assert batch.item_count == 3 and batch.package_name == f"transfers/{batch.number}.zip"
    root = tmp_path / "bag"
    zipfile.ZipFile(io.BytesIO(data)).extractall(root)
    assert batch.package_sm3 == hashlib.new("sm3", (root / "tagmanifest-sm3.txt").read_bytes()).hexdigest()
    bag = bagit.Bag(str(root))
    bag.validate()  # the bagit library checks the SHA-256 manifest, Payload-Oxum and the tag manifest
    sm3 = dict(line.split("  ", 1)[::-1] for line in (root / "manifest-sm3.txt").read_text().splitlines())
    for path, digest in sm3.items():
        assert hashlib.new("sm3", (root / path).read_bytes()).hexdigest() == digest
    code = filed[1].archival_code
    assert code == "J001-WS·2023-Y-BGS-0002"
    meta, files, events = transfer.parse_item_xml((root / "data/items" / code / "metadata.xml").read_bytes())
    assert meta["title"] == filed[1].title and meta["piece_no"] == "2" and meta["archival_code"] == code
    assert [f["name"] for f in files] == ["照片.png", "扫描.jpg"] and events >= 2  # capture + filing
    assert files[0]["sm3"] == filed[1].files.order_by("id").first().sm3
    rows = list(openpyxl.load_workbook(root / "data/catalogue.xlsx").active.values)
    assert rows[0][:2] == ("件号", "档号") and [r[1] for r in rows[1:]] == [i.archival_code for i in filed]
    run = batch.check_runs.get()
    assert run.phase == "transfer" and run.passed and run.file_count == 4
    assert status_of(run)["4-1"] == ("not_performed" if not shutil.which("clamscan") and not shutil.which("clamdscan")
                                     else "passed")


def test_directory_layout_hard_links_the_stored_files(fonds, filed, archives, accounts, settings):
    settings.QUNLI_TRANSFER_LAYOUT = "dir"  # the default
    batch = transfer.create_transfer(accounts["women_staff"], fonds, receiver=archives[0],
                                     item_ids=[i.pk for i in filed])
    root = default_storage.path(batch.package_name)
    bagit.Bag(root).validate()
    stored = filed[0].files.get()
    linked = f"{root}/data/items/{filed[0].archival_code}/1-通知.pdf"
    assert os.stat(linked).st_ino == os.stat(default_storage.path(stored.storage_name)).st_ino
    transfer.send_transfer(accounts["women_staff"], batch)
    assert transfer.check_receipt(archives[1], batch).passed


def test_directory_package_validates_with_bagit(fonds, filed, tmp_path):
    target = transfer.DirTarget(tmp_path / "dirbag")
    packed = transfer.write_package(target, [i.pk for i in filed], {"number": "T1", "fonds_code": "J001"})
    assert packed.item_count == 3 and packed.file_count == 4
    bagit.Bag(str(tmp_path / "dirbag")).validate()
    reader = transfer.PackageReader(tmp_path / "dirbag")
    results = checks.run_checks(transfer.read_package(reader).records, declared=transfer.read_package(reader).declared)
    assert checks.summary(results)["passed"], [r.as_dict() for r in results if r.status == "failed"]



def test_a_large_package_has_its_catalogue_written_by_a_child_process_with_the_same_rows(fonds, filed, tmp_path,
                                                                                        monkeypatch):
    started = []
    real = transfer.XlsxInChild

    def spy(*args, **kwargs):
        started.append(real(*args, **kwargs))
        return started[-1]

    monkeypatch.setattr(transfer, "CATALOGUE_CHILD_ROWS", 2)  # three items: over the line
    monkeypatch.setattr(transfer, "XlsxInChild", spy)
    transfer.write_package(transfer.DirTarget(tmp_path / "bag"), [i.pk for i in filed], {"number": "T1"})
    assert len(started) == 1 and not os.path.exists(started[0].path)  # its temporary file is gone
    bagit.Bag(str(tmp_path / "bag")).validate()
    rows = list(openpyxl.load_workbook(tmp_path / "bag/data/catalogue.xlsx").active.values)
    assert rows[0][:2] == ("件号", "档号") and [r[1] for r in rows[1:]] == [i.archival_code for i in filed]
    assert rows[1][0] == 1 and rows[1][4] == filed[0].title  # numbers stay numbers, text stays text

def test_catalogue_and_items_follow_archival_code_order_across_loading_chunks(fonds, capture, accounts, tmp_path,
                                                                             monkeypatch):
    """Items captured in one order and filed (numbered by date) in another: the 归档文件目录 of
    a large package lists them by 档号, not by the chunks they were loaded in."""
    items = [capture(date=dt.date(2023, m, 1), files=[("通知.pdf", PDF)]) for m in (5, 3, 4)]
    actions.file_items(accounts["women_staff"], [i.pk for i in items])
    codes = sorted(Item.objects.filter(pk__in=[i.pk for i in items]).values_list("archival_code", flat=True))
    monkeypatch.setattr(transfer, "LOAD_CHUNK", 2)  # as 5,000 items per query do in a larger package
    packed = transfer.write_package(transfer.DirTarget(tmp_path / "bag"), [i.pk for i in items], {"number": "T1"})
    rows = list(openpyxl.load_workbook(tmp_path / "bag/data/catalogue.xlsx").active.values)
    assert [r[1] for r in rows[1:]] == codes and [r[0] for r in rows[1:]] == [1, 2, 3]
    assert [r.meta["archival_code"] for r in packed.records] == codes


# --- the payload read by child processes ------------------------------------------------------------------

def tree(root) -> dict:
    """Every file of a directory bag, by its path in the bag, with its bytes."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def children(monkeypatch):
    """Child processes read every directory bag (as from PAYLOAD_CHILD_FILES files); the list
    collects the ``_Children`` started."""
    started = []
    real = transfer._Children

    def spy(*args, **kwargs):
        started.append(real(*args, **kwargs))
        return started[-1]

    monkeypatch.setattr(transfer, "PAYLOAD_CHILD_FILES", 1)
    monkeypatch.setattr(transfer, "_Children", spy)
    return started


def test_child_processes_write_the_same_bag_as_threads_with_the_payload_hard_linked(fonds, filed, tmp_path,
                                                                                  children, monkeypatch, caplog):
    ids, info = [i.pk for i in filed], {"number": "T1", "fonds_code": "J001"}
    by_children = transfer.write_package(transfer.DirTarget(tmp_path / "children"), ids, info)
    assert len(children) == 1 and [p.returncode for p in children[0].procs] == [0, 0]  # both started, both done
    monkeypatch.setattr(transfer, "PAYLOAD_CHILD_FILES", 10 ** 9)
    by_threads = transfer.write_package(transfer.DirTarget(tmp_path / "threads"), ids, info)
    assert len(children) == 1 and "reading in threads" not in caplog.text
    assert tree(tmp_path / "children") == tree(tmp_path / "threads")
    assert by_children.fingerprint == by_threads.fingerprint and by_children.file_count == 4
    assert [f.facts for r in by_children.records for f in r.files] == [f.facts for r in by_threads.records for f in r.files]
    bagit.Bag(str(tmp_path / "children")).validate()
    stored = filed[0].files.get()
    linked = tmp_path / "children/data/items" / filed[0].archival_code / "1-通知.pdf"
    assert os.stat(linked).st_ino == os.stat(default_storage.path(stored.storage_name)).st_ino


def test_child_processes_report_a_file_missing_from_the_store(fonds, filed, archives, accounts, children):
    default_storage.delete(filed[2].files.get().storage_name)
    batch = transfer.create_transfer(accounts["women_staff"], fonds, receiver=archives[0],
                                     item_ids=[i.pk for i in filed])
    run = batch.check_runs.get()
    assert len(children) == 1 and status_of(run)["2-5"] == "failed" and "电子文件缺失" in failures(run, "2-5")
    assert batch.file_count == 3 and not run.passed


@pytest.mark.parametrize("failure", ["cannot_start", "dies"])
def test_the_payload_is_read_in_threads_when_the_child_processes_fail(fonds, filed, archives, accounts, children,
                                                                     monkeypatch, tmp_path, failure, caplog):
    if failure == "cannot_start":  # e.g. a server whose sys.executable is no Python
        monkeypatch.setattr(sys, "executable", str(tmp_path / "no-such-python"))
    else:
        real = transfer._Children  # the spy

        def killed(n):
            started = real(n)
            for proc in started.procs:
                proc.kill()
                proc.wait()
            return started

        monkeypatch.setattr(transfer, "_Children", killed)
    batch = transfer.create_transfer(accounts["women_staff"], fonds, receiver=archives[0],
                                     item_ids=[i.pk for i in filed])
    assert "reading in threads" in caplog.text and batch.check_runs.get().passed and batch.file_count == 4
    bagit.Bag(default_storage.path(batch.package_name)).validate()
    transfer.send_transfer(accounts["women_staff"], batch)
    assert transfer.check_receipt(archives[1], batch).passed


def test_placing_a_file_again_replaces_its_link_and_copies_across_file_systems(tmp_path, monkeypatch):
    from qunli.records import payload

    source, dest = tmp_path / "stored", tmp_path / "bag-file"
    source.write_bytes(b"stored bytes")
    payload.place(str(source), str(dest))
    payload.place(str(source), str(dest))  # a window read again after a child process died
    assert os.stat(dest).st_ino == os.stat(source).st_ino and source.read_bytes() == b"stored bytes"
    dest.unlink()

    def cross_device(*args):
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(payload.os, "link", cross_device)
    payload.place(str(source), str(dest))
    assert dest.read_bytes() == b"stored bytes" and os.stat(dest).st_ino != os.stat(source).st_ino


# --- online transfer ----------------------------------------------------------------------------------

def test_online_transfer_receipt_check_and_accept_moves_custody(fonds, filed, archives, accounts):
    unit, archivist = archives
    staff = accounts["women_staff"]
    batch = transfer.create_transfer(staff, fonds, receiver=unit, item_ids=[i.pk for i in filed])
    with pytest.raises(PermissionDenied):
        transfer.send_transfer(archivist, batch)
    transfer.send_transfer(staff, batch)
    assert TransferBatch.objects.visible_to(archivist).filter(pk=batch.pk).exists()
    with pytest.raises(PermissionDenied):
        transfer.accept_transfer(staff, batch)
    with pytest.raises(ActionError, match="请先进行接收检测"):
        transfer.accept_transfer(archivist, batch)
    run = transfer.check_receipt(archivist, batch)
    assert run.passed and run.phase == "receipt" and run.item_count == 3 and run.unit == unit
    transfer.accept_transfer(archivist, batch)
    batch.refresh_from_db()
    assert batch.status == "accepted"
    held = Item.objects.filter(custody__in=Custody.objects.visible_to(archivist))
    assert set(held.values_list("pk", flat=True)) == {i.pk for i in filed}
    assert ChangeLog.objects.filter(action="records.accept_transfer", object_id=str(batch.pk)).exists()
    with pytest.raises(ActionError, match="不能移交"):  # already held: not transferable again
        transfer.create_transfer(staff, fonds, receiver=unit, item_ids=[filed[0].pk])


def test_return_with_reason_frees_the_items(fonds, filed, archives, accounts):
    unit, archivist = archives
    batch = send(fonds, filed, archives, accounts["women_staff"])
    with pytest.raises(ActionError, match="退回原因"):
        transfer.return_transfer(archivist, batch, reason=" ")
    run = transfer.check_receipt(archivist, batch)
    transfer.return_transfer(archivist, batch, reason="第2件扫描件不清晰")
    assert CheckRun.objects.visible_to(accounts["women_staff"]).filter(pk=run.pk).exists()  # the sender reads it
    assert not CheckRun.objects.visible_to(accounts["clerk"]).filter(pk=run.pk).exists()
    batch.refresh_from_db()
    assert batch.status == "returned" and batch.return_reason == "第2件扫描件不清晰"
    assert not Custody.objects.exists()
    assert transfer.transferable(fonds).count() == 3


def test_a_gap_in_piece_numbers_blocks_the_transfer(fonds, filed, archives, accounts):
    staff = accounts["women_staff"]
    batch = transfer.create_transfer(staff, fonds, receiver=archives[0], item_ids=[filed[0].pk, filed[2].pk])
    run = batch.check_runs.get()
    assert not run.passed and status_of(run)["2-4"] == "failed"
    assert "缺号 1 个（0002）" in failures(run, "2-4")
    with pytest.raises(ActionError, match="四性检测）未通过"):
        transfer.send_transfer(staff, batch)
    with pytest.raises(PermissionDenied):
        transfer.withdraw_transfer(archives[1], batch)
    transfer.withdraw_transfer(staff, batch)  # the items are free for a complete batch
    batch = transfer.create_transfer(staff, fonds, receiver=archives[0], item_ids=[i.pk for i in filed])
    assert batch.check_runs.get().passed


def test_a_changed_stored_file_blocks_the_transfer(fonds, filed, archives, accounts):
    f = filed[0].files.get()
    path = default_storage.path(f.storage_name)
    data = bytearray(open(path, "rb").read())
    data[12] ^= 0x01
    with open(path, "wb") as fh:
        fh.write(data)
    batch = transfer.create_transfer(accounts["women_staff"], fonds, receiver=archives[0],
                                     item_ids=[i.pk for i in filed])
    run = batch.check_runs.get()
    assert status_of(run)["1-1"] == "failed" and "SM3 摘要不一致" in failures(run, "1-1")


# --- offline receipt: corrupted packages ------------------------------------------------------------------

@pytest.fixture
def package(fonds, filed, archives, accounts):
    batch = transfer.create_transfer(accounts["women_staff"], fonds, receiver=archives[0],
                                     item_ids=[i.pk for i in filed])
    return package_bytes(batch)


def test_offline_upload_of_an_intact_package_passes(package, archives):
    batch = upload(archives, package)
    assert batch.mode == "offline" and batch.status == "sent" and batch.item_count == 3
    assert batch.check_runs.get().passed


def test_an_offline_package_waiting_for_a_decision_blocks_no_other_transfer(fonds, filed, archives, accounts):
    """Its rows name no item yet (item_id NULL); NOT IN (…, NULL) once made every fonds look
    as if it had nothing left to transfer."""
    batch = transfer.create_transfer(accounts["women_staff"], fonds, receiver=archives[0],
                                     item_ids=[i.pk for i in filed])
    data = package_bytes(batch)
    transfer.withdraw_transfer(accounts["women_staff"], batch)
    assert upload(archives, data).status == "sent"
    assert set(transfer.transferable(fonds).values_list("pk", flat=True)) == {i.pk for i in filed}


def test_bit_flip_in_a_file_fails_authenticity(package, archives):
    def flip(name, body):
        if name.endswith("通知.pdf"):
            body = bytearray(body)
            body[10] ^= 0x01
            return bytes(body)
        return body
    run = upload(archives, rezip(package, flip)).check_runs.get()
    assert not run.passed and status_of(run)["1-1"] == "failed"
    assert "SM3 摘要不一致" in failures(run, "1-1") and "通知.pdf" in failures(run, "1-1")


def test_raw_bit_flip_in_the_zip_is_reported_not_crashing(package, archives):
    data = bytearray(package)
    at = data.find(b"%PDF-1.7") + 20
    data[at] ^= 0x01  # the zip's CRC no longer matches
    run = upload(archives, bytes(data)).check_runs.get()
    assert not run.passed and status_of(run)["1-1"] == "failed"


def test_missing_file_fails_completeness(package, archives):
    run = upload(archives, rezip(package, drop=("扫描.jpg",))).check_runs.get()
    assert status_of(run)["2-5"] == "failed" and "扫描.jpg" in failures(run, "2-5")
    assert not run.passed


def test_wrong_count_fails_completeness(package, archives):
    run = upload(archives, rezip(package, drop=("-0003/",))).check_runs.get()
    assert status_of(run)["2-1"] == "failed" and "声明 3 件，实有 2 件" in failures(run, "2-1")


def test_malformed_archival_code_fails_authenticity(package, archives):
    """A sender whose 档号 is malformed (manifests recomputed, so only the code is wrong)."""
    bad = "J001-WS-2023-Y-1"

    def tamper(name, body):
        return body.replace("J001-WS·2023-Y-BGS-0001</档号>".encode(), f"{bad}</档号>".encode()) \
            if name.endswith("-0001/metadata.xml") else body
    data = rezip(package, tamper)
    data = _remanifest(data)
    run = upload(archives, data).check_runs.get()
    assert status_of(run)["1-3"] == "failed" and bad in failures(run, "1-3")
    assert status_of(run)["1-1"] == "passed"


def _remanifest(data: bytes) -> bytes:
    """Recompute the manifests and tag manifests of a zipped bag (what a careless sender does)."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        files = {n: zf.read(n) for n in zf.namelist()}
    for algo in ("sha256", "sm3"):
        files[f"manifest-{algo}.txt"] = "".join(
            f"{hashlib.new(algo, b).hexdigest()}  {n}\n" for n, b in files.items() if n.startswith("data/")).encode()
    for algo in ("sha256", "sm3"):
        files[f"tagmanifest-{algo}.txt"] = "".join(
            f"{hashlib.new(algo, files[n]).hexdigest()}  {n}\n"
            for n in ("bagit.txt", "bag-info.txt", "manifest-sha256.txt", "manifest-sm3.txt")).encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for n, b in files.items():
            zf.writestr(n, b)
    return out.getvalue()


def test_changed_bag_info_count_is_caught_by_the_tag_manifest(package, archives):
    data = rezip(package, lambda n, b: b.replace(b"Qunli-Item-Count: 3", b"Qunli-Item-Count: 4")
                 if n == "bag-info.txt" else b)
    run = upload(archives, data).check_runs.get()
    assert status_of(run)["2-1"] == "failed" and status_of(run)["1-1"] == "failed"
    assert "bag-info.txt" in failures(run, "1-1")


def test_virus_test_file_is_found_where_a_scanner_exists(fonds, capture, accounts, archives):
    if not (shutil.which("clamdscan") or shutil.which("clamscan")):
        pytest.skip("ClamAV (clamscan/clamdscan) is not installed here: the virus item reports 未执行, "
                    "proven by test_package_is_a_valid_bag_with_sm3_manifest_item_xml_and_catalogue")
    eicar = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
    item = capture(files=[("病毒.pdf", b"%PDF-" + eicar)])
    actions.file_items(accounts["women_staff"], [item.pk])
    batch = transfer.create_transfer(accounts["women_staff"], fonds, receiver=archives[0], item_ids=[item.pk])
    assert status_of(batch.check_runs.get())["4-1"] == "failed"


# --- offline receipt: hostile zips (refused, nothing written) --------------------------------------------

def _zip(entries: dict, **kw) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, body in entries.items():
            zf.writestr(name, body)
    return out.getvalue()


BAG = {"bagit.txt": transfer.BAGIT_TXT, "bag-info.txt": b"Qunli-Fonds-Code: J009\n", "manifest-sha256.txt": b"",
       "manifest-sm3.txt": b""}


@pytest.mark.parametrize("data,msg", [
    (_zip({**BAG, "../../etc/evil.txt": b"x"}), "越界路径"),
    (_zip({**BAG, "data/../../evil.txt": b"x"}), "越界路径"),
    (_zip({**BAG, "/etc/passwd": b"x"}), "非法路径"),
    (_zip({**BAG, "data\\evil.txt": b"x"}), "非法路径"),
    (b"not a zip at all", "不是有效的 ZIP"),
    (_zip({"data/a.pdf": PDF}), "缺少 bagit.txt"),
    (_zip({**BAG, "data/zeros.pdf": b"\x00" * (70 * 1048576)}), "压缩炸弹"),
])
def test_hostile_packages_are_refused_and_change_nothing(archives, data, msg):
    before = (TransferBatch.objects.count(), CheckRun.objects.count(), ChangeLog.objects.count())
    with pytest.raises(ActionError, match=msg):
        upload(archives, data)
    assert (TransferBatch.objects.count(), CheckRun.objects.count(), ChangeLog.objects.count()) == before
    assert not default_storage.exists("transfers") or not default_storage.listdir("transfers")[1]


def test_symlink_and_encrypted_entries_are_refused(archives):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for n, b in BAG.items():
            zf.writestr(n, b)
        link = zipfile.ZipInfo("data/link")
        link.external_attr = (0o120777 << 16)
        zf.writestr(link, "/etc/passwd")
    with pytest.raises(ActionError, match="符号链接"):
        upload(archives, out.getvalue())
    data = bytearray(_zip(BAG))
    cd = data.find(b"PK\x01\x02")
    data[cd + 8] |= 0x1
    with pytest.raises(ActionError, match="已加密"):
        upload(archives, bytes(data))


def test_oversize_package_is_refused(archives, settings, package):
    settings.QUNLI_TRANSFER_MAX_BYTES = 1000
    with pytest.raises(ActionError, match="超过大小上限"):
        upload(archives, package)
    assert not TransferBatch.objects.filter(mode="offline").exists()


# --- round trip -------------------------------------------------------------------------------------------

def test_export_and_reimport_into_another_system_round_trip(fonds, filed, archives, accounts):
    """The package is exported, the holdings wiped (another system), and the package received
    offline and accepted: the same 档号, metadata, files and digests come back, held by the receiver."""
    unit, archivist = archives
    actions.set_file_origin(accounts["women_staff"], filed[1].files.get(name="照片.png"), origin="born_digital")
    data = package_bytes(transfer.create_transfer(accounts["women_staff"], fonds, receiver=unit,
                                                  item_ids=[i.pk for i in filed]))
    before = [(i.archival_code, i.title, i.responsible, i.date, i.doc_no, i.pages, i.classification, i.openness,
               sorted((f.name, f.sm3, f.sha256, f.size, f.origin) for f in i.files.all())) for i in filed]
    _wipe_holdings()
    batch = upload(archives, data)
    assert batch.check_runs.get().passed
    transfer.accept_transfer(archivist, batch)
    items = list(Item.objects.filter(custody__unit=unit).order_by("piece_no"))
    after = [(i.archival_code, i.title, i.responsible, i.date, i.doc_no, i.pages, i.classification, i.openness,
              sorted((f.name, f.sm3, f.sha256, f.size, f.origin) for f in i.files.all())) for i in items]
    assert after == before  # 生成方式 included: the photo stays 原生, the DOCX too
    assert default_storage.open(items[0].files.get().storage_name).read() == PDF
    assert [i.scanned_pages for i in items] == [1, 1, 0]  # digitization as the sender counted it (photo, DOCX: no scan)
    assert Fonds.objects.get(code="J001").unit == unit
    counter = FilingCounter.objects.get(year=2023, retention="Y", org="BGS")
    assert counter.last_no == 3  # filing continues after the received items


def test_offline_round_trip_inside_one_system_links_the_same_items(fonds, filed, archives, accounts):
    unit, archivist = archives
    data = package_bytes(transfer.create_transfer(accounts["women_staff"], fonds, receiver=unit,
                                                  item_ids=[i.pk for i in filed]))
    TransferBatch.objects.update(status="returned")
    batch = upload(archives, data)
    transfer.accept_transfer(archivist, batch)
    assert set(Custody.objects.values_list("item_id", flat=True)) == {i.pk for i in filed}
    assert Item.objects.count() == 3


# --- storage checks and the engine ------------------------------------------------------------------------

def test_storage_check_finds_missing_and_changed_files(fonds, filed, accounts):
    staff = accounts["women_staff"]
    assert transfer.check_holdings(staff, fonds).passed
    default_storage.delete(filed[2].files.get().storage_name)
    run = transfer.check_holdings(staff, fonds)
    assert not run.passed and status_of(run)["2-5"] == "failed" and "报告.docx" in failures(run, "2-5")
    with pytest.raises(PermissionDenied):
        transfer.check_holdings(accounts["leader"], fonds)


def test_storage_check_follows_the_fonds_code_format_and_keeps_earlier_codes(fonds, filed, capture, accounts):
    """A fonds' own 档号 format applies to later filings; the check accepts both the codes given
    before the change and those after it, and still refuses a code that fits neither."""
    from qunli.records.capture_actions import set_code_format

    staff = accounts["women_staff"]
    set_code_format(staff, fonds, template="{全宗号}/{门类代码}/{年度}/{保管期限}/{件号}", digits=3, reason="新规则")
    later = capture(date=dt.date(2024, 5, 1), files=[("新.pdf", minimal_pdf(b"later"))])
    actions.file_items(staff, [later.pk])
    later.refresh_from_db()
    assert later.archival_code.startswith("J001/WS/2024/Y/")
    run = transfer.check_holdings(staff, fonds)
    assert status_of(run)["1-3"] == "passed", failures(run, "1-3")
    Item.objects.filter(pk=later.pk).update(archival_code="J001-2024-Y-1")
    run = transfer.check_holdings(staff, fonds)
    assert status_of(run)["1-3"] == "failed" and "J001-2024-Y-1" in failures(run, "1-3")


def test_storage_check_counts_destroyed_pieces_as_accounted_not_as_gaps(fonds, filed, accounts):
    """An item destroyed under a 销毁清册 keeps its catalogue entry (and 件号): the storage check
    must not call its number a gap; a number missing without a destruction record still is."""
    staff = accounts["women_staff"]
    Item.objects.filter(pk=filed[1].pk).update(status=Item.Status.DISPOSED)
    run = transfer.check_holdings(staff, fonds)
    assert status_of(run)["2-4"] == "passed", failures(run, "2-4")
    # the same number lost without a destruction record (the entry taken back out of the files)
    Item.objects.filter(pk=filed[1].pk).update(status=Item.Status.PENDING, piece_no=None, archival_code=None)
    run = transfer.check_holdings(staff, fonds)
    assert status_of(run)["2-4"] == "failed" and "0002" in failures(run, "2-4")


@pytest.mark.parametrize("name,data,problem", [
    ("a.pdf", PDF[:-8], "unreadable"),
    ("a.pdf", PDF.replace(b"trailer<<", b"trailer<</Encrypt 5 0 R"), "sealed"),
    ("a.png", png()[:-6], "unreadable"),
    ("a.png", png().replace(b"IHDR\x00", b"IHDR\x01"), "unreadable"),
    ("a.jpg", jpeg()[:-2], "unreadable"),
    ("a.tif", b"II*\x00\xff\xff\x00\x00", "unreadable"),
    ("a.docx", docx(encrypted_member=True), "sealed"),
    ("a.docx", b"\xd0\xcf\x11\xe0" + b"\x00" * 100, "sealed"),
    ("a.ofd", docx(), "unreadable"),
])
def test_usability_parsers_find_broken_and_sealed_files(name, data, problem):
    unreadable, sealed = checks.inspect_format(name, data)
    assert (unreadable if problem == "unreadable" else sealed), (unreadable, sealed)


@pytest.mark.parametrize("name,data", [("a.pdf", PDF), ("a.png", png()), ("a.jpg", jpeg()), ("a.docx", docx()),
                                       ("a.tif", b"II*\x00\x08\x00\x00\x00\x01\x00" + b"\x00" * 16)])
def test_usability_parsers_accept_good_files(name, data):
    assert checks.inspect_format(name, data) == (None, None)


@pytest.mark.django_db  # 档号 formats are looked up per fonds (the default for a fonds not held here)
def test_metadata_checks_types_duplicates_and_required():
    def rec(**kw):
        meta = {"fonds_code": "J001", "category": "WS", "year": 2023, "retention": "Y", "org": "BGS", "piece_no": 1,
                "archival_code": "J001-WS·2023-Y-BGS-0001", "title": "通知", "responsible": "妇联", "date": "2023-01-02",
                "doc_no": "妇发1号", "classification": "internal", "openness": "pending", "pages": 1}
        meta.update(kw)
        return checks.ItemRec(meta["archival_code"] or "x", meta, [], events=1)
    results = {r.code: r for r in checks.run_checks([
        rec(), rec(piece_no=2, archival_code="J001-WS·2023-Y-BGS-0002", date="2023-13-01", pages="两"),
        rec(piece_no=3, archival_code="J001-WS·2023-Y-BGS-0003", responsible="", doc_no="妇发1号"),
        rec(piece_no=3, archival_code="J001-WS·2023-Y-BGS-0003", title="另一件"),
    ])}
    assert results["1-2"].status == "failed" and "日期" in "".join(results["1-2"].failures)
    assert results["2-3"].status == "failed" and "责任者" in "".join(results["2-3"].failures)
    assert results["1-4"].status == "failed" and "重复 2 次" in "".join(results["1-4"].failures)
    assert "文件编号“妇发1号”出现 4 次" in "".join(results["1-4"].warnings)
    assert results["2-4"].status == "failed" and "件号重复 0003" in "".join(results["2-4"].failures)
    assert results["4-1"].status == "not_performed" or shutil.which("clamscan") or shutil.which("clamdscan")
    assert results["4-1"].status != "passed" or shutil.which("clamscan") or shutil.which("clamdscan")


# --- pages --------------------------------------------------------------------------------------------------

def test_pages_transfer_send_check_accept_and_holdings(client, fonds, filed, county_archives, accounts):
    from django.urls import reverse

    unit, archivist = county_archives
    client.force_login(accounts["women_staff"])
    r = client.post(reverse("records:transfer_add"), {"fonds": fonds.pk, "year": 2023, "retention": "Y",
                                                     "receiver": unit.pk, "title": ""})
    assert r.status_code == 302, r.content.decode()[:3000]
    batch = TransferBatch.objects.get()
    assert batch.item_count == 3 and batch.title == "示范县群团组织档案移交"
    page = client.get(batch.get_absolute_url()).content.decode()
    assert "移交</button>" in page and "下载数据包" in page
    assert client.post(reverse("records:transfer_send", args=[batch.pk])).status_code == 302
    zipped = client.get(reverse("records:transfer_package", args=[batch.pk]))
    assert zipped["Content-Type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(b"".join(zipped.streaming_content))) as zf:
        assert {"bagit.txt", "manifest-sm3.txt", "data/catalogue.xlsx"} <= set(zf.namelist())

    client.force_login(archivist)
    r = client.post(reverse("records:transfer_accept", args=[batch.pk]), follow=True)
    assert "请先进行接收检测" in r.content.decode()
    r = client.post(reverse("records:transfer_check", args=[batch.pk]))
    run = CheckRun.objects.get(phase="receipt")
    assert r["Location"] == run.get_absolute_url()
    report = client.get(run.get_absolute_url()).content.decode()
    assert "1-1" in report and "电子文件固化信息" in report and "未执行" in report
    xlsx = client.get(reverse("records:check_xlsx", args=[run.pk]))
    rows = list(openpyxl.load_workbook(io.BytesIO(b"".join(xlsx.streaming_content))).active.values)
    assert rows[0][0] == "编号" and [r[0] for r in rows[1:] if r[0]][:3] == ["1-1", "1-2", "1-3"]
    pdf = client.get(reverse("records:check_pdf", args=[run.pk]))
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    assert client.post(reverse("records:transfer_accept", args=[batch.pk])).status_code == 302
    holdings = client.get(reverse("records:received_holdings")).content.decode()
    assert all(i.archival_code in holdings for i in filed)


def test_the_sender_cannot_accept_and_the_receiver_cannot_send(client, fonds, filed, archives, accounts):
    from django.urls import reverse

    unit, archivist = archives
    batch = transfer.create_transfer(accounts["women_staff"], fonds, receiver=unit, item_ids=[i.pk for i in filed])
    client.force_login(archivist)
    assert client.post(reverse("records:transfer_send", args=[batch.pk])).status_code == 403
    client.force_login(accounts["leader"])  # reads the county, changes nothing
    assert client.get(batch.get_absolute_url()).status_code == 200
    assert client.post(reverse("records:transfer_send", args=[batch.pk])).status_code == 403
    client.force_login(accounts["women_staff"])
    transfer.send_transfer(accounts["women_staff"], batch)
    assert client.post(reverse("records:transfer_accept", args=[batch.pk])).status_code == 403
    assert client.get(reverse("records:transfer_return", args=[batch.pk])).status_code == 403
    client.force_login(accounts["clerk"])  # a village clerk: neither side
    assert client.get(batch.get_absolute_url()).status_code == 404


def test_upload_page_refuses_a_hostile_zip_in_chinese(client, archives):
    from django.urls import reverse

    unit, archivist = archives
    client.force_login(archivist)
    r = client.post(reverse("records:transfer_receive"),
                    {"receiver": unit.pk, "package": SimpleUploadedFile("p.zip", _zip({**BAG, "../x": b"1"}))})
    assert r.status_code == 200 and "路径穿越" in r.content.decode()
    assert not TransferBatch.objects.exists()


def test_filing_through_the_page_runs_the_filing_check(client, capture, accounts):
    from django.urls import reverse

    items = [capture(files=[("a.pdf", PDF)]), capture()]
    client.force_login(accounts["women_staff"])
    r = client.post(reverse("records:file_items"), {"pk": [str(i.pk) for i in items]}, follow=True)
    run = CheckRun.objects.get(phase="filing")
    assert run.item_count == 2 and run.passed
    assert "归档检测（四性检测）通过" in r.content.decode()


def test_list_pages_query_counts(client, fonds, filed, archives, accounts, django_assert_max_num_queries):
    from django.urls import reverse

    unit, archivist = archives
    for _ in range(3):
        batch = transfer.create_transfer(accounts["women_staff"], fonds, receiver=unit, item_ids=[i.pk for i in filed])
        TransferBatch.objects.filter(pk=batch.pk).update(status="returned")
    transfer.check_holdings(accounts["women_staff"], fonds)
    client.force_login(accounts["women_staff"])
    for name in ("records:transfer_list", "records:check_list", "records:received_holdings"):
        with django_assert_max_num_queries(12):
            assert client.get(reverse(name)).status_code == 200


def test_records_check_command_runs_a_storage_check(fonds, filed, accounts):
    from django.core.management import call_command

    out = io.StringIO()
    call_command("records_check", fonds="J001", user=accounts["women_staff"].username, json=True, stdout=out)
    assert '"passed": true' in out.getvalue() and "4-1 安全性 病毒检测：" in out.getvalue()
    assert CheckRun.objects.get(phase="storage").item_count == 3
    default_storage.delete(filed[0].files.get().storage_name)
    with pytest.raises(SystemExit):
        call_command("records_check", fonds="J001", user=accounts["women_staff"].username, stdout=io.StringIO())


# --- review fixes: receipt through capture, destroyed 件号, acceptance rules -------------------------------

def _wipe_holdings():
    """Another system: nothing of the sender's holdings (nor its extracted texts) is here."""
    from qunli.records.file_models import FileContent
    from qunli.records.models import TransferItem

    TransferItem.objects.all().delete()
    CheckRun.objects.all().delete()
    TransferBatch.objects.all().delete()
    ItemFile.objects.all().delete()
    Item.objects.all().delete()
    FilingCounter.objects.all().delete()
    OrgCode.objects.all().delete()
    Fonds.objects.all().delete()
    FileContent.objects.all().delete()


def test_offline_receipt_goes_through_capture_text_is_searchable_and_opening_waits(fonds, capture, accounts,
                                                                                  archives):
    from qunli.core import search

    unit, archivist = archives
    staff = accounts["women_staff"]
    item = capture(date=dt.date(2023, 3, 1), openness="open", files=[("纪要.docx", sample_docx("蚕桑合作社章程"))])
    actions.file_items(staff, [item.pk])
    assert Item.objects.filter(pk=item.pk, openness="open").exists()
    data = package_bytes(transfer.create_transfer(staff, fonds, receiver=unit, item_ids=[item.pk]))
    _wipe_holdings()
    batch = upload(archives, data)
    assert batch.check_runs.get().passed
    transfer.accept_transfer(archivist, batch)
    search.drain()  # the outbox of this test's writes (their commit never comes)
    received = Item.objects.get(custody__unit=unit)
    hits = search.search("records.item", "蚕桑合作社", Item.objects.all())
    assert [h.pk for h in hits] == [received.pk]  # the word is only inside the DOCX text
    assert received.openness == "pending"  # the receiving archives decides opening
    assert not Item.objects.public().filter(pk=received.pk).exists()
    log = ChangeLog.objects.get(action="records.import_transfer")
    assert log.after["sender_openness"] == {received.archival_code: "open"}  # kept, not applied


def test_offline_receipt_refuses_a_file_capture_refuses_and_changes_nothing(fonds, filed, archives, accounts,
                                                                            monkeypatch):
    unit, archivist = archives
    data = package_bytes(transfer.create_transfer(accounts["women_staff"], fonds, receiver=unit,
                                                  item_ids=[i.pk for i in filed]))
    _wipe_holdings()
    batch = upload(archives, data)
    assert batch.check_runs.get().passed
    monkeypatch.setattr(actions, "MAX_FILE_BYTES", 5000)  # the receiving system's smaller file limit
    with pytest.raises(ActionError, match="报告.docx.*超过大小上限"):
        transfer.accept_transfer(archivist, batch)
    assert Item.objects.count() == 0 and ItemFile.objects.count() == 0 and not Custody.objects.exists()


def test_destroyed_piece_is_accounted_in_transfer_and_receipt_checks(fonds, filed, archives, accounts):
    unit, archivist = archives
    staff = accounts["women_staff"]
    Item.objects.filter(pk=filed[1].pk).update(status=Item.Status.DISPOSED)
    batch = transfer.create_transfer(staff, fonds, receiver=unit, item_ids=[filed[0].pk, filed[2].pk])
    run = batch.check_runs.get()
    assert status_of(run)["2-4"] == "passed", failures(run, "2-4")
    info = zipfile.ZipFile(io.BytesIO(package_bytes(batch))).read("bag-info.txt").decode()
    assert "Qunli-Destroyed-Pieces: WS|2023|Y|BGS|2" in info
    transfer.send_transfer(staff, batch)
    run = transfer.check_receipt(archivist, batch)
    assert run.passed and status_of(run)["2-4"] == "passed", failures(run, "2-4")
    # offline, the receiver reads the destroyed 件号 from the package too
    TransferBatch.objects.update(status="returned")
    assert upload(archives, package_bytes(batch)).check_runs.get().passed


def test_a_later_part_of_a_class_declares_the_earlier_transferred_pieces_for_another_archives(
        fonds, filed, archives, county_archives, accounts):
    """The county archives received 0001 of the class; the later 0002-0003 go offline to an
    archives that knows nothing of the first batch (another system): the package declares
    the transferred 件号, so its receipt check sees no gap — and a forged declaration in
    bag-info.txt is caught by the tag manifests."""
    staff = accounts["women_staff"]
    first = send(fonds, filed[:1], county_archives, staff)
    assert transfer.check_receipt(county_archives[1], first).passed
    transfer.accept_transfer(county_archives[1], first)
    later = transfer.create_transfer(staff, fonds, receiver=archives[0], item_ids=[i.pk for i in filed[1:]])
    assert later.check_runs.get().passed
    data = package_bytes(later)
    assert "Qunli-Transferred-Pieces: WS|2023|Y|BGS|1\n" in zipfile.ZipFile(io.BytesIO(data)).read("bag-info.txt").decode()
    Custody.objects.all().delete()  # the receiving system holds nothing of the fonds
    TransferBatch.objects.update(status="returned")
    run = upload(archives, data).check_runs.get()
    assert run.passed and status_of(run)["2-4"] == "passed", failures(run, "2-4")
    undeclared = rezip(data, change=lambda name, b: b.replace(b"Qunli-Transferred-Pieces: WS|2023|Y|BGS|1\n", b"")
                       if name == "bag-info.txt" else b)
    TransferBatch.objects.update(status="returned")
    assert not upload(archives, undeclared).check_runs.get().passed  # the tag manifest no longer matches


def test_declared_pieces_are_written_as_ranges_and_read_back():
    line = transfer._pieces_line({("J1", "WS", 2023, "Y", "BGS"): {1, 2, 3, 7, 9, 10}}, {("J1", "WS", 2023, "Y", "BGS")})
    assert line == "WS|2023|Y|BGS|1-3,7,9-10"
    info = {"Qunli-Fonds-Code": "J1", "Qunli-Transferred-Pieces": line, "Qunli-Destroyed-Pieces": "WS|2023|Y|BGS|5"}
    assert transfer.parse_declared_pieces(info) == {("J1", "WS", 2023, "Y", "BGS"): {1, 2, 3, 5, 7, 9, 10}}
    # nonsense or absurd ranges declare nothing (a forged 1-999999999 would hang the check)
    assert transfer.parse_declared_pieces({"Qunli-Transferred-Pieces": "WS|2023|Y||1-999999999,x,3-1"}) == {
        ("", "WS", 2023, "Y", ""): set()}


def test_a_plain_gap_still_fails_when_another_piece_was_destroyed(fonds, filed, capture, archives, accounts):
    staff = accounts["women_staff"]
    fourth = capture(date=dt.date(2023, 6, 1), files=[("四.pdf", minimal_pdf(b"4"))])
    actions.file_items(staff, [fourth.pk])
    Item.objects.filter(pk=filed[1].pk).update(status=Item.Status.DISPOSED)
    batch = transfer.create_transfer(staff, fonds, receiver=archives[0], item_ids=[filed[0].pk, fourth.pk])
    run = batch.check_runs.get()
    assert status_of(run)["2-4"] == "failed" and "缺号 1 个（0003）" in failures(run, "2-4")


def test_accept_refuses_a_batch_whose_item_was_destroyed_meanwhile(fonds, filed, archives, accounts):
    unit, archivist = archives
    batch = send(fonds, filed, archives, accounts["women_staff"])
    assert transfer.check_receipt(archivist, batch).passed
    Item.objects.filter(pk=filed[1].pk).update(status=Item.Status.DISPOSED)
    with pytest.raises(ActionError, match="已不在归档状态"):
        transfer.accept_transfer(archivist, batch)
    assert not Custody.objects.exists()
    assert TransferBatch.objects.get(pk=batch.pk).status == "sent"


def test_offline_acceptance_follows_the_fonds_code_format_like_the_check(fonds, filed, capture, archives, accounts):
    """A 档号 in the fonds' own (changed) format passes the receipt check, and acceptance
    applies the same rule (not only the default format)."""
    from qunli.records.capture_actions import set_code_format

    unit, archivist = archives
    staff = accounts["women_staff"]
    set_code_format(staff, fonds, template="{全宗号}/{门类代码}/{年度}/{保管期限}/{件号}", digits=3, reason="新规则")
    later = capture(date=dt.date(2024, 5, 1), files=[("新.pdf", minimal_pdf(b"later"))])
    actions.file_items(staff, [later.pk])
    later.refresh_from_db()
    assert later.archival_code.startswith("J001/WS/2024/Y/")
    data = package_bytes(transfer.create_transfer(staff, fonds, receiver=unit,
                                                  item_ids=[i.pk for i in filed] + [later.pk]))
    # the receiving system holds the fonds (with its format) but not these items
    TransferBatch.objects.update(status="returned")
    ids = [i.pk for i in filed] + [later.pk]
    from qunli.records.models import TransferItem
    TransferItem.objects.all().delete()
    ItemFile.objects.filter(item_id__in=ids).delete()
    Item.objects.filter(pk__in=ids).delete()
    batch = upload(archives, data)
    run = batch.check_runs.get()
    assert run.passed, failures(run, "1-3")
    transfer.accept_transfer(archivist, batch)
    assert set(Item.objects.filter(custody__unit=unit).values_list("archival_code", flat=True)) == \
        {later.archival_code} | {i.archival_code for i in filed}


@pytest.mark.parametrize("layout", ["dir", "zip"])
def test_a_failure_after_packaging_leaves_neither_batch_nor_package(fonds, filed, archives, accounts, settings,
                                                                    monkeypatch, layout):
    """The package is written before the batch's rows commit: when a later step fails, the
    rows roll back and the package goes with them (nothing left under transfers/)."""
    settings.QUNLI_TRANSFER_LAYOUT = layout

    def power_cut(*args, **kwargs):
        raise RuntimeError("保存检测报告时断电")

    monkeypatch.setattr(transfer, "_save_run", power_cut)
    with pytest.raises(RuntimeError):
        transfer.create_transfer(accounts["women_staff"], fonds, receiver=archives[0], item_ids=[i.pk for i in filed])
    assert not TransferBatch.objects.exists()
    root = default_storage.path("transfers")
    assert not os.path.exists(root) or os.listdir(root) == []


def test_a_dissolved_receiver_takes_no_new_batch(fonds, filed, archives, accounts):
    from qunli.orgs.models import Unit, UnitStatus

    unit = archives[0]
    Unit.objects.filter(pk=unit.pk).update(status=UnitStatus.DISSOLVED)  # as 机构变动 leaves it
    unit.refresh_from_db()
    with pytest.raises(ActionError, match="已撤销、合并或拆分"):
        transfer.create_transfer(accounts["women_staff"], fonds, receiver=unit, item_ids=[i.pk for i in filed])
    assert not TransferBatch.objects.exists()
    root = default_storage.path("transfers")
    assert not os.path.exists(root) or os.listdir(root) == []


def test_packaging_windows_keep_items_whole_and_about_thirty_two_files_each(db):
    rows = [{"id": i} for i in range(6)]
    files = {0: [1] * 10, 1: [1] * 20, 2: [1] * 5, 3: [1] * 40, 4: [], 5: [1]}
    windows = [[r["id"] for r in w] for w in transfer._windows(rows, files)]
    assert windows == [[0, 1], [2], [3], [4, 5]]  # 30 files, 5 (+40 would overflow), an item of 40 alone, 0 + 1


@pytest.mark.parametrize("failure", ["cannot_start", "dies"])
def test_a_package_gets_its_catalogue_in_process_when_the_child_cannot_write_it(fonds, filed, tmp_path, monkeypatch,
                                                                               failure, caplog):
    monkeypatch.setattr(transfer, "CATALOGUE_CHILD_ROWS", 1)
    if failure == "cannot_start":  # e.g. a server whose sys.executable is no Python
        monkeypatch.setattr(sys, "executable", str(tmp_path / "no-such-python"))
    else:
        real = transfer.XlsxInChild

        def killed(*args, **kwargs):
            child = real(*args, **kwargs)
            child.proc.kill()
            return child

        monkeypatch.setattr(transfer, "XlsxInChild", killed)
    transfer.write_package(transfer.DirTarget(tmp_path / "bag"), [i.pk for i in filed], {"number": "T1"})
    bagit.Bag(str(tmp_path / "bag")).validate()
    rows = list(openpyxl.load_workbook(tmp_path / "bag/data/catalogue.xlsx").active.values)
    assert [r[1] for r in rows[1:]] == [i.archival_code for i in filed]
    assert "writing it in process" in caplog.text
