"""Attachments on a portal request: JPG/PNG/PDF up to 3 files of 5 MB, checked by content,
stored through the default storage (not public), all or nothing with the request. Staff who
may see the case download them (access-logged); a colleague outside the case gets a 404; the
citizen's tracking page shows the file names only."""

import re
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from conftest import grant, make_user
from qunli.casework import actions as casework
from qunli.casework import attachments as request_files
from qunli.casework.models import Case, Request, RequestAttachment
from qunli.core.models import AccessLog
from qunli.portal import actions
from qunli.portal import views as portal_views
from qunli.portal.tests.test_portal import dv, form_data, track

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200
PDF = b"%PDF-1.7\n" + b"1 0 obj <<>> endobj\n" * 50_000  # about 1 MB: more than the old 32 KB body limit
EXE = b"MZ\x90\x00" + b"\x00" * 200


@pytest.fixture(autouse=True)
def files_dir(settings, tmp_path):
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "django.core.files.storage.FileSystemStorage",
                                                           "OPTIONS": {"location": str(tmp_path)}}}
    return tmp_path


def stored(files_dir: Path) -> list[Path]:
    return [p for p in files_dir.rglob("*") if p.is_file()]


def upload(name: str, data: bytes, mime: str = "application/octet-stream") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=mime)


def submit_with(client, tree, files, **over):
    return client.post(reverse("portal:submit"), {**form_data(tree, **over), "attachments": files})


@pytest.fixture
def team(tree, lines, accounts):
    """A caseworker and a supervisor of 示范县妇联, and a colleague with the same grant who is not
    on the case."""
    out = {}
    for key in ("worker", "supervisor", "colleague"):
        u = make_user(f"women_{key}")
        grant(u, "staff", tree["county"], lines=[lines["women"]])
        out[key] = u
    return out


def signed_in(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def test_upload_is_accepted_and_visible_to_the_caseworker(client, tree, accounts, team, files_dir):
    r = submit_with(client, tree, [upload("工资条.png", PNG, "image/png"), upload("劳动合同.pdf", PDF)])
    assert r.status_code == 302, r.content.decode()[:3000]
    req = Request.objects.get()
    atts = list(req.attachments.order_by("id"))
    assert [(a.mime, a.size) for a in atts] == [("image/png", len(PNG)), ("application/pdf", len(PDF))]
    assert "工资条" not in atts[0].name_enc and atts[0].reveal_name() == "工资条.png"  # the name is sealed
    assert {p.read_bytes() for p in stored(files_dir)} == {PNG, PDF}  # in the default storage, by content
    assert all(a.storage_name.startswith("requests/") for a in atts)
    # the citizen's tracking page: the names only, never a link to the files
    html = track(Client(), req.tracking_code, "5678").content.decode()
    assert "工资条.png" in html and "劳动合同.pdf" in html
    assert "manage/attachments" not in html

    # before assignment the unit's intake staff see the case and may download
    intake = signed_in(accounts["women_staff"])
    assert intake.get(reverse("portal:request_attachment", args=[atts[0].pk])).status_code == 200
    case = casework.assign_case(accounts["women_staff"], Case.objects.get(), caseworker=team["worker"],
                                supervisor=team["supervisor"])
    worker = signed_in(team["worker"])
    page = worker.get(reverse("casework:case_detail", args=[case.pk])).content.decode()
    assert "诉求附件" in page and "附件1（PNG" in page and "附件2（PDF" in page
    assert "工资条" not in page  # the list names no file: the name comes with the logged download
    links = re.findall(r'href="(/portal/manage/attachments/\d+/)"', page)
    assert links == [reverse("portal:request_attachment", args=[a.pk]) for a in atts]
    before = AccessLog.objects.count()
    r = worker.get(links[1])
    assert r.status_code == 200 and b"".join(r.streaming_content) == PDF
    assert r["Content-Type"] == "application/pdf" and r["Content-Disposition"].startswith("attachment;")
    assert "no-store" in r["Cache-Control"]
    log = AccessLog.objects.order_by("-seq").first()
    assert AccessLog.objects.count() == before + 1
    assert log.actor_id == team["worker"].pk and log.object_id == str(case.pk)
    assert log.fields == "request_attachment" and f"#{atts[1].pk}" in log.purpose


def test_a_colleague_outside_the_case_gets_404_on_the_download(client, tree, accounts, team, lines):
    assert submit_with(client, tree, [upload("伤情.jpg", b"\xff\xd8\xff\xe0" + b"\x00" * 100)]).status_code == 302
    att = RequestAttachment.objects.get()
    casework.assign_case(accounts["women_staff"], Case.objects.get(), caseworker=team["worker"],
                         supervisor=team["supervisor"])
    url = reverse("portal:request_attachment", args=[att.pk])
    before = AccessLog.objects.count()
    # same unit, same line, not on the case: need-to-know says no (and so does assigned intake staff)
    for outsider in (team["colleague"], accounts["women_staff"], accounts["union_staff"], accounts["leader"],
                     accounts["party_office"]):
        assert signed_in(outsider).get(url).status_code == 404, outsider.username
    assert AccessLog.objects.count() == before  # nothing was read, nothing logged
    assert signed_in(accounts["auditor"]).get(url).status_code == 403  # 三员: no business data
    anonymous = Client().get(url)
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]
    assert signed_in(team["supervisor"]).get(url).status_code == 200


