"""The authorization matrix: every URL pattern of the project × every account × a foreign object.

Routes are discovered, not listed: ``django.urls.get_resolver()`` is walked recursively, so the
UI pages, the ninja API operations and whatever route is added tomorrow are all in the matrix.
Every path parameter is filled with ``FOREIGN_PK``, and for every scoped model one object with
exactly that primary key is created under 邻县妇联 (outside every business grant in the
``accounts`` fixture). Whatever model a route's ``<int:pk>`` names, it therefore names an object
the account must not reach. Every foreign object's name contains 邻县 (the marker), which must
never appear in anything a business account can fetch: detail pages, list pages, API lists,
searches (``?q=邻县``), xlsx exports (read back with openpyxl) or pages pre-filled from a
foreign id in the query string.

What each principal must get:

* anonymous — a redirect to the login page, or 401 from the API, on every route but ``PUBLIC``;
* administrators (sysadmin, secadmin, auditor) — 403 on every business route (三员分立); their
  own screens (views guarded by ``KindRequiredMixin``) are theirs;
* business accounts — 403 or 404 on every route that names an object (GET, and POST / PUT /
  PATCH / DELETE with empty data); 403 on administrator screens; and on routes that name no
  object (list pages, add forms, dashboards), no foreign name in the answer.

A 405 (method not offered by the route) is always acceptable: it carries no data. A 422 from the
API is acceptable on an object route only when it is byte-for-byte the answer for an id that does
not exist at all (request validation failed before any lookup, so it reveals nothing).
A 500 is always a failure and is reported with the route's name."""

import datetime as dt
import io
import json
import re
from dataclasses import dataclass

import pytest
from django.apps import apps
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from qunli.core.admin_views import KindRequiredMixin
from qunli.core.models import ApiToken, User
from qunli.core.scoping import ScopeSpec
from qunli.orgs.models import (
    BaseCondition,
    Checklist,
    Inspection,
    Position,
    Unit,
    UnitEvent,
    Venue,
)
from qunli.people.models import (
    CadreProfile,
    Membership,
    Person,
    Recognition,
    Team,
    TeamMember,
    Training,
    VolunteerProfile,
)

FOREIGN_PK = 900_001
MISSING_PK = 999_999_999  # exists nowhere: the baseline a foreign id's answer must equal
FOREIGN_UUID = "00000000-0000-4000-8000-000000900001"
MARKER = "邻县"  # in every foreign name; also the search term
# Query parameters a page might use to pre-fill a form or filter (?unit=, ?parent= …): all foreign.
FOREIGN_QUERY = {k: str(FOREIGN_PK) for k in (
    "unit", "parent", "person", "venue", "team", "volunteer", "position", "membership", "line", "pk", "id",
    "into", "keep", "duplicate", "unit_id", "person_id", "fonds", "fonds_id", "batch_id", "receiver_id")}

# --- explicit allow-lists (each entry says why) ----------------------------------------------

