"""The demo county's day-to-day work: casework, pairing, wishes, projects, notices and archives.

``demo.generate`` builds the organization tree and the people with bulk inserts; this module
then walks the first county through its work with the real actions (so every state, change-log
row, sealed field and search-index entry is what the product itself writes): cases in every
state of the lifecycle including referrals, pairings with visit logs and a target, wishes from
collection to fulfilment, practical projects, portal notices, and fonds with captured and
filed items. Afterwards the timestamps the actions stamped "now" are spread back over the last
months so lists, due dates and dashboards look like a working office, not one busy minute.

Deterministic for a given seed; about a second on SQLite for the county scale."""

from __future__ import annotations

import datetime as dt
import random
import re
import struct
import zlib

from django.db.models import Q
from django.utils import timezone

WORK_ACCOUNTS = [("shegong", "县妇联社工", "business", "staff", "county", ["women", "ggw", "union"])]

CASE_TEXTS = {
    "wage_dispute": ["在县城工地务工四个月，包工头拖欠工资约2.3万元", "企业停产后未支付最后两个月工资",
                     "务工受伤后用人单位拒绝支付医疗费和工资"],
    "domestic_violence": ["丈夫酒后多次殴打，希望得到庇护和法律帮助", "离婚后前夫持续骚扰，影响孩子上学",
                          "遭受家庭暴力，申请人身安全保护令"],
    "study_aid": ["父母外出务工，孩子考上高中学费有困难", "单亲家庭，孩子大学入学费用不足"],
    "counselling": ["留守儿童性格孤僻，不愿与人交流", "孩子沉迷手机游戏，厌学情绪严重"],
    "mentoring": ["社区矫正青少年需要帮教", "辍学青少年与社会闲散人员来往密切"],
    "legal_aid": ["土地承包纠纷，希望获得法律咨询", "工伤认定遇到困难，请求法律援助"],
    "other": ["希望了解妇女创业贷款政策", "咨询困难职工帮扶申请条件"],
}
OUTCOMES = ["已协调追回欠薪", "已获人身安全保护令并安置", "已落实助学金", "心理状况明显好转", "已联系法律援助中心代理",
            "已转介民政部门落实救助", "诉求已解决，当事人满意"]
WISH_TEXTS = [("school", "想要一个新书包和一套文具", "120"), ("school", "希望有一本新华字典", "40"),
              ("daily", "冬天想要一件厚棉衣", "200"), ("daily", "想要一双新运动鞋", "150"),
              ("education", "想参加暑期绘画兴趣班", "600"), ("medical", "需要一副近视眼镜", "300"),
              ("other", "想要一个篮球", "90"), ("school", "希望有一盏护眼台灯", "80")]
PROJECTS = [("农民工欠薪“清零”行动", "联合人社、住建部门开展欠薪集中排查和调处。", "union"),
            ("留守儿童“希望家园”建设", "在乡镇建设留守儿童活动室，配备图书和心理辅导老师。", "ggw"),
            ("妇女“两癌”免费筛查", "为农村适龄妇女提供宫颈癌、乳腺癌免费筛查。", "women"),
            ("职工法律援助服务站", "在产业园区设立职工法律援助服务站，律师定期坐班。", "union"),
            ("五老宣讲进校园", "组织五老志愿者进中小学开展革命传统宣讲。", "ggw"),
            ("家庭教育指导服务", "在村（社区）开展家庭教育讲座和个别指导。", "women")]
NOTICES = [("网上群团服务平台开通", "群众可在本平台提交维权、帮扶等诉求，并凭查询码跟踪办理进度。"),
           ("12351职工服务热线受理时间", "工作日8:30-17:30人工受理，其余时间可留言，次日回复。"),
           ("微心愿认领倡议", "欢迎爱心人士和单位认领留守儿童微心愿，认领后工作人员将与您联系。"),
           ("寒假留守儿童关爱活动报名", "各乡镇关工委组织寒假关爱活动，家长可到村委会报名。")]