def test_a_wrong_type_is_refused_with_its_message_and_nothing_stored(client, tree, files_dir):
    r = submit_with(client, tree, [upload("照片.jpg", EXE, "image/jpeg")])  # a program renamed to .jpg
    html = r.content.decode()
    assert r.status_code == 200 and "附件“照片.jpg”的内容与扩展名不符或文件已损坏" in html
    r = submit_with(client, tree, [upload("说明.docx", b"PK\x03\x04" + b"\x00" * 50)])
    html = r.content.decode()
    assert r.status_code == 200 and "附件“说明.docx”的格式不支持：只能上传 JPG、PNG 或 PDF 文件" in html
    assert "诉求内容不能超过" not in html
    four = [upload(f"{i}.png", PNG, "image/png") for i in range(4)]
    assert "最多上传3个附件" in submit_with(client, tree, four).content.decode()
    assert not Request.objects.exists() and not RequestAttachment.objects.exists()
    assert stored(files_dir) == []


def test_an_oversize_file_is_refused_with_the_file_limit_and_nothing_stored(client, tree, files_dir, monkeypatch):
    big = upload("工伤照片.png", PNG + b"\x00" * request_files.ATTACHMENT_MAX_BYTES, "image/png")
    r = submit_with(client, tree, [big])
    html = r.content.decode()
    assert r.status_code == 200 and "附件“工伤照片.png”超过 5 MB" in html
    assert "诉求内容不能超过" not in html
    # a body larger than every allowed file together is refused before it is read, naming the file limit
    monkeypatch.setattr(portal_views, "MAX_SUBMIT_BODY_BYTES", 64 * 1024)
    r = submit_with(client, tree, [upload("a.png", PNG + b"\x00" * 100_000, "image/png")])
    html = r.content.decode()
    assert r.status_code == 413 and "每个不超过5 MB" in html and "2000字" not in html
    assert not Request.objects.exists() and stored(files_dir) == []


def test_the_form_states_the_limits(client):
    html = client.get(reverse("portal:submit")).content.decode()
    assert 'enctype="multipart/form-data"' in html and 'type="file"' in html and "multiple" in html
    assert "最多3个文件，每个不超过5 MB，格式为 JPG、PNG 或 PDF" in html


def test_a_failed_submission_leaves_no_stored_file(tree, files_dir, monkeypatch):
    calls = {"n": 0}
    real = request_files.log_change

    def fail_on_second(*a, **kw):  # the first file is stored and logged, then the database fails
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("database went away")
        return real(*a, **kw)

    monkeypatch.setattr(request_files, "log_change", fail_on_second)
    with pytest.raises(RuntimeError):
        actions.submit_request(unit=tree["women"], type=dv(), name="王小梅", phone="13912345678", description="工资被拖欠",
                               files=[("a.png", PNG), ("b.pdf", PDF[:2000])])
    assert not Request.objects.exists() and not RequestAttachment.objects.exists()
    assert stored(files_dir) == []


def test_bytes_another_request_holds_survive_a_failed_submission(tree, files_dir, monkeypatch):
    actions.submit_request(unit=tree["women"], type=dv(), name="甲", phone="13912345678", description="一",
                           files=[("a.png", PNG)])
    monkeypatch.setattr(request_files, "log_change", lambda *a, **kw: (_ for _ in ()).throw(RuntimeError("x")))
    with pytest.raises(RuntimeError):
        actions.submit_request(unit=tree["women"], type=dv(), name="乙", phone="13912345679", description="二",
                               files=[("same.png", PNG)])
    assert [p.read_bytes() for p in stored(files_dir)] == [PNG]  # the first request's file stays
    assert RequestAttachment.objects.count() == 1


def test_only_the_portal_account_attaches_files(tree, accounts):
    case = actions.submit_request(unit=tree["women"], type=dv(), name="甲", phone="13912345678", description="一")
    with pytest.raises(Exception, match="网上群团系统账户"):
        request_files.attach_public_files(accounts["women_staff"], case, [("a.png", PNG)], written=[])