# Answer anonymous requests by design.
PUBLIC = {
    "/healthz",  # load-balancer probe; reports database status only
    "/favicon.ico",  # a redirect to the static icon, which every page links anyway
    "/accounts/login/",  # the login page itself
    "/api/openapi.json",  # the API's schema: no data, and clients need it before they have a token
    # The public portal (网上群团) is for citizens without accounts. It shows published notices,
    # the list of units and request types, and one request's public status only for its tracking
    # code + the phone's last four digits (src/qunli/portal/tests/ try to get past that). Its
    # staff screens (/portal/manage/…) are business routes like any other and stay in the matrix.
    "/portal/",  # home: channels, hotlines, published notices
    "/portal/submit/",  # submit a request (rate-limited, honeypot, size limits)
    "/portal/submitted/",  # the confirmation showing the submitter's own tracking code once
    "/portal/track/",  # tracking by code + last four digits of the phone
    "/portal/notices/",  # published notices only
    "/portal/wishes/",  # the wishes wall: published wishes only, masked (src/qunli/casework/tests/test_wishes.py)
    "/portal/wishes/<int:pk>/claim/",  # claim form of a published wish; anything unpublished is a 404
    "/portal/wishes/thanks/",  # thank-you page after a claim (the unit's name from the session)
    "/portal/projects/",  # published practical projects only
    # The open archives catalogue: every answer comes from Item.objects.public() (filed, 开放,
    # not secret); src/qunli/records/tests/test_public_leaks.py tries each of these with a
    # controlled, an undecided, a secret and an unfiled item (the foreign item here is 待定).
    "/portal/catalogue/",  # list, search, filters, capped xlsx export of open items
    "/portal/catalogue/<int:pk>/",  # catalogue fields of one open item; anything else is a 404
    "/portal/catalogue/<int:pk>/request/",  # online use request for one open item (anti-abuse as /submit/)
    "/portal/use/submitted/",  # shows the requester's own 利用单号 once (from the session)
    "/portal/use/",  # reading room: 利用单号 + the phone's last four digits, rate-limited
    "/portal/use/lines/<int:pk>/",  # one approved line of the request opened in this session, else 404
    "/portal/use/lines/<int:pk>/pages/<int:page>/",  # a watermarked page image of such a line, else 404
    "/portal/verify/",  # certificate verification by its code: unit, date, 档号, masked reader
    "/api/public/items",  # the public API: open catalogue only
    "/api/public/items/<int:item_id>",
}
# Always 404, for everyone: ninja's placeholder at the API root (it only anchors reverse()).
ALWAYS_404 = {"/api/"}
# Routes for any signed-in account, not business data: the shell, one's own password and
# session, one's own API tokens, the API docs. Admin accounts may use them too.
ACCOUNT_ROUTE_NAMES = {"home", "login", "logout", "password_change"}
ACCOUNT_URL_PREFIXES = ("/api/core/", "/api/docs")

ADMIN_KINDS = (User.Kind.SYSADMIN, User.Kind.SECADMIN, User.Kind.AUDITOR)
BUSINESS = ("party_office", "women_staff", "union_staff", "leader", "clerk")
ADMINS = ("sysadmin", "secadmin", "auditor")
NO_DATA = {403, 404, 405}


# --- route discovery -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Route:
    template: str  # e.g. "/orgs/units/<int:pk>/"
    name: str  # namespaced url name, or the template when unnamed
    view: object  # the view class or function

    @property
    def params(self) -> list[tuple[str, str]]:
        return re.findall(r"<(?:(\w+):)?(\w+)>", self.template)

    @property
    def names_object(self) -> bool:
        return bool(self.params)

    @property
    def is_api(self) -> bool:
        return self.template.startswith("/api/")

    def url(self, pk: int = FOREIGN_PK) -> str:
        def fill(m):
            converter, name = m.group(1) or "str", m.group(2)
            if converter in ("uuid", "uuidstr"):  # Django's, and ninja's for a uuid.UUID path parameter
                return FOREIGN_UUID
            if converter in ("int",) or name == "pk" or name.endswith("_id") or name == "id":
                return str(pk)
            return f"{MARKER}{pk}"

        return re.sub(r"<(?:(\w+):)?(\w+)>", fill, self.template)

    @property
    def admin_kinds(self) -> tuple[str, ...] | None:
        """Kinds an administrator screen is for (views guarded by KindRequiredMixin)."""
        if isinstance(self.view, type) and issubclass(self.view, KindRequiredMixin):
            return tuple(self.view.kinds)
        return None

    @property
    def is_account_route(self) -> bool:
        return self.name.split(":")[-1] in ACCOUNT_ROUTE_NAMES and ":" not in self.name \
            or self.template.startswith(ACCOUNT_URL_PREFIXES)

    @property
    def is_business(self) -> bool:
        return not (self.is_account_route or self.admin_kinds or self.template in PUBLIC | ALWAYS_404)


def _regex_to_template(regex: str) -> str:
    regex = regex.lstrip("^").rstrip("$").replace("\\Z", "")
    return re.sub(r"\(\?P<(\w+)>[^)]*\)", r"<\1>", regex).replace("\\", "")


def discover_routes(patterns=None, prefix: str = "/", namespace: str = "") -> list[Route]:
    routes = []
    for p in get_resolver().url_patterns if patterns is None else patterns:
        piece = str(p.pattern)
        if not hasattr(p.pattern, "_route"):
            piece = _regex_to_template(piece)
        if isinstance(p, URLResolver):
            ns = ":".join(x for x in (namespace, p.namespace) if x)
            routes += discover_routes(p.url_patterns, prefix + piece, ns)
        elif isinstance(p, URLPattern):
            view = getattr(p.callback, "view_class", p.callback)
            name = ":".join(x for x in (namespace, p.name) if x) if p.name else prefix + piece
            routes.append(Route(prefix + piece, name, view))
    # ninja registers one pattern per operation on the same path; one route per path is enough
    # (every method is tried on each).
    unique = {}
    for r in routes:
        unique.setdefault(r.template, r)
    return sorted(unique.values(), key=lambda r: r.template)