RECORD_TYPES = [("会议纪要", "Y"), ("工作总结", "Y"), ("请示批复", "D30"), ("通知", "D10"), ("个案", "D30")]
RECORD_TITLES = ["关于召开{y}年度全委会的通知", "{y}年工作总结和{n}年工作要点", "关于{y}年度先进集体和个人表彰的决定",
                 "关于开展“关爱留守儿童”专项行动的实施方案", "{y}年第{q}季度主席办公会议纪要", "关于申请专项工作经费的请示",
                 "关于加强基层组织建设的意见", "{y}年度财务收支情况报告"]


def _png(rgb=(200, 60, 60), w=64, h=48) -> bytes:
    """A small solid-colour PNG (a stand-in for the fulfilment photo staff upload)."""
    raw = b"".join(b"\x00" + bytes(rgb) * w for _ in range(h))

    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


class _World:
    def __init__(self, county_pk: int, seed: int):
        from qunli.core.models import User
        from qunli.orgs.models import Unit

        self.r = random.Random(seed * 7919 + 17)
        self.today = timezone.localdate()
        self.county = Unit.objects.get(pk=county_pk)
        self.users = {u.username: u for u in User.objects.filter(
            username__in=["qunban", "gonghui", "fulian", "shegong", "lingdao", "dangan", "guanzhang"])}
        kids = Unit.objects.filter(path__startswith=self.county.path, depth=self.county.depth + 1)
        self.line_unit = {u.line.code: u for u in kids.select_related("line").filter(line__isnull=False)}

    def day(self, days_ago_max: int, days_ago_min: int = 0) -> dt.date:
        return self.today - dt.timedelta(days=self.r.randint(days_ago_min, days_ago_max))

    def when(self, day: dt.date, hour_from=8, hour_to=17) -> dt.datetime:
        t = dt.time(self.r.randint(hour_from, hour_to), self.r.randint(0, 59))
        return timezone.make_aware(dt.datetime.combine(day, t))


def populate(county_pk: int, seed: int, small: bool = False) -> dict:
    """Run the first county's work through the actions. Returns counts for the summary.
    ``small`` (test-sized counties) keeps every state but a third of the volume."""
    w = _World(county_pk, seed)
    w.n_cases, n_children, w.years = (20, 16, 3) if small else (60, 48, 8)
    w.children = _children(w, n_children)
    out = {"children": len(w.children)}
    out["cases"] = _cases(w)
    out["pairings"], out["visits"] = _pairings(w)
    out["wishes"] = _wishes(w)
    out["projects"] = _projects(w)
    out["notices"] = _notices(w)
    out["archive_items"] = _records(w)
    from qunli.casework.escalation import sweep_due  # the daily sweep, once: due/overdue notices, escalations

    out["due_sweep_notices"] = sweep_due(w.today)["notified"]
    return out


# --- casework ----------------------------------------------------------------------------------

SURNAMES = "王李张刘陈杨赵黄周吴徐孙马朱胡郭何罗高林"
GIRLS = ["小雨", "欣怡", "子涵", "梓萱", "诗琪", "雨桐", "佳怡", "思琪"]
BOYS = ["浩然", "宇轩", "俊杰", "家豪", "天佑", "子轩", "博文", "一鸣"]


def _children(w: _World, n: int):
    """The demo population is adults; the people served are mostly children (留守儿童), so
    register some in the county's villages, the way a village clerk would."""
    from qunli.core.identifiers import make_id_number
    from qunli.orgs.models import Level, Unit
    from qunli.people.actions import register_person

    # registered with their village (the geographic node), not with its 团支部 or 工会联合会
    villages = list(Unit.objects.filter(path__startswith=w.county.path, level=Level.VILLAGE, line__isnull=True)
                    .order_by("path")[:20])
    region6 = w.county.division_code[:6]
    out = []
    for i in range(n):
        birth = w.today - dt.timedelta(days=w.r.randint(6 * 365, 15 * 365))
        boy = w.r.random() < 0.5
        out.append(register_person(w.users["qunban"], unit=villages[i % len(villages)],
                                   name=w.r.choice(SURNAMES) + w.r.choice(BOYS if boy else GIRLS),
                                   id_number=make_id_number(region6, birth, 700 + 2 * i + (1 if boy else 0))))
    return out


