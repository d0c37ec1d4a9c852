"""UI text in Chinese (default) and English. One table; a missing key is a test failure, not a blank label."""

from __future__ import annotations

from datetime import datetime, tzinfo
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
    "pause_after_call": ("通话结束后小休（{reason}）", "Pause after this call ({reason})"),
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
    "phone_title": ("电话", "Phone"),
    "phone_none": ("无电话（本次登录没有软电话账号）", "No phone (this sign-in has no softphone account)"),
    "phone_reg_none": ("未注册 {aor}", "Not registered {aor}"),
    "phone_reg_registering": ("正在注册 {aor}…", "Registering {aor}…"),
    "phone_reg_registered": ("已注册 {aor}", "Registered {aor}"),
    "phone_reg_failed": ("注册失败 {aor}：{reason}", "Registration failed {aor}: {reason}"),
    "phone_process": ("电话程序：{state}", "Phone program: {state}"),
    "phone_proc_stopped": ("已停止", "stopped"),
    "phone_proc_starting": ("正在启动", "starting"),
    "phone_proc_running": ("运行中", "running"),
    "phone_proc_crashed": ("已停止，正在重启", "ended, restarting"),
    "phone_down": ("电话程序已停止，正在重启…", "Phone stopped, restarting…"),
    "phone_start_failed": ("电话程序无法启动：{reason}", "The phone program did not start: {reason}"),
    "phone_idle": ("空闲", "Idle"),
    "phone_ringing": ("来电 {number}", "Incoming call {number}"),
    "phone_dialling": ("正在呼叫 {number}", "Calling {number}"),
    "phone_connected": ("通话中 {number}  {time}", "Connected {number}  {time}"),
    "phone_held": ("保持中 {number}  {time}", "On hold {number}  {time}"),
    "phone_muted": ("（已静音）", "(muted)"),
    "phone_answer": ("接听", "Answer"),
    "phone_hangup": ("挂断", "Hang up"),
    "phone_hold": ("保持", "Hold"),
    "phone_resume": ("恢复", "Resume"),
    "phone_mute": ("静音", "Mute"),
    "phone_keypad": ("拨号盘", "Keypad"),
    "phone_auto_answer": ("自动接听", "Auto-answer"),
    "phone_speaker": ("耳机", "Headset"),
    "phone_microphone": ("麦克风", "Microphone"),
    "phone_default_device": ("系统默认", "System default"),
    "phone_refused": ("电话：{message}", "Phone: {message}"),
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
    "request_type": ("诉求类型", "Request type"),
    "request_type_consultation": ("咨询", "Consultation"),
    "request_type_help": ("求助", "Help"),
    "request_type_complaint": ("投诉", "Complaint"),
    "request_type_report": ("举报", "Report"),
    "request_type_suggestion": ("建议", "Suggestion"),
    "request_type_praise": ("表扬", "Praise"),
    "classification": ("诉求分类", "Classification"),
    "confidential": ("保密工单", "Confidential"),
    "confidential_hint": (
        "市民要求保密：姓名和电话对承办单位隐藏",
        "At the citizen's request: name, phone hidden from units",
    ),
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
    "status_merged": ("已并单", "Merged"),
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
    "action_forward": ("重新转交", "Forward again"),
    "exchange_refused": ("⚠ 对方系统拒收", "⚠ Refused by receiver"),
    "work_exchange_refused": (
        "对方系统拒收，案卷已退回中心：{message}",
        "Refused by the hotline's own system; the case is back with the centre: {message}",
    ),
    "work_exchange_refused_hint": (
        "在意见框补充地址后点“重新转交”，或直接办结。",
        "Enter the address in the note box and forward it again, or resolve it directly.",
    ),
    "alert_exchange_refused": (
        "⚠ 案卷 {number} 被对方系统拒收（{errors}），已退回中心待办",
        "⚠ Case {number} was refused by the hotline's own system ({errors}); it is back on the centre's list",
    ),
    "exchange_stalled": ("⚠ 未送达对方系统", "⚠ Not reaching receiver"),
    "work_exchange_stalled": (
        "案卷多次未能送达对方系统，仍在自动重试：{message}",
        "The case keeps failing to reach the hotline's own system and is still being retried: {message}",
    ),
    "alert_exchange_stalled": (
        "⚠ 案卷 {number} 已连续 {attempts} 次未能送达对方系统（{error}），仍在重试",
        "⚠ Case {number} has not reached the hotline's own system in {attempts} tries ({error}); still retrying",
    ),
    "alert_case_dispatched": (
        "✉ 新派单：案卷 {number}，办理时限 {deadline}",
        "✉ New dispatch: case {number}, due {deadline}",
    ),
    "alert_case_supervised": ("⚠ 督办：案卷 {number}（{level} 级）", "⚠ Supervision: case {number} (level {level})"),
    "alert_case_deadline": (
        "⚠ 案卷 {number} 即将到期（{deadline}）",
        "⚠ Case {number} is nearly due ({deadline})",
    ),
    "err_case_exchange_requires": ("对方系统要求填写：{field}", "The hotline's own system requires: {field}"),
    "field_attribute": ("{code}（{requirement}）", "{code} ({requirement})"),
    "request_required": ("请填写诉求内容", "Please enter the request"),
    "err_bad_credentials": ("工号或密码错误", "Wrong agent ID or password"),
    "err_too_many_attempts": ("尝试次数过多，请稍后再试", "Too many attempts; try again later"),
    "err_token_expired": ("登录已过期，请重新登录", "Session expired; sign in again"),
    "err_token_invalid": ("登录已失效，请重新登录", "Session ended; sign in again"),
    "err_password_changed": ("密码已更改，请用新密码重新登录", "Your password was changed; sign in with the new one"),
    "err_disabled": ("账号已停用，请联系管理员", "Your account was disabled; ask an administrator"),
    "err_signed_out_everywhere": ("已在所有位置退出登录，请重新登录", "You were signed out everywhere; sign in again"),
    "err_expired": ("登录已过期，请重新登录", "Your session has expired; sign in again"),
    "err_queue_unavailable": ("呼叫队列暂不可用", "The call queue is unavailable"),
    "err_state_forbidden": ("当前状态下不能这样操作", "Not possible in the current state"),
    "err_not_an_agent": ("您不是队列坐席", "You are not a queue agent"),
    "err_case_not_found": ("案卷不存在或无权查看", "No such case, or not one you may see"),
    "err_case_permission_denied": ("您的角色无权进行此操作", "Your role may not do this"),
    "err_case_transition_forbidden": ("案卷当前状态不允许此操作", "The case's status does not allow this"),
    "err_case_invalid_input": ("填写的内容不符合要求", "A value is missing or not valid"),
    "err_offline": ("未连接服务器", "Not connected to the server"),
    "err_other": ("操作失败：{message}", "Failed: {message}"),
    "tab_wallboard": ("班长监控", "Wallboard"),
    "wb_all": ("全部热线（队列 {queue}）", "All hotlines (queue {queue})"),
    "wb_waiting_longest": ("排队中 · 最长等待 {longest}", "waiting · longest {longest}"),
    "wb_service_level": ("服务水平", "Service level"),
    "wb_level_tip": (
        "{seconds} 秒内接听的比例，目标 {target}%",
        "Answered within {seconds} s; target {target}%",
    ),
    "wb_tile_lines": (
        "接听 {answered} · 放弃 {abandoned} · 通话中 {talking}\n平均等待 {wait} · 平均通话 {talk}",
        "answered {answered} · abandoned {abandoned} · talking {talking}\navg wait {wait} · avg talk {talk}",
    ),
    "wb_col_id": ("工号", "Agent"),
    "wb_col_name": ("姓名", "Name"),
    "wb_col_state": ("状态", "State"),
    "wb_col_reason": ("小休原因", "Pause reason"),
    "wb_col_for": ("持续", "For"),
    "wb_col_call": ("当前通话", "Current call"),
    "wb_col_answered": ("今日接听", "Answered today"),
    "wb_col_avg_talk": ("平均通话", "Avg talk"),
    "wb_chart_title": ("今日来电（每15分钟，按热线）", "Calls per 15 minutes today, by hotline"),
    "wb_pause": ("置为小休", "Pause"),
    "wb_resume": ("恢复就绪", "Resume"),
    "wb_phone_hint": ("班长话机号码", "Your phone number"),
    "wb_listen": ("监听", "Listen"),
    "wb_whisper": ("耳语", "Whisper"),
    "wb_barge": ("强插", "Barge in"),
    "wb_pick_agent": ("请选择坐席", "Pick an agent"),
    "wb_waiting_for_data": ("正在接收监控数据…", "Waiting for the wallboard…"),
    "wb_updated": ("{seconds} 秒前更新", "updated {seconds} s ago"),
    "wb_health_degraded": ("⚠ 电话系统性能下降", "⚠ Telephony degraded"),
    "wb_health_down": ("⛔ 电话系统不可用", "⛔ Telephony down"),
    "wb_health_unknown": ("电话系统状态未知", "Telephony state not known yet"),
    "alarm_recordings_disk_low": (
        "录音磁盘空间不足：{path} 剩余 {free}（{percent}%）",
        "Recordings disk low: {path} has {free} free ({percent} %)",
    ),
    "alarm_recordings_disk_full": (
        "录音磁盘已满：{path} 剩余 {free}，新的通话录音将失败",
        "Recordings disk full: {path} has {free} free; new recordings fail",
    ),
    "alarm_recordings_disk_unavailable": ("无法检测录音磁盘：{path}", "Recordings disk cannot be measured: {path}"),
    "alarm_recordings_disk_ok": (
        "录音磁盘空间已恢复：{path} 剩余 {free}（{percent}%）",
        "Recordings disk has room again: {path} has {free} free ({percent} %)",
    ),
    "alarm_recording_failed": (
        "通话 {call_id}（{hotline}）录音失败：{reason}",
        "The recording of call {call_id} ({hotline}) failed: {reason}",
    ),
    "alarm_recordings_failed": (
        "最近 {seconds} 秒内又有 {count} 个通话录音失败（热线 {hotlines}）",
        "{count} more recordings failed in the last {seconds} s (hotlines {hotlines})",
    ),
    "wb_done_pause": ("坐席 {agent} 已置为小休", "Agent {agent} paused"),
    "wb_done_resume": ("坐席 {agent} 已恢复就绪", "Agent {agent} ready again"),
    "wb_done_pause_after": ("坐席 {agent} 将在本次通话结束后小休", "Agent {agent} will be paused when this call ends"),
    "wb_done_pause_cancelled": ("已取消坐席 {agent} 通话后的小休", "Agent {agent}'s pause after the call cancelled"),
    "wb_done_listen": ("正在呼叫您的话机以监听坐席 {agent}", "Calling your phone to listen to {agent}"),
    "wb_done_whisper": ("正在呼叫您的话机以向坐席 {agent} 耳语", "Calling your phone to whisper to {agent}"),
    "wb_done_barge": ("正在呼叫您的话机以强插坐席 {agent} 的通话", "Calling your phone to barge into {agent}'s call"),
    "err_not_a_supervisor": ("只有班长可以这样操作", "Only supervisors may do this"),
    "err_unknown_agent": ("没有这个坐席", "No such agent"),
    "err_agent_signed_out": ("该坐席未签入队列", "The agent is not in the queue"),
    "err_agent_not_on_call": ("该坐席当前没有通话", "The agent is not on a call"),
    "err_spy_unavailable": ("暂时无法监听", "Listening is not available"),
    "err_invalid_number": ("号码无效", "Not a valid number"),
    "pop_title_transfer": ("转接来电", "Transferred call"),
    "xfer_title": ("转接", "Transfer"),
    "xfer_to_agent": ("转坐席", "To agent"),
    "xfer_to_number": ("转单位号码", "To a unit's number"),
    "xfer_target_hint": ("坐席工号或单位电话", "Agent ID or unit's number"),
    "xfer_blind": ("直接转接", "Blind"),
    "xfer_attended": ("咨询转接", "Attended"),
    "xfer_complete": ("完成转接", "Complete"),
    "xfer_cancel": ("取消转接", "Cancel"),
    "xfer_state_ringing": ("正在呼叫 {target}…", "Calling {target}…"),
    "xfer_state_answered": ("{target} 已接听：可完成或取消转接", "{target} answered: complete or cancel"),
    "xfer_state_completed": ("已转接给 {target}", "Transferred to {target}"),
    "xfer_state_cancelled": ("已取消转接，通话回到您", "Transfer cancelled; the citizen is back with you"),
    "xfer_state_failed": ("{target} 未接通", "{target} did not answer"),
    "xfer_kind_blind": ("直接", "Blind"),
    "xfer_kind_attended": ("咨询", "Attended"),
    "xfer_from": ("由坐席 {agent} {kind}转接而来", "{kind} transfer from agent {agent}"),
    "xfer_came_back": ("转接 {target} 未接通，来电回到您", "{target} did not answer; the call comes back to you"),
    "xfer_cases": (
        "本通话已受理案卷：{numbers}（请继续办理）",
        "Cases already taken on this call: {numbers} (continue them)",
    ),
    "work_transfer": ("{kind}转接：坐席 {agent} → {target}", "{kind} transfer: agent {agent} → {target}"),
    "xfer_result_ringing": ("呼叫中", "calling"),
    "xfer_result_answered": ("已接听", "answered"),
    "xfer_result_completed": ("已完成", "completed"),
    "xfer_result_cancelled": ("已取消", "cancelled"),
    "xfer_result_failed": ("未接通", "not answered"),
    "err_agent_not_ready": ("该坐席未就绪，不能转接", "That agent is not ready for a call"),
    "err_transfer_target_invalid": ("转接目标无效", "Not a valid transfer target"),
    "err_call_not_yours": ("这不是您的通话", "This is not your call"),
    "err_call_not_connected": ("通话尚未接通", "The call is not connected"),
    "err_transfer_in_progress": ("正在转接中", "A transfer is already under way"),
    "err_transfer_not_answered": ("对方尚未接听", "The target has not answered yet"),
    "err_transfer_failed": ("转接失败", "The transfer failed"),
    "err_no_transfer": ("没有进行中的咨询转接", "No attended transfer under way"),
    "err_call_in_conference": ("请先结束三方通话", "End the three-way call first"),
    "att_title": ("附件", "Attachments"),
    "att_add": ("添加…", "Add…"),
    "att_add_tip": (
        "照片、录音或 PDF，每个文件不超过 {limit}（工作台连接的上限）",
        "A photo, recording or PDF of at most {limit} (the desktop link's limit)",
    ),
    "att_add_title": ("选择要添加的文件", "Choose a file to attach"),
    "att_add_filter": (
        "照片、录音、PDF (*.jpg *.jpeg *.png *.webp *.heic *.wav *.mp3 *.ogg *.amr *.pdf);;所有文件 (*)",
        "Photos, recordings, PDF (*.jpg *.jpeg *.png *.webp *.heic *.wav *.mp3 *.ogg *.amr *.pdf);;All files (*)",
    ),
    "att_open": ("打开", "Open"),
    "att_save": ("另存为…", "Save as…"),
    "att_save_title": ("附件另存为", "Save the attachment as"),
    "att_col_name": ("文件名", "Name"),
    "att_col_type": ("类型", "Type"),
    "att_col_size": ("大小", "Size"),
    "att_col_by": ("上传人", "Added by"),
    "att_col_at": ("上传时间", "Added"),
    "att_col_on": ("所属", "On"),
    "att_on_case": ("工单", "The case"),
    "att_on_result": ("{unit} 的办理结果", "{unit}'s result"),
    "att_removed": ("文件已于 {at} 按保存期限删除", "The file was removed by retention at {at}"),
    "att_link_limit": (
        "“{name}” 有 {size}，超过工作台连接每个文件 {limit} 的上限，未发送",
        "“{name}” is {size}, over the desktop link's {limit} per file; not sent",
    ),
    "att_unreadable": ("无法读取 “{name}”：{error}", "Cannot read “{name}”: {error}"),
    "att_unwritable": ("无法写入 {name}：{error}", "Cannot write {name}: {error}"),
    "att_sending": ("正在发送 “{name}”…", "Sending “{name}”…"),
    "att_added": ("已添加 “{name}”（{mime}）", "Added “{name}” ({mime})"),
    "att_saved": ("已保存到 {name}", "Saved to {name}"),
    "att_corrupt": ("“{name}” 下载不完整，请重试", "“{name}” did not arrive whole; try again"),
    "att_no_preview": (
        "无法预览 {mime} 类型的照片，请另存为后查看",
        "A {mime} photo cannot be previewed here; save it",
    ),
    "err_attachment_type_refused": (
        "文件类型不允许：内容实际是 {mime}（只接受照片、录音和 PDF，与文件名无关）",
        "File type refused: its content is {mime} (only photos, recordings and PDF, whatever the name says)",
    ),
    "err_attachment_too_large": (
        "文件太大：{size}，上限 {limit}",
        "File too large: {size}, the limit is {limit}",
    ),
    "err_attachment_not_found": ("附件不存在或无权查看", "No such attachment, or not one you may see"),
    "err_attachment_removed": ("附件文件已按保存期限删除", "The attachment's file was removed by retention"),
    "err_case_follow_up_unsatisfied": (
        "回访不满意的工单不能审核通过，请发回重办",
        "The citizen was unsatisfied at the follow-up: send the case back instead of approving it",
    ),
    "rating_very_satisfied": ("非常满意", "Very satisfied"),
    "rating_satisfied": ("满意", "Satisfied"),
    "rating_basically_satisfied": ("基本满意", "Basically satisfied"),
    "rating_unsatisfied": ("不满意", "Unsatisfied"),
    "rating_very_unsatisfied": ("非常不满意", "Very unsatisfied"),
    "channel_phone": ("电话回访", "By phone"),
    "channel_sms": ("短信回访", "By SMS"),
    "fu_rating": ("评价", "Rating"),
    "fu_channel": ("方式", "Channel"),
    "fu_notes_hint": ("回访记录（可选）", "Follow-up notes (optional)"),
    "fu_save": ("保存回访", "Save follow-up"),
    "fu_saved": ("工单 {number} 回访已保存：{rating}", "Case {number} followed up: {rating}"),
    "fu_saved_not_reached": ("工单 {number} 回访已保存：未联系到", "Case {number} followed up: not reached"),
    "fu_send_back_required": (
        "回访评价为“{rating}”：不能审核通过，请填写原因后发回重办",
        "The citizen rated it “{rating}”: it cannot be approved; give a reason and send it back",
    ),
    "tab_follow_ups": ("回访", "Follow-ups"),
    "fu_title": ("待回访工单", "Follow-ups due"),
    "fu_overdue_only": ("只看超期", "Overdue only"),
    "fu_col_due": ("回访时限", "Follow-up due"),
    "fu_col_rating": ("最近评价", "Last rating"),
    "fu_page": ("第 {first}–{last} 条", "Rows {first}–{last}"),
    "fu_page_empty": ("没有待回访的工单", "No follow-ups due"),
    "fu_prev": ("上一页", "Previous"),
    "fu_next": ("下一页", "Next"),
    "fu_pick": ("请在左侧选择一个工单进行回访", "Pick a case on the left to follow it up"),
    "fu_handled_result": ("办理结果", "Unit's result"),
}
TEXT.update(QA_TEXT)