ROUTES = discover_routes()


# --- the foreign objects ---------------------------------------------------------------------------

def _foreign_objects(tree, lines):
    """One object per scoped model, each with pk FOREIGN_PK, all under 邻县妇联."""
    where = tree["other_women"]
    women = lines["women"]
    Unit.objects.add_child(where, {"id": FOREIGN_PK, "name": "邻县秘密妇女小组", "level": "group", "line": women})
    person = Person(id=FOREIGN_PK, unit=where, name="邻县秘密人员", workplace="邻县秘密单位")
    person.set_sensitive("phone", "13999990001")
    person.set_sensitive("address", "邻县秘密路1号")
    person.save()
    Position.objects.create(id=FOREIGN_PK, unit=where, person=person, title="chair", title_label="邻县秘密主席",
                            started_on=dt.date(2024, 1, 1), term_ends_on=dt.date(2029, 1, 1))
    BaseCondition.objects.create(id=FOREIGN_PK, unit=where, note="邻县秘密四缺", lacks_venue=True)
    venue = Venue.objects.create(id=FOREIGN_PK, unit=where, name="邻县秘密阵地", kind="womens_home",
                                 address="邻县秘密路2号")
    Inspection.objects.create(id=FOREIGN_PK, venue=venue, checklist=Checklist.objects.first(), on=dt.date(2026, 1, 1),
                              inspector="邻县秘密检查人", score=50, passed=False, findings="邻县秘密问题")
    UnitEvent.objects.create(id=FOREIGN_PK, unit=where, kind="created", note="邻县秘密变动")
    Membership.objects.create(id=FOREIGN_PK, person=person, line=women, unit=where, number="邻县秘密编号")
    CadreProfile.objects.create(id=FOREIGN_PK, person=person, unit=where, post="邻县秘密职务")
    volunteer = VolunteerProfile.objects.create(id=FOREIGN_PK, person=person, unit=where, category="teacher",
                                                skills="邻县秘密特长", certificate_no="邻县秘密聘书")
    Training.objects.create(id=FOREIGN_PK, volunteer=volunteer, on=dt.date(2026, 1, 1), title="邻县秘密培训")
    Recognition.objects.create(id=FOREIGN_PK, volunteer=volunteer, on=dt.date(2026, 1, 1), title="邻县秘密表彰")
    team = Team.objects.create(id=FOREIGN_PK, unit=where, name="邻县秘密宣讲团", kind="lecture", leader=person)
    TeamMember.objects.create(id=FOREIGN_PK, team=team, person=person, role="邻县秘密队员")
    _foreign_casework(where, person)
    _foreign_records(where)
    from qunli.portal.models import Notice

    Notice.objects.create(id=FOREIGN_PK, unit=where, title="邻县秘密通知", body="邻县秘密正文",
                          created_by=User.objects.filter(kind="business").first())
    # Not scoped but owned: another account's API token (and that account) at the same pk.
    outsider = User.objects.create_user(id=FOREIGN_PK, username="waixian", display_name="邻县秘密账户",
                                        password="Qunli-Test-2026!", must_change_password=False)
    ApiToken.objects.create(id=FOREIGN_PK, user=outsider, name="邻县秘密令牌", prefix="qlt_xxxx", key_digest="0" * 64)
    # Owned too: the outsider's inbox row, contact and outbound message (core/notifications.py).
    from qunli.core.notification_models import Notification, NotifyContact, OutboundMessage

    Notification.objects.create(id=FOREIGN_PK, recipient=outsider, kind="assigned", title="邻县秘密通知",
                                url=f"/casework/{FOREIGN_PK}/", obj_type="casework.case", obj_id=str(FOREIGN_PK))
    NotifyContact.objects.create(id=FOREIGN_PK, user=outsider, phone_mask="139****0009", wechat_openid="邻县秘密openid")
    OutboundMessage.objects.create(id=FOREIGN_PK, channel="log", backend="logging", recipient=outsider,
                                   kind="assigned", text="邻县秘密外发", status="logged")

    # Owned, not scoped: that account's import job (interrupted: 重新执行 offered) and finished export
    # (its file on disk) at the foreign uuid; only their owner may see, retry or download them.
    import tempfile

    from qunli.core.models import ExportJob, ImportJob

    ImportJob.objects.create(id=FOREIGN_UUID, kind="persons", user=outsider, file_name="邻县秘密名单.csv",
                             file_path="/nonexistent/邻县秘密名单.csv", file_sm3="0" * 64, status="interrupted",
                             message="邻县秘密任务")
    with tempfile.NamedTemporaryFile("w", suffix=".xlsx", delete=False) as fh:
        fh.write("邻县秘密导出内容")
    ExportJob.objects.create(id=FOREIGN_UUID, kind="persons", user=outsider, status="done", rows=1, unmasked=True,
                             file_path=fh.name, message="邻县秘密导出")