def _cases(w: _World) -> int:
    from qunli.casework import actions
    from qunli.casework.models import Case, Channel, RequestType

    types = {t.code: t for t in RequestType.objects.all()}
    unit_for = {"wage_dispute": "union", "domestic_violence": "women", "study_aid": "ggw", "counselling": "ggw",
                "mentoring": "ggw", "legal_aid": "women", "other": "women"}
    supervisor_for = {"union": w.users["gonghui"], "women": w.users["fulian"], "ggw": w.users["qunban"]}
    worker = w.users["shegong"]
    channels = [c for c in Channel.values if c != Channel.ONLINE]
    children = w.children[:20]
    # where the lifecycle stops: received … closed (weights give a realistic mix)
    stops = ["received"] * 6 + ["assigned"] * 6 + ["assessed"] * 4 + ["planned"] * 4 + ["in_service"] * 10 + \
        ["follow_up"] * 6 + ["closed"] * 24
    made = 0
    for i in range(w.n_cases):
        code = w.r.choice(list(unit_for))
        line = unit_for[code]
        unit = w.line_unit[line]
        received = w.when(w.day(75, 1))
        person = children[i % len(children)] if code in ("study_aid", "counselling", "mentoring") and children else None
        intake = supervisor_for[line]
        case = actions.receive_request(
            intake, unit=unit, type=types[code], channel=w.r.choice(channels),
            requester_name=w.r.choice("王李张刘陈杨赵黄周吴") + w.r.choice(["秀英", "建国", "桂兰", "志强", "海燕", "明"]),
            requester_phone=f"1{w.r.choice('3589')}{w.r.randint(0, 999999999):09d}",
            description=w.r.choice(CASE_TEXTS[code]), person=person,
            categories=["left_behind"] if person else (), received_at=received)
        stop = w.r.choice(stops)
        supervisor = supervisor_for[line]
        if stop != "received":
            case = actions.assign_case(intake, case, caseworker=worker, supervisor=supervisor)
        if stop in ("assessed", "planned", "in_service", "follow_up", "closed"):
            case = actions.assess(worker, case, note="已电话联系当事人，初步评估需求和风险")
        if stop in ("planned", "in_service", "follow_up", "closed"):
            case = actions.submit_plan(worker, case, note="服务计划：政策咨询、上门走访、链接资源")
        if stop in ("in_service", "follow_up", "closed"):
            case = actions.approve_plan(supervisor, case, note="同意")
            for _ in range(w.r.randint(1, 3)):
                case = actions.record_service(worker, case, visit_type=w.r.choice(["home", "phone", "online"]),
                                              note="按计划提供服务，记录当事人情况变化")
        if stop in ("follow_up", "closed"):
            case = actions.follow_up(worker, case, note="电话回访，当事人反映问题已基本解决")
        if stop == "closed":
            case = actions.close_case(worker, case, outcome=w.r.choice(OUTCOMES), satisfaction=w.r.choice([5, 5, 4, 4, 3]))
        _spread_case_times(w, case, received)
        made += 1
    # a pending 转介 (women → union) and a declined one, so the referral screens have work
    open_cases = list(Case.objects.filter(unit=w.line_unit["women"], status="received").order_by("pk")[:2])
    if open_cases:
        late = actions.refer(w.users["fulian"], open_cases[0], to_unit=w.line_unit["union"], reason="涉及拖欠工资，转工会处理")
        _send_days_ago(w, late, 6)  # left undecided by the union: the sweep reminds, then escalates
    if len(open_cases) > 1:
        ref = actions.refer(w.users["fulian"], open_cases[1], to_unit=w.line_unit["union"], reason="涉及劳动争议")
        actions.decline_referral(w.users["gonghui"], ref, reason="不属于劳动关系，请妇联继续办理")
    return made