def size_text(size: int) -> str:
    """Bytes for people: `812 B`, `12.3 KB`, `4.0 MB` (1 KB = 1024 B)."""
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / 1024 / 1024:.1f} MB"


class Tr:
    """The current language and its lookups, and the time zone every time is shown in."""

    def __init__(self, lang: str = "zh", zone: tzinfo | None = None) -> None:
        """`zone`: the centre's time zone (config `centre.timezone`), in which case numbers, reports and the
        wallboard's day are counted too; None shows times in this machine's own zone."""
        self.lang = lang if lang in LANGS else "zh"
        self.zone = zone

    def when(self, stamp: str | None, seconds: bool = False) -> str:
        """An ISO 8601 time from the server as `YYYY-MM-DD HH:MM[:SS]` in `zone`; "" for none, the text
        itself when it is not a time."""
        if not stamp:
            return ""
        try:
            moment = datetime.fromisoformat(stamp)
        except ValueError:
            return stamp
        return moment.astimezone(self.zone).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")

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

    def error(self, error_id: str, message: str, detail: dict[str, Any] | None = None) -> str:
        key = f"err_{error_id}"
        if error_id == "case_exchange_requires" and detail and detail.get("field"):
            return self(key, field=self.field(str(detail["field"]), str(detail.get("requirement") or "")))
        if error_id == "attachment_type_refused":
            return self(key, mime=(detail or {}).get("mime") or "?")
        if error_id == "attachment_too_large":
            d = detail or {}
            return self(key, size=size_text(int(d.get("size") or 0)), limit=size_text(int(d.get("limit") or 0)))
        return self(key) if key in TEXT else self("err_other", message=message)

    def field(self, name: str, requirement: str = "") -> str:
        """A case field named by a refusal (`address`, `category`, `attribute:<code>`) for people."""
        if name.startswith("attribute:"):
            code = name.split(":", 1)[1]
            return self("field_attribute", code=code, requirement=requirement) if requirement else code
        return self(name) if name in TEXT else name