def _foreign_casework(where, person):
    """casework: a case (need-to-know) under 邻县妇联 with its request, timeline, referral,
    served person and consent."""
    from qunli.casework.models import (
        Case,
        CaseEvent,
        Consent,
        Referral,
        Request,
        RequestAttachment,
        RequestType,
        ServedPerson,
    )

    served = ServedPerson.objects.create(id=FOREIGN_PK, person=person, unit=where, categories=["left_behind"],
                                         guardian_name="邻县秘密监护人", school_or_employer="邻县秘密学校")
    req = Request.objects.create(id=FOREIGN_PK, channel="12338", type=RequestType.objects.get(code="domestic_violence"),
                                 unit=where, requester_name_mask="邻县秘密诉求人", tracking_code="LXMMKQ9001",
                                 served_person=served)
    case = Case.objects.create(id=FOREIGN_PK, request=req, served_person=served, unit=where, outcome="邻县秘密结案",
                               acknowledge_due=dt.date(2026, 1, 2), resolve_due=dt.date(2026, 1, 20))
    CaseEvent.objects.create(id=FOREIGN_PK, case=case, step="receive")
    # a citizen's attachment: its download route must find the foreign case out of reach
    RequestAttachment.objects.create(id=FOREIGN_PK, request=req, storage_name="requests/00/x", sm3="0" * 64,
                                     mime="application/pdf", size=1)
    Referral.objects.create(id=FOREIGN_PK, case=case, kind="transfer", from_unit=where,
                            to_unit=Unit.objects.get(pk=FOREIGN_PK), reason="邻县秘密转办",
                            created_by=User.objects.filter(kind="business").first())
    Consent.objects.create(id=FOREIGN_PK, served_person=served, given_on=dt.date(2026, 1, 1), given_by="邻县秘密同意人",
                           scope_text="邻县秘密范围", recorded_by=User.objects.filter(kind="business").first())
    # escalation of the overdue foreign case (casework/escalation.py)
    from qunli.casework.escalation import CaseEscalation

    CaseEscalation.objects.create(id=FOREIGN_PK, case=case, due_date=dt.date(2026, 1, 20),
                                  escalated_on=dt.date(2026, 1, 22))
    # pairing: a pairing (helper = the foreign volunteer), a visit with a photo, a target
    from qunli.casework.models import Pairing, PairingTarget, Visit

    pairing = Pairing.objects.create(id=FOREIGN_PK, helper=person, served=served, kind="help", category="left_behind",
                                     unit=where, started_on=dt.date(2025, 1, 1), served_name_mask="邻县秘密对象",
                                     end_reason="邻县秘密结束原因")
    Visit.objects.create(id=FOREIGN_PK, pairing=pairing, on=dt.date(2025, 2, 1), kind="home",
                         photo_name="pairing/00/邻县秘密照片", photo_mime="image/png", photo_size=1)
    PairingTarget.objects.create(id=FOREIGN_PK, unit=where, year=dt.date.today().year, kind="help",
                                 category="left_behind", target=7)
    # wishes and practical projects (unit-grant scoped): a claimed wish with a donor, a project
    from qunli.casework.models import PracticalProject, Wish

    Wish.objects.create(id=FOREIGN_PK, served=served, unit=where, category="school", text="邻县秘密心愿", amount=50,
                        status="claimed", served_name_mask="邻县秘密对象", public_name="邻*", donor_name="邻县秘密认领人",
                        donor_phone_mask="139****0001", photo_name="pairing/00/邻县秘密照片", photo_mime="image/png")
    PracticalProject.objects.create(id=FOREIGN_PK, unit=where, title="邻县秘密项目", description="邻县秘密内容",
                                    deadline=dt.date(2026, 12, 31))