def _send_days_ago(w: _World, referral, days: int) -> None:
    """A referral sent ``days`` ago, its 接收时限 counted from then as the action counts it."""
    from qunli.casework.models import CaseEvent, Referral
    from qunli.casework.workdays import add_working_days
    from qunli.core import crypto

    sent = w.today - dt.timedelta(days=days)
    at = timezone.make_aware(dt.datetime.combine(sent, dt.time(10, 30)))
    due = add_working_days(sent, referral.case.request.type.acknowledge_days)
    Referral.objects.filter(pk=referral.pk).update(created_at=at, decide_due=due)
    event = CaseEvent.objects.filter(case=referral.case, step="refer").latest("pk")
    event.at = at
    event.note_enc = crypto.encrypt(f"转介至{referral.to_unit.name}：{referral.reason}；接收时限{due:%Y-%m-%d}")
    event.save(update_fields=["at", "note_enc"])
    from qunli.core.notification_models import Notification

    for n in Notification.objects.filter(kind="referral_received", obj_id=str(referral.case_id)):
        n.title = re.sub(r"请于\d{4}-\d{2}-\d{2}前", f"请于{due:%Y-%m-%d}前", n.title)
        n.created_at = at
        n.save(update_fields=["title", "created_at"])


def _spread_case_times(w: _World, case, received: dt.datetime) -> None:
    """The actions stamped 'now'; a demo office worked over days: spread the steps from the
    day received to (at most) today, acknowledging within a working day most of the time."""
    from qunli.casework.models import Case, CaseEvent

    events = list(CaseEvent.objects.filter(case=case).order_by("pk"))
    now = timezone.now()
    span = (now - received).total_seconds()
    late = w.r.random() < 0.12
    for n, e in enumerate(events):
        if n == 0:
            e.at = received
        elif n == 1:
            e.at = received + dt.timedelta(hours=w.r.randint(30, 80) if late else w.r.randint(1, 20))
        else:
            e.at = received + dt.timedelta(seconds=span * (0.1 + 0.85 * n / len(events)))
        e.at = min(e.at, now)
    CaseEvent.objects.bulk_update(events, ["at"])
    fields = {}
    if case.acknowledged_at and len(events) > 1:
        fields["acknowledged_at"] = events[1].at
    if case.closed_at:
        fields["closed_at"] = events[-1].at
    if case.plan_approved_at:
        fields["plan_approved_at"] = next((e.at for e in events if e.step == "approve_plan"), case.plan_approved_at)
    if fields:
        Case.objects.filter(pk=case.pk).update(**fields)


# --- pairing, wishes, projects, notices -----------------------------------------------------------

def _pairings(w: _World) -> tuple[int, int]:
    from qunli.casework import pairing_actions as pa
    from qunli.people.models import Person

    actor = w.users["qunban"]  # the children are registered in villages, outside the line staff's reach
    unit = w.line_unit["ggw"]
    helpers = list(Person.objects.filter(volunteer__status="active", unit__path__startswith=w.county.path)
                   .order_by("pk")[:25])
    served = w.children
    pa.set_target(actor, unit=unit, year=w.today.year, kind="help", category="left_behind", target=60)
    pairings = visits = 0
    for i, child in enumerate(served[:min(len(served), 2 * len(helpers))]):
        started = w.day(150, 60)
        p = pa.create_pairing(actor, helper=helpers[i % len(helpers)], served=child, kind="help",
                              category="left_behind", unit=unit, started_on=started)
        pairings += 1
        lapsed = i % 6 == 5  # some pairs stopped visiting: the lapse rule flags them
        day = started
        while True:
            day += dt.timedelta(days=w.r.randint(12, 35))
            if day > w.today or (lapsed and day > w.today - dt.timedelta(days=50)):
                break
            pa.log_visit(actor, p, on=day, kind=w.r.choice(["home", "home", "phone"]),
                         notes="了解学习和生活情况，辅导作业，与监护人沟通")
            visits += 1
    return pairings, visits


