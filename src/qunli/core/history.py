"""The history tab (修改记录) as a person reads it: the operation in Chinese, who did it by
name, and field by field what changed — 地址：（空） → 新兴乡林台村村委会 — with the model's own
labels and choice names, instead of the change log's raw before/after snapshots.

Referenced rows are named only where the reader could see them anyway: units through
``visible_to``, lines (configuration) always; anything else shows its number."""

import datetime as dt

from django.apps import apps
from django.core.exceptions import FieldDoesNotExist
from django.utils import timezone

from .scoping import VIEW

ACTION_LABELS = {
    "orgs.create_unit": "新增单位", "orgs.update_unit": "修改单位", "orgs.move_unit": "调整隶属",
    "orgs.merged_unit": "合并单位", "orgs.split_unit": "拆分单位", "orgs.dissolved_unit": "撤销单位",
    "orgs.wind_up_unit": "单位变动后的班子与会员处理", "orgs.appoint": "任职", "orgs.end_position": "离任",
    "orgs.set_conditions": "填报基础条件", "orgs.create_venue": "新增阵地", "orgs.record_inspection": "阵地检查",
    "orgs.create_line": "新增条线", "orgs.save_checklist": "保存检查标准",
    "people.register_person": "登记人员", "people.update_person": "修改人员信息", "people.merge_persons": "合并重复人员",
    "people.move_person": "调整登记单位",
    "people.add_membership": "登记会员", "people.set_membership_status": "变更会员状态",
    "people.set_cadre_profile": "填写干部信息", "people.register_volunteer": "登记五老志愿者",
    "people.add_training": "登记培训", "people.add_recognition": "登记表彰", "people.create_team": "新建队伍",
    "people.add_team_member": "增加队伍成员", "people.remove_team_member": "移出队伍成员",
    "records.capture_record": "登记档案", "records.file_items": "归档", "records.renumber_item": "调整件号",
    "records.correct_filed_item": "更正著录", "records.attach_scans": "挂接扫描件", "records.check_run": "四性检测",
    "records.set_file_origin": "更正文件生成方式",
    "records.create_fonds": "建立全宗", "records.add_org_code": "新增机构（问题）代码",
    "records.explain_gaps": "登记缺号说明", "records.withdraw_gap": "撤销缺号说明",
    "records.add_schedule_version": "新增保管期限表版本", "records.set_code_format": "设置档号格式",
    "records.create_transfer": "创建移交批次", "records.send_transfer": "发送移交", "records.withdraw_transfer": "撤回移交",
    "records.receive_package": "接收数据包", "records.return_transfer": "退回移交", "records.accept_transfer": "接收入馆",
    "records.import_transfer": "导入离线数据包", "records.enqueue_opening": "列入开放鉴定",
    "records.requeue_opening": "重新鉴定", "records.decide_opening": "开放鉴定", "records.appraise": "到期鉴定",
    "records.propose_destruction": "提出销毁", "records.decide_destruction": "审批销毁",
    "records.execute_destruction": "执行销毁", "records.register_use": "利用登记", "records.add_use_items": "增加利用条目",
    "records.decide_use": "利用审批", "records.issue_certificate": "出具利用证明", "records.fixity_run": "固定性检查",
    "records.offsite_sync": "异地备份同步", "records.offsite_verify": "异地备份校验", "records.offsite_restore": "异地备份恢复",
    "casework.receive_request": "受理诉求", "casework.open_case": "建立个案",
    "casework.update_served_person": "修改服务对象信息", "casework.add_consent": "登记知情同意",
    "casework.assign_case": "分派个案", "casework.assess": "评估", "casework.submit_plan": "提交服务计划",
    "casework.approve_plan": "批准服务计划", "casework.return_plan": "退回服务计划",
    "casework.record_service": "记录服务", "casework.follow_up": "回访", "casework.close_case": "结案",
    "casework.dismiss": "不予受理", "casework.reopen": "重新开启个案",
    "casework.add_member": "增加个案成员", "casework.remove_member": "移出个案成员",
    "casework.transfer": "转办", "casework.refer": "转介", "casework.accept_referral": "接收转办/转介",
    "casework.decline_referral": "拒收转办/转介", "casework.withdraw_referral": "撤回转办/转介",
    "casework.set_holiday": "设置节假日", "casework.delete_holiday": "删除节假日",
    "casework.seed_holidays": "补充法定节假日", "casework.save_request_type": "保存诉求类型",
    "casework.create_pairing": "建立结对", "casework.log_visit": "登记走访", "casework.end_pairing": "结束结对",
    "casework.set_target": "设置结对目标",
    "casework.collect_wish": "征集微心愿", "casework.edit_wish": "修改微心愿", "casework.approve_wish": "审核通过微心愿",
    "casework.reject_wish": "审核未通过微心愿", "casework.publish_wish": "发布微心愿",
    "casework.unpublish_wish": "撤回微心愿", "casework.claim_wish": "网上认领微心愿",
    "casework.record_claim": "登记认领微心愿", "casework.cancel_claim": "取消认领", "casework.fulfil_wish": "圆梦",
    "casework.create_project": "新建办实事项目", "casework.edit_project": "修改办实事项目",
    "casework.set_project_status": "变更项目状态", "casework.complete_project": "项目完成",
    "casework.publish_project": "公开项目", "casework.unpublish_project": "取消公开项目",
    "portal.create_notice": "新建公告", "portal.update_notice": "修改公告", "portal.publish_notice": "发布公告",
}
# Keys an action adds to its snapshot beside the model's fields.
EXTRA_LABELS = {"reason": "原因", "merged_id": "被合并的档案编号", "purpose": "用途", "note": "说明",
                "file_origin": "文件生成方式", "batch": "批次", "count": "件数", "classes": "类别",
                "files": "电子文件", "items": "条目"}