def _foreign_records(where):
    """records: a fonds of 邻县妇联 with an org code, a retention schedule, a filed item and its file."""
    from qunli.records.models import (
        Category,
        Fonds,
        Item,
        ItemFile,
        OrgCode,
        RetentionRule,
        RetentionSchedule,
    )

    fonds = Fonds.objects.create(id=FOREIGN_PK, code="LX900", name="邻县秘密全宗", unit=where)
    org = OrgCode.objects.create(id=FOREIGN_PK, fonds=fonds, code="BGS", name="邻县秘密办公室")
    schedule = RetentionSchedule.objects.create(id=FOREIGN_PK, unit=where, version=1, effective_on=dt.date(2020, 1, 1),
                                                note="邻县秘密保管期限表")
    RetentionRule.objects.create(id=FOREIGN_PK, schedule=schedule, record_type="邻县秘密类型", retention="Y")
    item = Item.objects.create(id=FOREIGN_PK, fonds=fonds, category=Category.objects.get(code="WS"), year=2024,
                               retention="Y", org_code=org, piece_no=1, archival_code="LX900-WS·2024-Y-BGS-0001",
                               title="邻县秘密文件", responsible="邻县秘密责任者", date=dt.date(2024, 1, 1),
                               pages=1, status="filed")
    ItemFile.objects.create(id=FOREIGN_PK, item=item, name="邻县秘密扫描件.pdf", size=4, mime="application/pdf",
                            sm3="0" * 64, sha256="0" * 64, storage_name="files/00/" + "0" * 64)
    from qunli.records.gaps import PieceGap

    PieceGap.objects.create(id=FOREIGN_PK, fonds=fonds, category=item.category, year=2024, retention="Y", org_code=org,
                            piece_no=2, reason="邻县秘密缺号原因", recorded_by=User.objects.filter(kind="business").first())
    # opening and use: a queued review, a request with an approved line, a reading, a certificate
    from qunli.records.models import Certificate, OpeningReview, ReadingEvent, UseLine, UseRequest

    OpeningReview.objects.create(id=FOREIGN_PK, item=item, due_on=dt.date(2049, 1, 1), reason="邻县秘密鉴定理由")
    staff = User.objects.filter(kind="business").first()
    req = UseRequest.objects.create(id=FOREIGN_PK, code="LXMM900001", fonds=fonds, channel="desk",
                                    reader_name="邻县秘密利用者", purpose="marriage", description="邻县秘密需求",
                                    registered_by=staff)
    line = UseLine.objects.create(id=FOREIGN_PK, request=req, item=item, rule="leader", status="approved",
                                  reason="邻县秘密审批意见", expires_on=dt.date(2099, 1, 1))
    ReadingEvent.objects.create(id=FOREIGN_PK, line=line, page=1, reader_name="邻县秘密利用者", watermark="邻县秘密水印")
    Certificate.objects.create(id=FOREIGN_PK, code="LXMMCERT9001", line=line, archival_code=item.archival_code,
                               reader_mask="邻*", unit_name="邻县秘密出具单位", storage_name="certificates/00/x.pdf",
                               sha256="0" * 64, issued_by=staff)
    _foreign_preservation(fonds, item)
    from qunli.records.file_models import Volume  # capture: a foreign 案卷

    Volume.objects.create(id=FOREIGN_PK, fonds=fonds, archival_code="LX900-AJ-2024-001", title="邻县秘密案卷")
    # 四性检测 and 移交/接收: a batch sent and received inside 邻县, its check run and the custody row
    from qunli.records.models import CheckRun, Custody, TransferBatch, TransferItem

    tbatch = TransferBatch.objects.create(id=FOREIGN_PK, number="YJ-LX900", title="邻县秘密移交批次", fonds=fonds,
                                         fonds_code="LX900", fonds_name="邻县秘密全宗", sender_unit=where,
                                         sender_name="邻县秘密立档单位", receiver=where, status="sent",
                                         package_name="transfers/邻县秘密.zip")
    TransferItem.objects.create(id=FOREIGN_PK, batch=tbatch, item=item, archival_code=item.archival_code)
    CheckRun.objects.create(id=FOREIGN_PK, phase="receipt", unit=where, batch=tbatch, subject="邻县秘密检测",
                            results=[{"code": "1-1", "aspect": "真实性", "name": "邻县秘密", "status": "failed",
                                      "status_label": "不通过", "blocking": True, "checked": 1, "failure_count": 1,
                                      "failures": ["邻县秘密问题"], "warnings": [], "note": ""}])
    Custody.objects.create(id=FOREIGN_PK, item=item, unit=where, batch=tbatch)