def _wishes(w: _World) -> int:
    from qunli.casework import wish_actions as wa
    from qunli.casework.models import ServedPerson
    from qunli.portal.actions import portal_account

    actor = w.users["qunban"]
    unit = w.line_unit["ggw"]
    served = list(ServedPerson.objects.filter(unit__path__startswith=w.county.path).order_by("pk")[:16])
    donor = portal_account()
    stops = ["pending", "published", "published", "published", "claimed", "fulfilled", "fulfilled", "rejected"]
    for i, sp in enumerate(served):
        category, text, amount = WISH_TEXTS[i % len(WISH_TEXTS)]
        wish = wa.collect_wish(actor, served=sp, unit=unit, category=category, text=text, amount=amount)
        stop = stops[i % len(stops)]
        if stop == "pending":
            continue
        if stop == "rejected":
            wa.reject_wish(w.users["shegong"], wish, reason="同一对象本学期已有心愿")
            continue
        # four-eyes: the county social worker reviews what the 群团办 registered
        wish = wa.publish_wish(w.users["qunban"], wa.approve_wish(w.users["shegong"], wish))
        if stop in ("claimed", "fulfilled"):
            wish = wa.claim_wish(donor, wish.pk, name=w.r.choice(["县农商银行团支部", "爱心人士周女士", "县一中教师"]),
                                 phone=f"139{w.r.randint(0, 99999999):08d}")
        if stop == "fulfilled":
            wa.fulfil_wish(actor, wish, photo=("圆梦.png", _png((w.r.randint(0, 255), 120, 90))))
    return len(served)


def _projects(w: _World) -> int:
    from qunli.casework import wish_actions as wa
    from qunli.casework.models import PracticalProject

    for i, (title, description, line) in enumerate(PROJECTS):
        actor = {"union": w.users["gonghui"], "women": w.users["fulian"], "ggw": w.users["shegong"]}[line]
        deadline = w.today + dt.timedelta(days=30 * (i - 1))
        p = wa.create_project(actor, unit=w.line_unit[line], title=title, description=description,
                              deadline=max(deadline, w.today))
        if i % 3 != 2:
            p = wa.set_project_status(actor, p, status="in_progress")
        if i == 4:
            p = wa.set_project_status(actor, p, status="delayed", deadline=deadline + dt.timedelta(days=60),
                                      reason="部分学校期中考试，宣讲顺延到下学期开学")
        if i == 0:
            p = wa.complete_project(actor, p, result="排查企业126家，追回欠薪312万元，惠及农民工487人")
            # set up months ago, with a deadline that has passed since (creation refuses a past one)
            set_up = timezone.make_aware(dt.datetime.combine(w.today - dt.timedelta(days=135), dt.time(9, 30)))
            PracticalProject.objects.filter(pk=p.pk).update(deadline=deadline, created_at=set_up)
        wa.publish_project(actor, p)
    return len(PROJECTS)


def _notices(w: _World) -> int:
    from qunli.portal.actions import create_notice, publish_notice

    for title, body in NOTICES:
        publish_notice(w.users["qunban"], create_notice(w.users["qunban"], unit=w.line_unit["party"], title=title,
                                                       body=body))
    return len(NOTICES)


# --- archives ------------------------------------------------------------------------------------