# Referenced rows the page that shows this history names anyway (an item's 全宗, 门类, 机构代码).
NAMED_ON_THE_PAGE = ("records.fonds", "records.category", "records.orgcode")
# Bookkeeping columns nobody edits: they would only make every row look changed.
NOISE = {"id", "path", "depth", "numchild", "created_at", "updated_at", "seq"}
EMPTY = "（空）"


def action_label(action: str) -> str:
    if action in ACTION_LABELS:
        return ACTION_LABELS[action]
    if action.startswith("core.import_"):
        return "导入"
    return action


def object_type_label(object_type: str) -> str:
    model = _model(object_type)
    return str(model._meta.verbose_name) if model is not None else object_type


def object_type_choices() -> list[tuple[str, str]]:
    """The business and archive models an audit row can be about, by their Chinese names."""
    out = [(m._meta.label_lower, f"{m._meta.verbose_name}（{m._meta.label_lower}）")
           for m in apps.get_models() if m.__module__.startswith("qunli.")]
    return sorted(out, key=lambda c: c[0])


def _model(object_type: str):
    try:
        return apps.get_model(object_type)
    except (LookupError, ValueError):
        return None


def _field(model, key: str):
    if model is None:
        return None
    for name in (key, key.removesuffix("_id")):
        try:
            field = model._meta.get_field(name)
        except FieldDoesNotExist:
            continue
        if hasattr(field, "verbose_name"):  # not a reverse relation (a snapshot's "files")
            return field
    return None


def _names(user, refs: dict) -> dict:
    """{(model label, id): name} for the referenced units (visible ones), lines and accounts
    (staff see each other's names on every page they share)."""
    from qunli.orgs.models import Line, Unit

    from .models import User

    out = {}
    unit_ids = {pk for (label, pk) in refs if label == "orgs.unit"}
    if unit_ids:
        for pk, name in Unit.objects.visible_to(user, VIEW).filter(pk__in=unit_ids).values_list("pk", "name"):
            out[("orgs.unit", pk)] = name
    line_ids = {pk for (label, pk) in refs if label == "orgs.line"}
    for pk, name in Line.objects.filter(pk__in=line_ids).values_list("pk", "name"):
        out[("orgs.line", pk)] = name
    account = User._meta.label_lower
    user_ids = {pk for (label, pk) in refs if label == account}
    for pk, display, username in User.objects.filter(pk__in=user_ids).values_list("pk", "display_name", "username"):
        out[(account, pk)] = display or username
    # an item's 全宗, 门类 and 机构（问题）: named on the item's own page to whoever reads it
    for label in NAMED_ON_THE_PAGE:
        ids = {pk for (lbl, pk) in refs if lbl == label}
        if ids:
            for obj in apps.get_model(label).objects.filter(pk__in=ids):
                out[(label, obj.pk)] = str(obj)
    return out


def _shown(field, value, names) -> str:
    if value is None or value == "":
        return EMPTY
    if isinstance(value, bool):
        return "是" if value else "否"
    if field is not None and field.is_relation and field.related_model is not None and isinstance(value, int):
        return names.get((field.related_model._meta.label_lower, value), f"编号 {value}")
    if field is not None and field.choices:
        return str(dict(field.flatchoices).get(value, value))
    if isinstance(value, str) and len(value) >= 19 and value[10:11] == "T":
        try:
            return timezone.localtime(dt.datetime.fromisoformat(value.replace("Z", "+00:00"))).strftime("%Y-%m-%d %H:%M")
        except ValueError:
            return value
    if isinstance(value, list):  # a batch's parts (classes, files): their number, or the plain values
        return f"{len(value)} 项" if any(isinstance(v, list | dict) for v in value) else "、".join(map(str, value))
    if isinstance(value, dict):
        return "；".join(f"{k}：{v}" for k, v in list(value.items())[:5] if not isinstance(v, list | dict))
    return str(value)


def describe(rows, user) -> list:
    """Each change-log row with ``label`` (the operation), ``who`` (the actor's name) and
    ``changes``: [(field label, before, after)] for the fields that changed (all of them for
    a creation)."""
    rows = list(rows)
    refs = set()
    for row in rows:
        model = _model(row.object_type)
        for snap in (row.before or {}, row.after or {}):
            if not isinstance(snap, dict):
                continue
            for key, value in snap.items():
                field = _field(model, key)
                if field is not None and field.is_relation and field.related_model is not None \
                        and isinstance(value, int):
                    refs.add((field.related_model._meta.label_lower, value))
    names = _names(user, refs)
    for row in rows:
        model = _model(row.object_type)
        before = row.before if isinstance(row.before, dict) else {}
        after = row.after if isinstance(row.after, dict) else {}
        changes = []
        for key in list(dict.fromkeys([*before, *after])):
            if key in NOISE or key.endswith("_hash") or key.endswith("_mask"):
                continue
            old, new = before.get(key), after.get(key)
            if row.before is not None and old == new:
                continue
            if row.before is None and new in (None, "", [], {}):
                continue  # a creation lists what was filled in
            field = _field(model, key)
            label = str(field.verbose_name) if field is not None else EXTRA_LABELS.get(key, key)
            changes.append((label, _shown(field, old, names) if row.before is not None else "", _shown(field, new, names)))
        row.label = action_label(row.action)
        row.who = (row.actor.display_name or row.actor.username) if row.actor_id and row.actor else row.actor_name
        row.changes = changes
    return rows