def _foreign_preservation(fonds, item):
    """records preservation: a fixity run of the foreign fonds with a problem event, an
    appraisal (拟销毁) and a proposed destruction batch with its entry."""
    from qunli.records.models import (
        Appraisal,
        DestructionBatch,
        DestructionEntry,
        FixityRun,
        PreservationEvent,
    )

    proposer = User.objects.filter(kind="business").first()
    run = FixityRun.objects.create(id=FOREIGN_PK, scope_label="全部", fonds=fonds, mismatch_count=1)
    PreservationEvent.objects.create(id=FOREIGN_PK, item=item, run=run, kind="fixity", outcome="mismatch",
                                     storage_name="files/00/" + "0" * 64, detail="邻县秘密摘要不符")
    appraisal = Appraisal.objects.create(id=FOREIGN_PK, item=item, decision="destroy", reason="邻县秘密鉴定理由",
                                         decided_by=proposer)
    batch = DestructionBatch.objects.create(id=FOREIGN_PK, fonds=fonds, holder=fonds.unit, title="邻县秘密销毁清册",
                                            reason="邻县秘密理由", proposed_by=proposer)
    DestructionEntry.objects.create(id=FOREIGN_PK, batch=batch, item=item, appraisal=appraisal)


@pytest.fixture
def foreign(tree, lines, accounts):
    _foreign_objects(tree, lines)
    return FOREIGN_PK


def scoped_models():
    return [m for m in apps.get_models() if isinstance(getattr(m, "scope", None), ScopeSpec)]


def test_every_scoped_model_has_a_foreign_object(foreign):
    """A new scoped model needs a line in ``_foreign_objects`` so its routes are really tested."""
    missing = [m._meta.label for m in scoped_models() if not m._default_manager.filter(pk=FOREIGN_PK).exists()]
    assert not missing, f"add a foreign object for: {missing}"


def test_foreign_objects_are_outside_every_business_grant(foreign, accounts):
    for name in BUSINESS:
        for model in scoped_models():
            assert not model.objects.visible_to(accounts[name]).filter(pk=FOREIGN_PK).exists(), (name, model)


def test_routes_are_discovered(db):
    templates = {r.template for r in ROUTES}
    assert {"/healthz", "/api/orgs/units/<int:unit_id>", "/api/people/persons", "/core/users/<int:pk>/"} <= templates
    # the staff archives API (records/api.py): every operation's path is in the matrix, and each
    # object it names (fonds, item, check run, batch, use request, use line) has a foreign twin
    assert {"/api/records/fonds", "/api/records/fonds/<int:fonds_id>", "/api/records/fonds/<int:fonds_id>/check",
            "/api/records/items", "/api/records/items/<int:item_id>", "/api/records/items/file",
            "/api/records/checks", "/api/records/checks/<int:run_id>", "/api/records/transfers",
            "/api/records/transfers/<int:batch_id>", "/api/records/transfers/<int:batch_id>/send",
            "/api/records/transfers/<int:batch_id>/withdraw", "/api/records/transfers/<int:batch_id>/check",
            "/api/records/transfers/<int:batch_id>/accept", "/api/records/transfers/<int:batch_id>/return",
            "/api/records/use", "/api/records/use/<int:request_id>", "/api/records/use/lines/<int:line_id>/decision",
            "/api/records/use/lines/<int:line_id>/certificate", "/api/records/use/certificates/<int:cert_id>/pdf",
            "/api/records/holdings"} <= templates
    # the casework API's wishes, projects and referrals (lists, details and every verb) are in
    # the matrix like any route; the foreign Wish, PracticalProject and Referral fill their ids
    assert {"/api/casework/wishes", "/api/casework/wishes/<int:wish_id>", "/api/casework/wishes/<int:wish_id>/fulfil",
            "/api/casework/projects", "/api/casework/projects/<int:project_id>/complete",
            "/api/casework/referrals", "/api/casework/referrals/<int:referral_id>/decline",
            "/api/casework/cases/<int:case_id>/referrals"} <= templates
    # background export jobs (core/job_api.py) and records' print jobs: the foreign ExportJob at
    # FOREIGN_UUID (finished, its file on disk) is another account's, so each must answer 404
    assert {"/api/exports", "/api/jobs", "/api/jobs/<uuidstr:job_id>", "/api/jobs/<uuidstr:job_id>/file",
            "/api/records/fonds/<int:fonds_id>/print-jobs"} <= templates


