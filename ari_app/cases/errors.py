"""Domain errors of the case workflow. Each carries a stable `error_id` the desktop and the protocol can
act on; the message is for people."""

from __future__ import annotations

from ari_app.protocol import DomainError, ErrorId


class CaseError(DomainError):
    """Base of every refusal from the case workflow."""

    error_id = ErrorId.CASE_ERROR


class CaseNotFound(CaseError):
    """No such case, or one the actor may not see (the two are not told apart, so nothing leaks)."""

    error_id = ErrorId.CASE_NOT_FOUND


class PermissionDenied(CaseError):
    """The actor may see the case but not do this to it."""

    error_id = ErrorId.CASE_PERMISSION_DENIED


class ContactConfidential(PermissionDenied):
    """A role that is not the centre's asked for a citizen's contact in clear (`reveal_contact`): the
    national rule for confidential work orders (保密工单, GB/T 33358-2016) keeps it with the centre."""

    error_id = ErrorId.CASE_CONTACT_CONFIDENTIAL


class TransitionForbidden(CaseError):
    """The state machine has no such transition from the case's current status."""

    error_id = ErrorId.CASE_TRANSITION_FORBIDDEN


class InvalidInput(CaseError):
    """An argument is missing or out of range; `detail['field']` names it."""

    error_id = ErrorId.CASE_INVALID_INPUT


class UnknownHotline(CaseError):
    error_id = ErrorId.CASE_UNKNOWN_HOTLINE


class NotConfigured(CaseError):
    """The session was not given the case settings at wiring time (see ari_app.cases.settings.configure)."""

    error_id = ErrorId.CASES_NOT_CONFIGURED


class ExchangeRequirement(InvalidInput):
    """Exchange mode: the hotline's own system would refuse the case as it stands (GeoReport v2: a request
    needs a location; its service definition may require attributes, or it may not offer the service).
    `detail['field']` names what is missing: `address`, `category`, or `attribute:<code>`;
    `detail['requirement']` the receiver's own words for it when it gave any."""

    error_id = ErrorId.CASE_EXCHANGE_REQUIRES


class CalendarUnknownYear(CaseError):
    """A deadline or a working-day question needs a day of a year the working-day calendar does not know:
    neither the holiday library nor the admin's `calendar:` data covers it (`detail['year']`)."""

    error_id = ErrorId.CALENDAR_UNKNOWN_YEAR


class ClassificationNotSelectable(InvalidInput):
    """A case names a classification that is not a node of the catalogue, or a retired one (retired nodes
    stay readable for old cases, never chosen for new ones). `detail`: `field` (`classification`), `code`,
    `retired`."""

    error_id = ErrorId.CLASSIFICATION_NOT_SELECTABLE


class CatalogueInvalid(CaseError):
    """An admin's change to the classification catalogue or the dispatch catalogue breaks their rules;
    nothing was changed. `detail['problems']`: a list of `{"line": int | None, "column": str | None,
    "message": str}` (the line of a CSV file, counting the header as line 1, and its column's name)."""

    error_id = ErrorId.CATALOGUE_INVALID


class MergeRefused(CaseError):
    """A merge (并单, ari_app.cases.merging) the rules do not allow. `detail['case']` and `detail['master']`
    are the case numbers; each subclass says why."""


class MergeOpenDispatches(MergeRefused):
    """The duplicate has unit work still open (a pending, accepted or handled share): it is being handled
    on its own, and merging it would leave a unit working on a case that follows another."""

    error_id = ErrorId.CASE_MERGE_OPEN_DISPATCHES


class MergeIntoSelf(MergeRefused):
    error_id = ErrorId.CASE_MERGE_SELF


class MergeIntoClosed(MergeRefused):
    """The master is closed: its citizens' follow-up is done; open a fresh case or reopen through review."""

    error_id = ErrorId.CASE_MERGE_CLOSED_MASTER


class MergeIntoMerged(MergeRefused):
    """The master named is itself a duplicate; `detail['root']` is the number of the case it follows, the
    master to merge into instead."""

    error_id = ErrorId.CASE_MERGE_MERGED_MASTER


class MergeCycle(MergeRefused):
    """The master named follows (directly or through its own master) the case to be merged: merging would
    make a cycle."""

    error_id = ErrorId.CASE_MERGE_CYCLE


class FollowUpUnsatisfied(TransitionForbidden):
    """The reviewer approved a case whose follow-up found the citizen unsatisfied (不满意 or 非常不满意): such a
    case is sent back (发回重办), not closed (ari_app.cases.follow_ups). `detail`: `case`, `rating`."""

    error_id = ErrorId.CASE_FOLLOW_UP_UNSATISFIED


class ProgressNotSignedFor(TransitionForbidden):
    """A progress report (阶段性回复) from a unit without a signed-for share of the case in hand: not signed
    for yet, returned, handled, or its return waiting for review. `detail`: `case`, `status` (the share's)."""

    error_id = ErrorId.CASE_PROGRESS_NOT_SIGNED_FOR


class ProgressTextInvalid(InvalidInput):
    """A progress report's text is empty or longer than `PROGRESS_TEXT_LIMIT` characters (after stripping).
    `detail`: `field` (`text`), `limit`, `length`."""

    error_id = ErrorId.CASE_PROGRESS_TEXT_INVALID


class AttachmentNotFound(CaseError):
    """No attachment by that token, or one on a case the actor may not see (not told apart)."""

    error_id = ErrorId.ATTACHMENT_NOT_FOUND


class AttachmentRemoved(CaseError):
    """The attachment's file was removed by retention (`detail['removed_at']`); its row stays for the trail."""

    error_id = ErrorId.ATTACHMENT_REMOVED


class AttachmentTooLarge(InvalidInput):
    """The file is over the size limit of one file, or would take the case over its limit.
    `detail`: `field` (`data`), `scope` (`file` or `case`), `limit` and `size` in bytes."""

    error_id = ErrorId.ATTACHMENT_TOO_LARGE


class AttachmentTypeRefused(InvalidInput):
    """The bytes are not of a type attachments allow (HTML, a script, an executable, anything unknown), whatever
    the name says. `detail`: `field` (`data`), `mime` (what they were sniffed as), `allowed`."""

    error_id = ErrorId.ATTACHMENT_TYPE_REFUSED