def _records(w: _World) -> int:
    from qunli.records import actions as ra
    from qunli.records.models import Item

    actor = w.users["qunban"]
    made = []
    for n, line in enumerate(("women", "union", "ggw")):
        unit = w.line_unit[line]
        fonds = ra.create_fonds(actor, unit=unit, code=f"Q{unit.pk % 1000:03d}{n}", name=unit.name)
        ra.add_org_code(actor, fonds, code="BGS", name="办公室")
        ra.add_org_code(actor, fonds, code="QYB", name="权益部")
        ra.add_schedule_version(actor, unit, effective_on=dt.date(2015, 1, 1), rules=RECORD_TYPES)
        for year in range(w.today.year - w.years + 1, w.today.year + 1):
            for k in range(w.r.randint(2, 5)):
                record_type, _ = w.r.choice(RECORD_TYPES[:4])
                date = dt.date(year, w.r.randint(1, 12 if year < w.today.year else w.today.month), w.r.randint(1, 28))
                title = w.r.choice(RECORD_TITLES).format(y=year, n=year + 1, q=w.r.randint(1, 4))
                item = ra.capture_record(actor, unit=unit, title=title, responsible=unit.name, date=date,
                                         doc_no=f"{unit.name[:2]}发〔{year}〕{k + 1}号", record_type=record_type,
                                         org_code=w.r.choice(["BGS", "QYB"]), pages=w.r.randint(1, 12))
                item.to_open = year < w.today.year - 1 and k % 2 == 0
                made.append(item)
    # the 妇联's paper records of the late 1990s, catalogued: past 25 years, due for opening review;
    # those of 1996–1997 already scanned (the readers at the desk read them online, watermarked)
    women = w.line_unit["women"]
    for year in range(1996, 2001):
        for k in range(3):
            title = w.r.choice(RECORD_TITLES).format(y=year, n=year + 1, q=k + 1)
            date, doc_no, pages = dt.date(year, 3 + 3 * k, 10 + k), f"妇发〔{year}〕{k + 1}号", w.r.randint(2, 5)
            scans = [(f"{doc_no}.pdf", _scan_pdf(title, doc_no, women.name, date, pages))] if year <= 1997 else []
            made.append(ra.capture_record(
                actor, unit=women, title=title, responsible=women.name, date=date, doc_no=doc_no, retention="Y",
                org_code="BGS", pages=pages, note="纸质档案，目录著录", files=scans, file_origin="scan"))
    # notices kept ten years (D10) from 2012 and 2014: expired, due for 到期鉴定 — the 妇联's by
    # the archives after the transfer below, the 总工会's at home
    for unit in (women, w.line_unit["union"]):
        for year in (2012, 2014):
            made.append(ra.capture_record(
                actor, unit=unit, title=f"关于做好{year}年春节走访慰问工作的通知", responsible=unit.name,
                date=dt.date(year, 1, 8), doc_no=f"{unit.name[:2]}发〔{year}〕1号", retention="D10", org_code="BGS",
                pages=2))
    # everything but this year's last few is filed, as an office that files each spring would
    to_file = [i.pk for i in made if i.year < w.today.year]
    ra.file_items(actor, to_file)
    # work reports and notices opened early (重新鉴定 → 开放鉴定), so the public catalogue has content
    from qunli.records import opening

    reviews = [opening.requeue(actor, i, reason="工作性文件，无不宜开放内容，提前开放").pk
               for i in Item.objects.filter(pk__in=[i.pk for i in made if getattr(i, "to_open", False)])]
    if reviews:
        opening.decide_opening(actor, reviews, decision="open",
                               reason="经鉴定无不宜开放内容，同意开放")
    _archives_side(w, made)
    return Item.objects.filter(Q(pk__in=[i.pk for i in made])).count()