# --- requests and what an answer contains -----------------------------------------------------------

METHODS_UI = ("get", "post")
METHODS_API = ("get", "post", "put", "patch", "delete")


def _client(user) -> Client:
    c = Client()
    if user is not None:
        c.force_login(user)
    return c


def _send(user, route: Route, method: str, url: str, query: dict | None = None):
    c = _client(user)
    if method == "get":
        return c.get(url, query or {})
    if route.is_api:
        return getattr(c, method)(url, "{}", content_type="application/json")
    return getattr(c, method)(url, {})


def _text(response) -> str:
    if getattr(response, "streaming", False):
        raw = b"".join(response.streaming_content)
    else:
        raw = response.content
    ctype = response.get("Content-Type", "")
    if "spreadsheetml" in ctype or raw[:2] == b"PK":
        import openpyxl

        wb = openpyxl.load_workbook(io.BytesIO(raw), read_only=True)
        return "\n".join(str(v) for ws in wb.worksheets for row in ws.iter_rows(values_only=True)
                         for v in row if v is not None)
    text = raw.decode("utf-8", errors="replace")
    if "json" in ctype:
        try:
            text = json.dumps(json.loads(text), ensure_ascii=False)
        except ValueError:
            pass
    return text


def _leaks(text: str, echoed: str = "") -> list[str]:
    """Foreign names in ``text``; a bare echo of the search term does not count."""
    found = []
    for m in re.finditer(MARKER + r"[^\s\"'<>,，。：:；;、“”（）()\[\]{}]{0,12}", text):
        if m.group(0) != echoed:
            found.append(m.group(0))
    return sorted(set(found))


def _redirects_to_login(response) -> bool:
    return response.status_code == 302 and "/accounts/login/" in response.get("Location", "")


@dataclass
class Report:
    route: Route
    problems: list

    def add(self, who, method, url, response, why):
        self.problems.append(f"{who:>12} {method.upper():6} {url} → {response.status_code}: {why}")


def _check_anonymous(route: Route, report: Report):
    if route.template in PUBLIC:
        return
    for method in METHODS_API if route.is_api else METHODS_UI:
        url = route.url()
        r = _send(None, route, method, url)
        if route.template in ALWAYS_404:
            ok = r.status_code == 404
        else:
            ok = r.status_code in (401, 405) or _redirects_to_login(r)
        if not ok:
            report.add("anonymous", method, url, r, "expected a redirect to login or 401")


def _check_admin(user, route: Route, report: Report):
    kinds = route.admin_kinds
    for method in METHODS_API if route.is_api else METHODS_UI:
        url = route.url()
        r = _send(user, route, method, url)
        if r.status_code >= 500:
            report.add(user.username, method, url, r, "server error")
        elif route.is_business and r.status_code not in (403, 405):
            report.add(user.username, method, url, r, "administrators get 403 on business routes")
        elif kinds is not None and user.kind not in kinds and r.status_code not in (403, 405):
            report.add(user.username, method, url, r, f"screen is for {kinds} only")
        elif route.is_account_route and route.names_object and r.status_code not in NO_DATA:
            report.add(user.username, method, url, r, "another account's object")


