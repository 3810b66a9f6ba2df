"""The module navigation, built per account kind (三员分立: each administrator sees only
their own tools; business users see business modules)."""

from dataclasses import dataclass

from django.urls import reverse

from .scoping import grants_of, writes_anywhere


@dataclass
class NavItem:
    label: str
    url_name: str
    icon: str
    # a form that enters data, or a work list only a write grant fills (cases waiting for
    # intake, a referral, an escalation up the tree): not offered to a read-only account
    writes: bool = False

    def url(self) -> str:
        return reverse(self.url_name)


BUSINESS = [
    ("工作台", [NavItem("概览", "reports:dashboard", "speedometer2")]),
    ("组织", [
        NavItem("组织树", "orgs:tree", "diagram-3"),
        NavItem("单位", "orgs:unit_list", "building"),
        NavItem("班子成员", "orgs:position_list", "person-badge"),
        NavItem("阵地", "orgs:venue_list", "house-heart"),
    ]),
    ("队伍", [
        NavItem("人员", "people:person_list", "people"),
        NavItem("会员（团员）", "people:membership_list", "person-vcard"),
        NavItem("五老志愿者", "people:volunteer_list", "award"),
        NavItem("队伍", "people:team_list", "people-fill"),
    ]),
    ("档案", [
        NavItem("全宗", "records:fonds_list", "archive"),
        NavItem("待归档", "records:pending_list", "inbox"),
        NavItem("档案条目", "records:item_list", "journal-bookmark"),
        NavItem("固定性检查", "records:fixity", "shield-check"),
        NavItem("到期鉴定", "records:appraisal_list", "hourglass-split"),
        NavItem("销毁清册", "records:destruction_list", "trash3"),
        NavItem("馆藏统计", "records:holdings", "bar-chart-line"),
        NavItem("挂接扫描件", "records:scan_upload", "upload", writes=True),
        NavItem("开放鉴定", "records:opening_queue", "unlock"),
        NavItem("利用登记", "records:use_list", "book"),
        NavItem("利用统计", "records:use_stats", "graph-up"),
        NavItem("移交与接收", "records:transfer_list", "box-arrow-right"),
        NavItem("接收馆藏", "records:received_holdings", "archive-fill"),
        NavItem("四性检测", "records:check_list", "patch-check"),
    ]),
    ("服务群众", [
        NavItem("受理登记", "casework:intake", "telephone-inbound", writes=True),
        NavItem("我的个案", "casework:my_cases", "person-workspace"),
        NavItem("督导个案", "casework:supervised", "person-check"),
        NavItem("待分派", "casework:unassigned", "inboxes", writes=True),
        NavItem("到期与超期", "casework:due", "alarm"),
        NavItem("超期上报", "casework:escalated", "exclamation-octagon", writes=True),
        NavItem("转办/转介收件箱", "casework:referral_inbox", "arrow-left-right", writes=True),
        NavItem("全部个案", "casework:case_list", "folder2-open"),
        NavItem("结对帮扶", "casework:pairing_list", "people"),
        NavItem("走访不足的结对", "casework:pairing_lapsed", "exclamation-triangle"),
        NavItem("结对目标", "casework:pairing_targets", "bullseye"),
        NavItem("微心愿", "casework:wish_list", "gift"),
        NavItem("我为群众办实事", "casework:project_list", "clipboard-check"),
        NavItem("服务群众概览", "casework:dashboard", "bar-chart"),
        NavItem("网上群团通知公告", "portal:notice_list", "megaphone"),
    ]),
    ("数据", [NavItem("导入", "core:import_start", "upload", writes=True)]),
]
dict(BUSINESS)["数据"].append(NavItem("导出", "core:export_start", "download"))  # background export jobs
SYSADMIN = [("系统管理", [NavItem("账户", "core:user_list", "person-gear"),
                       NavItem("条线", "orgs:line_list", "diagram-2"),
                       NavItem("检查标准", "orgs:checklist_list", "list-check"),
                       NavItem("节假日与调休", "casework:holidays", "calendar-week"),
                       NavItem("诉求类型与时限", "casework:request_types", "card-checklist"),
                       NavItem("外发消息", "core:outbound_list", "send"),
                       ])]
SECADMIN = [("安全管理", [NavItem("账户与授权", "core:user_list", "shield-lock")])]
AUDITOR = [("安全审计", [NavItem("变更日志", "core:changelog_list", "journal-text"),
                       NavItem("敏感信息访问", "core:accesslog_list", "eye"),
                       NavItem("登录日志", "core:loginevent_list", "box-arrow-in-right")])]


# lines with no casework: an account granted only these (a 县档案馆) has no case, pairing or wish
NO_CASEWORK_LINES = frozenset({"archives"})


def serves_the_masses(user) -> bool:
    """Whether the 服务群众 module concerns the account: not when every grant is limited to
    lines without casework (the archives' staff and leader saw only empty lists there)."""
    grants = grants_of(user)
    return not grants or any(g.all_lines or not g.line_codes <= NO_CASEWORK_LINES for g in grants)


def menu_for(user, current_path: str):
    groups = {"sysadmin": SYSADMIN, "secadmin": SECADMIN, "auditor": AUDITOR}.get(user.kind, BUSINESS)
    writer = user.kind != "business" or writes_anywhere(user)
    if groups is BUSINESS and not serves_the_masses(user):
        groups = [(title, items) for title, items in groups if title != "服务群众"]
    out = []
    for title, items in groups:
        entries = []
        for item in items:
            if item.writes and not writer:
                continue
            url = item.url()
            entries.append({"label": item.label, "url": url, "icon": item.icon,
                            "active": current_path.startswith(url) and url != "/"})
        out.append({"title": title, "items": entries})
    # only the longest matching entry is active (/casework/ must not light up on /casework/wishes/)
    matched = [e for g in out for e in g["items"] if e["active"]]
    longest = max((len(e["url"]) for e in matched), default=0)
    for e in matched:
        e["active"] = len(e["url"]) == longest
    return out
