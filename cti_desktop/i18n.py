"""UI text in Chinese (default) and English. One table; a missing key is a test failure, not a blank label."""

from __future__ import annotations

from typing import Any

from cti_desktop.qa_text import QA_TEXT

LANGS = ("zh", "en")

TEXT: dict[str, tuple[str, str]] = {
    "app_title": ("热线坐席工作台", "Hotline Agent Desktop"),
    "sign_in_title": ("坐席登录", "Agent sign-in"),
    "agent_id": ("工号", "Agent ID"),
    "password": ("密码", "Password"),
    "server": ("服务器", "Server"),
    "sign_in": ("登录", "Sign in"),
    "sign_out": ("签出", "Sign out"),
    "language": ("English", "中文"),
    "ready": ("就绪", "Ready"),
    "pause": ("小休", "Pause"),
    "state_signed_out": ("未签入队列", "Not in queue"),
    "state_ready": ("就绪", "Ready"),
    "state_paused": ("小休", "Paused"),
    "state_on_call": ("通话中", "On call"),
    "state_wrapup": ("话后整理", "Wrap-up"),
    "wrapup_left": ("话后整理 剩余 {seconds} 秒", "Wrap-up: {seconds} s left"),
    "reason_break": ("休息", "Break"),
    "reason_meal": ("用餐", "Meal"),
    "reason_training": ("培训", "Training"),
    "reason_meeting": ("会议", "Meeting"),
    "reason_other": ("其他", "Other"),
    "reason_wrapup": ("话后整理", "Wrap-up"),
    "reason_desktop_offline": ("工作台离线", "Desktop offline"),
    "online": ("已连接", "Online"),
    "offline": ("离线：正在重新连接服务器…", "Offline: reconnecting to the server…"),
    "connecting": ("正在连接…", "Connecting…"),
    "tab_intake": ("来电受理", "Call intake"),
    "tab_my_cases": ("我的案卷", "My cases"),
    "pop_title": ("来电", "Incoming call"),
    "pop_title_callback": ("回拨", "Callback"),
    "conf_title": ("三方通话", "Three-way call"),
    "conf_number_hint": ("协同单位电话", "Unit's phone number"),
    "conf_start": ("发起三方", "Bring in"),
    "conf_leave": ("退出三方", "Step out"),
    "conf_end": ("结束三方", "End"),
    "conf_members": ("通话中：{members}", "In the call: {members}"),
    "role_citizen": ("市民", "Citizen"),
    "role_agent": ("坐席", "Agent"),
    "role_unit": ("协同单位", "Unit"),
    "pop_idle": ("暂无来电", "No call"),
    "phase_ringing": ("振铃中", "Ringing"),
    "phase_connected": ("通话中", "Connected"),
    "phase_ended": ("已结束", "Ended"),
    "phase_missed": ("未接听", "Missed"),
    "call_id": ("通话编号", "Call ID"),
    "hotline": ("热线", "Hotline"),
    "caller": ("来电号码", "Caller"),
    "waited": ("等待时长", "Waited"),
    "seconds": ("{seconds} 秒", "{seconds} s"),
    "call_time": ("来电时间", "Call time"),
    "category": ("类别", "Category"),
    "request": ("诉求内容", "Request"),
    "address": ("地址", "Address"),
    "urgency": ("紧急程度", "Urgency"),
    "urgency_normal": ("一般", "Normal"),
    "urgency_urgent": ("紧急", "Urgent"),
    "urgency_critical": ("特急", "Critical"),
    "citizen_name": ("诉求人", "Requester"),
    "contact": ("联系电话", "Contact"),
    "lang_field": ("语言", "Language"),
    "lang_zh": ("普通话", "Mandarin"),
    "lang_ug": ("维吾尔语", "Uyghur"),
    "lang_en": ("英语", "English"),
    "handling": ("办理方式", "Handling"),
    "handling_direct": ("直接办理", "Direct"),
    "handling_dispatch": ("转办", "Dispatch"),
    "handling_coordinated": ("归口协办", "Coordinated"),
    "save_case": ("保存案卷", "Save case"),
    "clear_form": ("清空", "Clear"),
    "new_call_waiting": (
        "新来电已到：请先保存或清空当前案卷",
        "A new call is in: save or clear the current case first",
    ),
    "draft_restored": ("已恢复未保存的草稿", "Unsaved draft restored"),
    "case_saved": ("案卷 {number} 已保存", "Case {number} saved"),
    "history_title": ("来电人历史案卷", "Caller's earlier cases"),
    "search": ("搜索", "Search"),
    "search_hint": ("案卷号、内容、地址、电话…", "Number, text, address, phone…"),
    "col_number": ("案卷号", "Number"),
    "col_created": ("受理时间", "Taken"),
    "col_hotline": ("热线", "Hotline"),
    "col_category": ("类别", "Category"),
    "col_request": ("诉求", "Request"),
    "col_status": ("状态", "Status"),
    "col_caller": ("来电号码", "Caller"),
    "status_received": ("已受理", "Received"),
    "status_exchanged": ("已转外部系统", "Exchanged"),
    "status_dispatched": ("已派遣", "Dispatched"),
    "status_in_progress": ("办理中", "In progress"),
    "status_handled": ("已办理", "Handled"),
    "status_closed": ("已办结", "Closed"),
    "status_returned": ("已退回", "Returned"),
    "status_followed_up": ("已回访", "Followed up"),
    "tab_work": ("待办案卷", "Cases to handle"),
    "col_deadline": ("办理时限", "Deadline"),
    "overdue": ("超期", "Overdue"),
    "filter_open": ("全部未办结", "All open"),
    "filter_all": ("全部", "All"),
    "filter_overdue": ("只看超期", "Overdue only"),
    "refresh": ("刷新", "Refresh"),
    "work_pick": ("请在左侧选择一个案卷", "Pick a case on the left"),
    "work_note_hint": ("办理意见、结果或原因…", "Instructions, result or reason…"),
    "work_note_required": ("请先填写意见再{action}", "Write the text first, then {action}"),
    "work_unit": ("派遣单位", "Unit"),
    "work_reached": ("已联系到诉求人", "Citizen reached"),
    "work_solved": ("问题已解决", "Solved"),
    "work_resolution": ("办理结果", "Result"),
    "work_dispatched_to": ("派遣至", "Dispatched to"),
    "work_instructions": ("要求", "Instructions"),
    "work_return_reason": ("退回原因", "Return reason"),
    "work_result": ("办理结果", "Result"),
    "work_leader": ("提请分管领导协调", "Escalated to the city leader"),
    "work_supervision": ("{level}级督办", "Supervision level {level}"),
    "work_not_reached": ("未联系到", "Not reached"),
    "work_review": ("审核", "Review"),
    "work_history": ("办理经过", "History"),
    "work_done": ("案卷 {number}：{action}完成", "Case {number}: {action} done"),
    "share_pending": ("待签收", "Waiting for the unit"),
    "share_accepted": ("办理中", "Being handled"),
    "share_returned": ("已退回", "Returned"),
    "share_handled": ("已办理", "Handled"),
    "share_withdrawn": ("已撤回", "Withdrawn"),
    "satisfaction_satisfied": ("满意", "Satisfied"),
    "satisfaction_basic": ("基本满意", "Basically satisfied"),
    "satisfaction_unsatisfied": ("不满意", "Unsatisfied"),
    "action_dispatch": ("派遣", "Dispatch"),
    "action_accept": ("签收", "Accept"),
    "action_return": ("退回", "Return"),
    "action_handle": ("办理完毕", "Report result"),
    "action_follow_up": ("回访", "Follow up"),
    "action_approve": ("审核通过", "Approve"),
    "action_send_back": ("退回重办", "Send back"),
    "action_supervise": ("督办", "Supervise"),
    "action_escalate_to_leader": ("提请领导协调", "Escalate to leader"),
    "action_resolve_directly": ("直接办结", "Resolve directly"),
    "request_required": ("请填写诉求内容", "Please enter the request"),
    "err_bad_credentials": ("工号或密码错误", "Wrong agent ID or password"),
    "err_too_many_attempts": ("尝试次数过多，请稍后再试", "Too many attempts; try again later"),
    "err_token_expired": ("登录已过期，请重新登录", "Session expired; sign in again"),
    "err_token_invalid": ("登录已失效，请重新登录", "Session ended; sign in again"),
    "err_queue_unavailable": ("呼叫队列暂不可用", "The call queue is unavailable"),
    "err_state_forbidden": ("当前状态下不能这样操作", "Not possible in the current state"),
    "err_not_an_agent": ("您不是队列坐席", "You are not a queue agent"),
    "err_case_not_found": ("案卷不存在或无权查看", "No such case, or not one you may see"),
    "err_case_permission_denied": ("您的角色无权进行此操作", "Your role may not do this"),
    "err_case_transition_forbidden": ("案卷当前状态不允许此操作", "The case's status does not allow this"),
    "err_case_invalid_input": ("填写的内容不符合要求", "A value is missing or not valid"),
    "err_offline": ("未连接服务器", "Not connected to the server"),
    "err_other": ("操作失败：{message}", "Failed: {message}"),
}
TEXT.update(QA_TEXT)


class Tr:
    """The current language and its lookups."""

    def __init__(self, lang: str = "zh") -> None:
        self.lang = lang if lang in LANGS else "zh"

    def __call__(self, key: str, **fmt: Any) -> str:
        pair = TEXT.get(key)
        if pair is None:
            return key
        text = pair[LANGS.index(self.lang)]
        return text.format(**fmt) if fmt else text

    def maybe(self, prefix: str, value: str | None) -> str:
        """The label for an enum value (`urgency_urgent`), or the value itself when there is none."""
        if not value:
            return ""
        key = f"{prefix}_{value}"
        return self(key) if key in TEXT else value

    def error(self, error_id: str, message: str) -> str:
        key = f"err_{error_id}"
        return self(key) if key in TEXT else self("err_other", message=message)