def _scan_pdf(title: str, doc_no: str, responsible: str, date: dt.date, pages: int) -> bytes:
    """A stand-in for the scan of a paper document: its pages with the heading and text a
    reader would see, so full-text search and the watermarked reading room have content."""
    import weasyprint
    from django.utils.html import escape

    body = "".join(
        f'<section><p class="no">{escape(doc_no)}</p><h1>{escape(title)}</h1>'
        f"<p>各乡镇妇联、县直各单位妇委会：</p><p>现将{escape(title.removeprefix('关于'))}有关事项通知如下，"
        f"请结合实际认真贯彻落实。（第{p}页，共{pages}页）</p>"
        f'<p class="sign">{escape(responsible)}<br>{date.year}年{date.month}月{date.day}日</p></section>'
        for p in range(1, pages + 1))
    css = ("@page { size: A4; margin: 30mm 25mm; } body { font-family: 'Noto Serif CJK SC', serif; font-size: 14pt;"
           " line-height: 2; } section { page-break-after: always; } h1 { text-align: center; font-size: 20pt; }"
           " .no { text-align: center; } .sign { text-align: right; margin-top: 4em; }")
    return weasyprint.HTML(string=f'<html lang="zh-CN"><style>{css}</style><body>{body}</body></html>').write_pdf()


def _archives_side(w: _World, made) -> None:
    """The county archives (县档案馆, account dangan): the 妇联's records up to three years
    ago transferred, checked on receipt and accepted into its custody; the 总工会's last
    year's records sent and waiting for the receipt check; readers registered at the desk."""
    from qunli.records import opening, transfer, use
    from qunli.records.access_models import Purpose
    from qunli.records.models import Item

    archives, archivist = w.line_unit.get("archives"), w.users.get("dangan")
    if archives is None or archivist is None:
        return
    filed = Item.objects.filter(pk__in=[i.pk for i in made], status=Item.Status.FILED).select_related("fonds")
    women_fonds = next(i.fonds for i in filed if i.fonds.unit_id == w.line_unit["women"].pk)
    old = [i.pk for i in filed if i.fonds_id == women_fonds.pk and i.year <= w.today.year - 3]
    batch = transfer.create_transfer(w.users["fulian"], women_fonds, receiver=archives, item_ids=old,
                                     title=f"{women_fonds.name}{w.today.year - 3}年及以前档案移交")
    transfer.send_transfer(w.users["fulian"], batch)
    transfer.check_receipt(archivist, batch)
    transfer.accept_transfer(archivist, batch)
    union = w.line_unit["union"]
    last_year = [i.pk for i in filed if i.fonds.unit_id == union.pk and i.year == w.today.year - 1]
    if last_year:
        union_fonds = next(i.fonds for i in filed if i.fonds.unit_id == union.pk)
        transfer.send_transfer(w.users["gonghui"], transfer.create_transfer(
            w.users["gonghui"], union_fonds, receiver=archives, item_ids=last_year,
            title=f"{union_fonds.name}{w.today.year - 1}年度档案移交"))
    held = list(Item.objects.filter(pk__in=old).order_by("year", "pk"))
    readers = [("李桂兰", Purpose.MARRIAGE, "查阅本人1998年婚姻登记相关证明材料", ""),
               ("王建国", Purpose.MODEL_WORKER, "核实劳模评选表彰文件", ""),
               ("陈明", Purpose.RESEARCH, "编修县志妇女工作篇，查阅历年工作总结", "县志办")]
    requests = [use.register_use(archivist, fonds=women_fonds, reader_name=reader, purpose=purpose,
                                 description=description, phone=f"1390731{n:04d}", items=held[n * 2:n * 2 + 2],
                                 organization=organization)
                for n, (reader, purpose, description, organization) in enumerate(readers)]
    approver = w.users.get("guanzhang") or w.users["lingdao"]  # the archives' own leader
    for line in requests[0].lines.all():  # the leader has approved the first reader's items
        use.decide_line(approver, line, approve=True, reason="同意查阅，限本人婚姻登记事项")
    opening.enqueue_due(archivist, women_fonds)  # the archives holding the late-1990s records queues them
