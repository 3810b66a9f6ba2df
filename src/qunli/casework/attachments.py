"""Files a citizen attaches to a request on the portal (诉求附件): the check, the store, the
access-logged download, and the view behind the case page's 附件 card.

The check is the staff side's photo check (``pairing_actions``: extension, size, leading
bytes — a renamed .exe is refused whatever it is called) with PDF added. Files are checked
before anything is stored, hashed once (SM3) and stored once under
``requests/<sm3[:2]>/<sm3>`` of the default storage, which the platform never serves as
media. Only staff who may see the case (``Case.objects.visible_to``: its team, the unit's
intake staff while it waits, the receiver of a pending 转办/转介) list and download them,
and each download writes the access log first."""

import os
import re

from django.core.exceptions import PermissionDenied
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404
from django.views import View

from qunli.core import crypto
from qunli.core.actions import ActionError, action
from qunli.core.audit import log_access, log_change, snapshot
from qunli.core.generic import BusinessRequiredMixin
from qunli.core.scoping import VIEW

from .actions import PORTAL_ACCOUNT
from .models import Case, Channel, RequestAttachment
from .pairing_actions import PHOTO_MAX_BYTES, PHOTO_TYPES
from .stored_files import store_by_digest

ATTACHMENT_TYPES = {**PHOTO_TYPES, "pdf": ("application/pdf", b"%PDF-")}
ATTACHMENT_MAX_BYTES = PHOTO_MAX_BYTES  # 5 MB, as the staff side's photos: a phone photo fits
ATTACHMENT_MAX_COUNT = 3
ATTACHMENT_MB = ATTACHMENT_MAX_BYTES // 1024 // 1024
# said on the form, in the refusal of an oversize body and in the messages below
ATTACHMENT_LIMITS = f"最多{ATTACHMENT_MAX_COUNT}个文件，每个不超过{ATTACHMENT_MB} MB，格式为 JPG、PNG 或 PDF"
NAME_MAX = 100
PREFIX = "requests"


def clean_name(name: str) -> str:
    """The file name as the citizen's device sent it, without a path or control characters,
    shortened from the front so the extension stays."""
    name = re.sub(r"[\x00-\x1f\x7f]", "", os.path.basename((name or "").replace("\\", "/"))).strip()
    return name[-NAME_MAX:] or "附件"


def check_attachment(f) -> str:
    """The MIME type of an acceptable attachment, or an ActionError naming the file and the
    reason. Reads the first bytes only (the size is the upload's own)."""
    name = clean_name(getattr(f, "name", ""))
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if ext not in ATTACHMENT_TYPES:
        raise ActionError(f"附件“{name}”的格式不支持：只能上传 JPG、PNG 或 PDF 文件。")
    size = getattr(f, "size", None)
    if size is not None and size > ATTACHMENT_MAX_BYTES:
        raise ActionError(f"附件“{name}”超过 {ATTACHMENT_MB} MB：每个附件不能超过 {ATTACHMENT_MB} MB，请压缩后再上传。")
    f.seek(0)
    head = f.read(16)
    f.seek(0)
    if not head:
        raise ActionError(f"附件“{name}”是空文件。")
    mime, magic = ATTACHMENT_TYPES[ext]
    if not head.startswith(magic):
        raise ActionError(f"附件“{name}”的内容与扩展名不符或文件已损坏。")
    return mime


def as_files(files) -> list:
    """Uploaded files as given, (name, bytes) pairs as files; empty entries dropped."""
    return [ContentFile(f[1], name=f[0]) if isinstance(f, tuple) else f for f in files or () if f]


def check_attachments(files) -> None:
    files = as_files(files)
    if len(files) > ATTACHMENT_MAX_COUNT:
        raise ActionError(f"最多上传{ATTACHMENT_MAX_COUNT}个附件。")
    for f in files:
        check_attachment(f)


def _store(f, written: list[str]) -> dict:
    """Hash (SM3) and store one checked file once; the columns of its row. ``written`` gets
    the storage names this call created (not those already there), for the caller to remove
    if the submission fails."""
    mime = check_attachment(f)
    storage_name, digest, total, created = store_by_digest(
        f, PREFIX, ATTACHMENT_MAX_BYTES, f"附件“{clean_name(f.name)}”超过 {ATTACHMENT_MB} MB：每个附件不能超过 {ATTACHMENT_MB} MB。")
    if created:
        written.append(storage_name)
    return {"storage_name": storage_name, "sm3": digest, "mime": mime, "size": total,
            "name_enc": crypto.encrypt(clean_name(f.name))}


@action
def attach_public_files(actor, case: Case, files, *, written: list[str]) -> list[RequestAttachment]:
    """Attach the files of a portal submission to its just-received request: the portal's
    system account only (as ``receive_public_request``), inside the submission's transaction.
    Every file is checked before any is stored. A failure rolls the rows back; the caller
    removes the stored bytes named in ``written`` (``discard``)."""
    if actor.username != PORTAL_ACCOUNT or actor.has_usable_password() or not actor.is_business:
        raise PermissionDenied("只有网上群团系统账户可以上传诉求附件。")
    files = as_files(files)
    if not files:
        return []
    req = case.request
    if req.channel != Channel.ONLINE or req.attachments.exists():
        raise ActionError("只有网上提交的诉求可以在提交时上传附件。")
    check_attachments(files)
    rows = []
    for f in files:
        a = RequestAttachment.objects.create(request=req, **_store(f, written))
        log_change(actor, "casework.attach_request_file", a, None, snapshot(a), unit_path=case.unit.path,
                   obj_repr=f"{case} 附件 #{a.pk}")
        rows.append(a)
    return rows


def discard(written: list[str]) -> None:
    """Remove bytes a failed submission stored, unless a committed attachment holds the same
    content (stored at the same content address by another submission meanwhile)."""
    for name in written:
        if not RequestAttachment.objects.filter(storage_name=name).exists():
            default_storage.delete(name)


def visible_attachment(user, pk) -> RequestAttachment:
    """One attachment, through its case's need-to-know rule: a 404 for anyone else."""
    a = (RequestAttachment.objects.visible_to(user, VIEW).select_related("request__case__unit")
         .filter(pk=pk).first())
    if a is None:
        raise Http404("附件不存在，或您不能查看该个案。")
    return a


def open_attachment(actor, attachment: RequestAttachment):
    """The stored file (an open file) for staff who may see the case; access-logged first."""
    case = attachment.request.case
    if not Case.objects.visible_to(actor, VIEW).filter(pk=case.pk).exists():
        raise PermissionDenied("您不能查看该个案的附件。")
    log_access(actor, case, ["request_attachment"], f"诉求附件 #{attachment.pk}")
    return default_storage.open(attachment.storage_name, "rb")


class AttachmentDownloadView(BusinessRequiredMixin, View):
    """GET: one attachment as a download (never inline: a PDF or image opened in the page
    would run in our origin)."""

    def get(self, request, pk):
        a = visible_attachment(request.user, pk)
        try:
            fh = open_attachment(request.user, a)
        except FileNotFoundError as e:
            raise Http404("附件文件不存在。") from e
        resp = FileResponse(fh, content_type=a.mime, as_attachment=True, filename=a.reveal_name())
        resp["Cache-Control"] = "private, no-store"
        resp["X-Content-Type-Options"] = "nosniff"
        return resp