def _check_business(user, route: Route, report: Report):
    methods = METHODS_API if route.is_api else METHODS_UI
    if route.admin_kinds is not None:
        for method in methods:
            r = _send(user, route, method, route.url())
            if r.status_code != 403:
                report.add(user.username, method, route.url(), r, "administrator screen: expected 403")
        return
    if route.template in ALWAYS_404 | PUBLIC:
        return
    if route.names_object:
        for method in methods:
            url = route.url()
            r = _send(user, route, method, url)
            ok = r.status_code in NO_DATA
            if r.status_code == 422 and route.is_api:
                baseline = _send(user, route, method, route.url(MISSING_PK))
                ok = baseline.status_code == 422 and baseline.content == r.content.replace(
                    str(FOREIGN_PK).encode(), str(MISSING_PK).encode())
            if not ok:
                report.add(user.username, method, url, r, "foreign object: expected 403 or 404")
            leaked = _leaks(_text(r))
            if leaked:
                report.add(user.username, method, url, r, f"foreign data in answer: {leaked}")
        return
    # A route naming no object (a list, an add form, a dashboard): it may answer, but must
    # not show anything foreign — plain, searched, filtered by foreign ids, or exported.
    url = route.url()
    requests = [("get", {}, ""), ("get", {"q": MARKER}, MARKER), ("get", {"export": "xlsx"}, ""),
                ("get", {"q": MARKER, "export": "xlsx"}, MARKER), ("get", FOREIGN_QUERY, "")]
    requests += [(m, None, "") for m in methods if m != "get"]
    for method, query, echoed in requests:
        r = _send(user, route, method, url, query)
        shown = f"{url}?{'&'.join(f'{k}={v}' for k, v in query.items())}" if query else url
        if r.status_code >= 500:
            report.add(user.username, method, shown, r, "server error")
            continue
        leaked = _leaks(_text(r), echoed)
        if leaked:
            report.add(user.username, method, shown, r, f"foreign data in answer: {leaked}")


@pytest.mark.parametrize("route", ROUTES, ids=[r.name for r in ROUTES])
def test_route(route, foreign, accounts):
    report = Report(route, [])
    _check_anonymous(route, report)
    for name in ADMINS:
        _check_admin(accounts[name], route, report)
    for name in BUSINESS:
        _check_business(accounts[name], route, report)
    assert not report.problems, f"{route.name} ({route.template}):\n" + "\n".join(report.problems)


def test_matrix_would_catch_a_leak(foreign, accounts, tree):
    """The checks themselves work: the foreign name is found in an xlsx and in JSON."""
    import openpyxl
    from django.http import HttpResponse

    wb = openpyxl.Workbook()
    wb.active.append(["名称", "邻县秘密人员"])
    buf = io.BytesIO()
    wb.save(buf)
    xlsx = HttpResponse(buf.getvalue(), content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    assert _leaks(_text(xlsx)) == ["邻县秘密人员"]
    j = HttpResponse(json.dumps({"name": "邻县秘密阵地"}), content_type="application/json")  # \u-escaped
    assert _leaks(_text(j)) == ["邻县秘密阵地"]
    assert _leaks("<input value=\"邻县\">", echoed=MARKER) == []


ARCHIVES_PUBLIC_PREFIXES = ("/portal/catalogue/", "/portal/use/", "/portal/verify/", "/api/public/")


@pytest.mark.parametrize("route", [r for r in ROUTES if r.template in PUBLIC
                                   and r.template.startswith(ARCHIVES_PUBLIC_PREFIXES)],
                         ids=lambda r: r.name)
def test_public_archives_routes_show_nothing_foreign(route, foreign):
    """The public archives routes answer anonymous requests, but the foreign item (filed,
    开放标识 待定), its request, reading and certificate never show: not by id, not searched,
    not exported. (A certificate is shown by its code only, which is no path parameter.)"""
    problems = []
    url = route.url()
    for query, echoed in (({}, ""), ({"q": MARKER}, MARKER), ({"export": "xlsx"}, ""),
                          ({"q": MARKER, "export": "xlsx"}, MARKER), (FOREIGN_QUERY, "")):
        for method in ("get", "post"):
            r = _send(None, route, method, url, query if method == "get" else None)
            if r.status_code >= 500:
                problems.append(f"{method} {url} {query} → {r.status_code}")
            leaked = _leaks(_text(r), echoed)
            if leaked:
                problems.append(f"{method} {url} {query} → {r.status_code}: {leaked}")
            if route.names_object and r.status_code not in NO_DATA:
                problems.append(f"{method} {url} → {r.status_code}: expected 404 for a non-public object")
    assert not problems, "\n".join(problems)
