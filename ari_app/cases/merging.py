"""并单: finding the duplicates of a case and merging them into a master case (国办发〔2020〕53号: repeated
requests about one problem are handled once).

**Candidates** (`candidates`). A duplicate is the same problem reported again: by the same citizen (the
number written another way: the numbers are compared in their canonical form, ari_app.calls.numbers), or by
a neighbour at the same place in other words. The pool a case is compared with is read through indexes
only, never by scanning the table, and as rows of the compared columns (`PoolCase`), not whole cases: the
cases of the same caller or contact number (`ix_cases_caller_created_at`, `ix_cases_contact_created_at`),
at most `POOL_PER_NUMBER` newest, and the cases of the same category (`ix_cases_category_id_created_at`), at
most `POOL_PER_CATEGORY`, the nearest in time on each side of the case; both within
`CaseSettings.merge_window_days` (config.yaml `cases.merge_window_days`, default 30) before and after the
case was taken, plus the same number's older cases still open. Cases already merged are left out (their
master is in the pool in their stead), and so is the case itself; a recent closed case is listed but not
`mergeable`.

Each pool case gets four signals in [0, 1], and a score from them:

    what   = 0.85 · text + 0.15 · category        is it the same trouble?
    where  = max(address, number)                  is it the same place?
    score  = what · where                          suggested from THRESHOLD (0.35)

    text      TF-IDF-weighted cosine of the two requests' words
    category  1 when both have the same category
    address   Dice coefficient of the two addresses' character bigrams; 0 when both name door numbers
              (`12号`, in the address or the request) and share none
    number    1 when a caller or contact number of one is a caller or contact number of the other

Why these:

- A duplicate is the same trouble at the same place. A weighted *sum* of the four signals cannot tell the
  street light out at 幸福路12号 from the street light out at 光明路200号 reported the same week (same
  category, near-identical words): on the generated month the sum 0.45 · text + 0.2 · address + 0.2 ·
  category + 0.15 · number, from 0.5, suggested 2 570 pairs of which 8 % were right (recall 0.98). So the
  score is a product: the text and category say *what*, the address or the number says *where*, and both
  must hold. The same citizen calling about another problem (same number and address,
  other category and words) has a small `what` and is not suggested; a neighbour's report of the same
  trouble (another number) needs a close address.
- The text says what the trouble is, but two requests about one burst pipe share few words exactly
  ("小区停水两天了" / "我们楼已经两天没有水"), and the words every request of a category shares ("小区",
  "反映", "问题") say nothing. So the requests are segmented into words (rjieba: the jieba dictionary and its
  HMM for unknown words, in search mode, which also yields the shorter words inside a long one), stop words
  and punctuation are dropped, and each word is weighted by its inverse document frequency over the pool
  and the case (idf = ln((1 + n) / (1 + df)) + 1, the smoothed form): a word common in the category's last
  month counts little, a rare one much. Cosine rather than Jaccard because it keeps those weights and is
  not pulled down by a long request that repeats a short one with more detail. (Dropping the address's
  words from the text was tried: recall fell from 0.86 to 0.52, because the place named in the words is
  also what the address field often lacks.)
- Addresses are short and written many ways ("天山区幸福路12号" / "幸福路12号院门口"); their character
  bigrams carry the street and the number, and Dice of the bigram sets is 1 for the same text and stays
  high when one adds a district or a landmark. Bigrams alone rate another door of the same road at ~0.7,
  hence the door-number rule.

The weights and the threshold were set on the generated set of `tests/cases/test_merge_quality.py` (1 000
cases, 10 % duplicates in three forms, 5 % hard negatives, many same-kind troubles elsewhere), which
prints precision and recall and holds them to a floor; `benchmarks/bench_merge.py` does the same at
100 000 cases with the lookup time. Recall is favoured: the suggestions are a short list an agent reads
(a wrong one costs a glance), a missed duplicate costs a unit a second dispatch.

**Merging** (`merge`). Only the centre merges (agent, supervisor), and only a case with no unit work open
(status `received` or `returned`; a case with a pending, accepted or handled share is refused with
`MergeOpenDispatches`); never into itself (`MergeIntoSelf`), a closed case (`MergeIntoClosed`), or a case that
is itself a duplicate (`MergeIntoMerged`, naming its master; `MergeCycle` when that master is the case
being merged). The duplicate moves to `merged` and records its master (`cases.master_case_id`,
`merged_at`); the duplicates it had itself are moved to the new master, so every duplicate follows a
master that is not merged and no cycle can form. Nothing is deleted. Audit: `merge` on the duplicate (from,
to, master), `merged_in` on the master, `remaster` on each duplicate moved along; a refused merge leaves a
`refused` entry (ari_app.cases.audit).

**Following the master.** A merged case shows the master's progress (`master_of`); it is followed up
(回访, `workflow.follow_up`, the case stays `merged`) once the master is handled, and `follow_ups_due`
lists it then like the master, due when the master is (ari_app.cases.follow_ups); when the master closes,
it closes too (`master_closed`, in ari_app.cases.access.transition).

**Unmerge** (`unmerge`): a supervisor may take a duplicate out again while its master is open, with a
reason: it goes back to `received` and is handled on its own. Once the master is closed the duplicate is
closed and stays so (a wrong merge found later is a new case). The audit trail keeps both moves.

Flushes, never commits: the caller owns the transaction (the package's contract, ari_app.cases).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from itertools import chain
from typing import Protocol, TypeVar

import rjieba
from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from ari_app.cases import follow_ups
from ari_app.cases.access import (
    OPEN_DISPATCH,
    begin,
    load_case,
    mode_of,
    read_text,
    require_action,
    transition,
    visible,
)
from ari_app.cases.actor import Actor
from ari_app.cases.audit import audit
from ari_app.cases.errors import (
    MergeCycle,
    MergeIntoClosed,
    MergeIntoMerged,
    MergeIntoSelf,
    MergeOpenDispatches,
    PermissionDenied,
)
from ari_app.cases.machine import CENTRE, Action, CaseState
from ari_app.cases.settings import settings_of
from ari_app.protocol import WITHHELD
from schema.cases import Case

WEIGHTS = {"text": 0.85, "category": 0.15, "number": 1.0}
"""`what` = text · 0.85 + category · 0.15; `where` = max(address, number); score = what · where."""
THRESHOLD = 0.35
"""A pool case is suggested from this score up."""
C = TypeVar("C", bound="Compared")
POOL_PER_NUMBER = 200
POOL_PER_CATEGORY = 1000
"""At most this many cases per number (newest) and per category (half before the case, half after, the
nearest in time) are compared: bounds a lookup's cost."""

STOP_WORDS = frozenset(
    "的 了 是 在 我 我们 你 你们 他 她 它 他们 这 那 这个 那个 和 与 及 也 都 就 还 又 很 太 有 没 没有 不 "
    "被 把 给 让 对 从 向 到 于 为 以 因为 所以 但是 而且 如果 已经 一直 现在 今天 昨天 一下 一个 一些 "
    "什么 怎么 为什么 哪里 吗 呢 吧 啊 呀 哦 嗯 请 请问 麻烦 希望 要求 反映 反应 投诉 举报 咨询 情况 问题 "
    "处理 解决 尽快 相关 部门 市民 来电 来电人 称 表示 说 能 能否 可以 是否 这里 那里 附近 一 个 次 些 "
    "多 几 天 月 日 号 时 后 前 上 下 里 中 自己 大家 人 家".split()
)
"""Words that say nothing about which problem it is: function words and the words of every request."""

_WORDISH = re.compile(r"\w", re.UNICODE)
_NOT_WORD = re.compile(r"[\W_]+", re.UNICODE)


def words(text: str | None) -> tuple[str, ...]:
    """The request's words as the similarity counts them: rjieba's search-mode segmentation of the NFKC
    text (full-width digits and letters folded), lower-cased, without stop words, punctuation and spaces.
    Remembered for the last `CACHED_TEXTS` texts: a lookup segments only what it has not seen."""
    return _words(text) if text else ()


CACHED_TEXTS = 65_536


@lru_cache(maxsize=CACHED_TEXTS)
def _words(text: str) -> tuple[str, ...]:
    folded = unicodedata.normalize("NFKC", text).lower()
    return tuple(w for w in rjieba.cut_for_search(folded) if _WORDISH.search(w) and w.strip() and w not in STOP_WORDS)


@lru_cache(maxsize=CACHED_TEXTS)
def _bigrams(address: str | None) -> frozenset[str]:
    if not address:
        return frozenset()
    text = _NOT_WORD.sub("", unicodedata.normalize("NFKC", address).lower())
    if len(text) < 2:
        return frozenset({text}) if text else frozenset()
    return frozenset(text[i : i + 2] for i in range(len(text) - 1))


_DOOR = re.compile(r"(\d+)\s*[号號]")


@lru_cache(maxsize=CACHED_TEXTS)
def doors(text: str | None) -> frozenset[str]:
    """The door numbers written in a text (`12号`, `12 號`, full-width digits folded)."""
    return frozenset(_DOOR.findall(unicodedata.normalize("NFKC", text))) if text else frozenset()


def address_similarity(
    a: str | None, b: str | None, a_doors: frozenset[str] = frozenset(), b_doors: frozenset[str] = frozenset()
) -> float:
    """Dice coefficient of the two addresses' character bigrams (NFKC, without punctuation and spaces):
    1.0 for the same text, 0.0 when either is missing, and 0.0 when both name door numbers (in the address,
    or in `a_doors`/`b_doors`: those of the request text) and share none: 幸福路12号 and 幸福路120号 are
    other doors on the same road, which the bigrams alone would score 0.7."""
    x, y = _bigrams(a), _bigrams(b)
    if not x or not y:
        return 0.0
    na, nb = doors(a) | a_doors, doors(b) | b_doors
    if na and nb and not na & nb:
        return 0.0
    return 2 * len(x & y) / (len(x) + len(y))


@lru_cache(maxsize=CACHED_TEXTS)
def _bag(text: str) -> tuple[dict[str, int], frozenset[str]]:
    """A text's word counts and word set (shared: never changed by a caller)."""
    counts = Counter(words(text))
    return dict(counts), frozenset(counts)


_EMPTY: tuple[dict[str, int], frozenset[str]] = ({}, frozenset())


def text_similarities(query: str | None, others: Sequence[str | None]) -> list[float]:
    """TF-IDF-weighted cosine of `query` with each of `others`, the document frequencies taken over
    `others` and `query` together (the pool the case is compared with). Each value in [0, 1]."""
    bags = [_bag(t) if t else _EMPTY for t in others]
    q_counts, q_words = _bag(query) if query else _EMPTY
    df = Counter(chain(q_words, *(keys for _, keys in bags)))
    n = len(bags) + 1
    idf = {w: math.log((1 + n) / (1 + d)) + 1 for w, d in df.items()}
    q_vec = {w: c * idf[w] for w, c in q_counts.items()}
    q_norm = math.sqrt(sum(v * v for v in q_vec.values()))
    out: list[float] = []
    for counts, keys in bags:
        common = keys & q_words
        if not common or q_norm == 0.0:
            out.append(0.0)
            continue
        dot = sum(q_vec[w] * counts[w] * idf[w] for w in common)
        norm = math.sqrt(sum((c * idf[w]) ** 2 for w, c in counts.items()))
        out.append(min(1.0, dot / (q_norm * norm)))
    return out


@dataclass(frozen=True)
class Signals:
    """Each signal of one pair, in [0, 1] (see the module docstring)."""

    text: float
    address: float
    category: float
    number: float

    @property
    def what(self) -> float:
        """How much the two are about the same trouble."""
        return WEIGHTS["text"] * self.text + WEIGHTS["category"] * self.category

    @property
    def where(self) -> float:
        """How much the two are about the same place: the addresses, or the same citizen calling."""
        return max(self.address, WEIGHTS["number"] * self.number)

    @property
    def score(self) -> float:
        return self.what * self.where


@dataclass(frozen=True)
class Candidate:
    """A case that may be a duplicate of (or the master for) the case asked about. `mergeable`: the case
    asked about may be merged into it now (it is neither closed nor merged)."""

    case: Case
    signals: Signals
    mergeable: bool

    @property
    def score(self) -> float:
        return self.signals.score


class Compared(Protocol):
    """What the comparison reads of a case (a stored Case, or a `PoolCase` row)."""

    @property
    def id(self) -> int: ...
    @property
    def request(self) -> str: ...
    @property
    def address(self) -> str | None: ...
    @property
    def caller(self) -> str | None: ...
    @property
    def contact(self) -> str | None: ...
    @property
    def category_id(self) -> int | None: ...
    @property
    def status(self) -> str: ...
    @property
    def created_at(self) -> datetime: ...


@dataclass(frozen=True)
class PoolCase:
    """The columns of a pool case the comparison reads (the pool is read as rows, not whole cases)."""

    id: int
    request: str
    address: str | None
    caller: str | None
    contact: str | None
    category_id: int | None
    status: str
    created_at: datetime


POOL_COLUMNS = (
    Case.id,
    Case.request,
    Case.address,
    Case.caller,
    Case.contact,
    Case.category_id,
    Case.status,
    Case.created_at,
)


def _numbers(case: Compared) -> set[str]:
    """The case's numbers that identify a citizen (stored canonical: a withheld caller is `WITHHELD`)."""
    return {n for n in (case.caller, case.contact) if n and n != WITHHELD}


def pool(session: Session, case: Compared, since: datetime, actor: Actor | None = None) -> list[PoolCase]:
    """The cases `case` is compared with, each read through an index (module docstring): the same numbers'
    cases from `since` (or still open) to as long after the case, and the same category's in that window,
    the nearest in time on each side of the case; without `case` itself and merged cases, oldest first.
    Visible to `actor` when given. `case` needs `created_at`."""
    cond = visible(actor) if actor is not None else None
    found: dict[int, PoolCase] = {}

    def take(where: ColumnElement[bool], limit: int, *, later: bool = False) -> None:
        stmt = select(*POOL_COLUMNS).where(where, Case.id != case.id, Case.status != CaseState.MERGED)
        if cond is not None:
            stmt = stmt.where(cond)
        order = Case.created_at.asc() if later else Case.created_at.desc()
        for row in session.execute(stmt.order_by(order).limit(limit)):
            found[row.id] = PoolCase(*row)

    at = case.created_at
    until = at + (at - since)
    recent_or_open = or_(Case.created_at >= since, Case.status != CaseState.CLOSED)
    for number in sorted(_numbers(case)):
        take(and_(Case.caller == number, recent_or_open, Case.created_at <= until), POOL_PER_NUMBER)
        take(and_(Case.contact == number, recent_or_open, Case.created_at <= until), POOL_PER_NUMBER)
    if case.category_id is not None:  # the nearest in time on either side of the case
        same = Case.category_id == case.category_id
        take(and_(same, Case.created_at >= since, Case.created_at <= at), POOL_PER_CATEGORY // 2)
        take(and_(same, Case.created_at > at, Case.created_at <= until), POOL_PER_CATEGORY // 2, later=True)
    return sorted(found.values(), key=lambda c: (c.created_at, c.id))


def score_pool(case: Compared, others: Sequence[C]) -> list[tuple[C, Signals]]:
    """Every pool case with its signals, best first (score, then newest)."""
    texts = text_similarities(case.request, [c.request for c in others])
    mine = _numbers(case)
    mine_doors = doors(case.request)
    scored = [
        (
            c,
            Signals(
                text=t,
                address=address_similarity(case.address, c.address, mine_doors, doors(c.request)),
                category=1.0 if case.category_id is not None and c.category_id == case.category_id else 0.0,
                number=1.0 if mine & _numbers(c) else 0.0,
            ),
        )
        for c, t in zip(others, texts, strict=True)
    ]
    scored.sort(key=lambda x: (-x[1].score, -x[0].id))
    return scored


def candidates(
    session: Session,
    actor: Actor,
    case_id: int | str,
    *,
    limit: int = 10,
    threshold: float = THRESHOLD,
    now: datetime | None = None,
) -> list[Candidate]:
    """The likely duplicates of the case (the centre's roles: agent, supervisor), best first, at most
    `limit`, each with its score and signals. Raises CaseNotFound (no such case), PermissionDenied (not a
    centre role). `now` is unused but accepted like the other operations' clock."""
    settings = settings_of(session)
    settings.now(now)
    if actor.role not in CENTRE:
        raise PermissionDenied(f"role {actor.role} may not look for duplicates", role=str(actor.role))
    case = load_case(session, actor, case_id)
    since = case.created_at - timedelta(days=settings.merge_window_days)
    found = [(row, sig) for row, sig in score_pool(case, pool(session, case, since, actor)) if sig.score >= threshold]
    out: list[Candidate] = []
    for row, sig in found[: max(1, limit)]:
        other = session.get(Case, row.id)
        assert other is not None
        out.append(Candidate(other, sig, mergeable=other.status not in (CaseState.CLOSED, CaseState.MERGED)))
    return out


def _followers(session: Session, master_id: int) -> list[Case]:
    return list(
        session.scalars(
            select(Case)
            .where(Case.master_case_id == master_id, Case.status == CaseState.MERGED)
            .order_by(Case.id)
            .with_for_update()
        )
    )


def merge(
    session: Session,
    actor: Actor,
    case_id: int | str,
    master_id: int | str,
    *,
    now: datetime | None = None,
) -> Case:
    """Merge the case into `master_id` (module docstring): the duplicate becomes `merged`, follows the
    master, and is closed with it. Returns the duplicate. Raises CaseNotFound, PermissionDenied (not a
    centre role), MergeIntoSelf, MergeOpenDispatches, MergeIntoClosed, MergeCycle, MergeIntoMerged, and
    TransitionForbidden (the duplicate is not `received` or `returned`: already merged, closed, or with
    the hotline's own system)."""
    settings = settings_of(session)
    now = settings.now(now)
    if actor.role not in CENTRE:
        raise PermissionDenied(f"role {actor.role} may not merge cases", role=str(actor.role))
    case = load_case(session, actor, case_id, lock=True)
    master = load_case(session, actor, master_id, lock=True)
    if case.id == master.id:
        raise MergeIntoSelf(f"case {case.number} cannot be merged into itself", case=case.number, master=master.number)
    open_shares = [d for d in case.dispatches if d.status in OPEN_DISPATCH]
    if open_shares and case.status not in (CaseState.CLOSED, CaseState.MERGED):
        raise MergeOpenDispatches(
            f"case {case.number} is with {len(open_shares)} unit(s); it cannot be merged while their work is open",
            dispatches=[d.id for d in open_shares],
            case=case.number,
            master=master.number,
        )
    if master.status == CaseState.CLOSED:
        raise MergeIntoClosed(
            f"case {master.number} is closed; nothing can be merged into it", case=case.number, master=master.number
        )
    if master.status == CaseState.MERGED:
        chain = _chain(session, master)
        if case.id in {c.id for c in chain}:
            raise MergeCycle(
                f"case {master.number} follows case {case.number}: merging would make a cycle",
                case=case.number,
                master=master.number,
            )
        root = chain[-1]
        raise MergeIntoMerged(
            f"case {master.number} is merged into {root.number}; merge into {root.number} instead",
            root=root.number,
            case=case.number,
            master=master.number,
        )
    require_action(Action.MERGE, case, actor, mode_of(settings, case))
    for follower in _followers(session, case.id):
        follower.master_case_id = master.id
        follower.updated_at = now
        audit(session, actor, "remaster", follower.id, now, master=master.number, previous=case.number)
    case.master_case_id = master.id
    case.merged_at = now
    transition(session, actor, case, Action.MERGE, CaseState.MERGED, now, master=master.number)
    follow_ups.follow_merged(session, case, master)
    audit(session, actor, "merged_in", master.id, now, duplicate=case.number)
    session.flush()
    return case


def _chain(session: Session, case: Case) -> list[Case]:
    """The masters `case` follows, nearest first (one in a store merges keep flat; bounded anyway)."""
    chain: list[Case] = []
    seen = {case.id}
    current = case
    while current.master_case_id is not None and len(chain) < 64:
        nxt = session.get(Case, current.master_case_id)
        if nxt is None or nxt.id in seen:
            break
        chain.append(nxt)
        seen.add(nxt.id)
        current = nxt
    return chain


def unmerge(session: Session, actor: Actor, case_id: int | str, *, reason: str, now: datetime | None = None) -> Case:
    """Take a merged duplicate out of its master while the master is open (a supervisor, with a reason):
    back to `received`, to be handled on its own. Raises CaseNotFound, PermissionDenied, TransitionForbidden
    (not merged: e.g. closed with its master), InvalidInput (no reason)."""
    now, case, _ = begin(session, actor, case_id, Action.UNMERGE, now)
    why = read_text(reason, "reason", required=True)
    master = session.get(Case, case.master_case_id) if case.master_case_id is not None else None
    case.master_case_id = None
    case.merged_at = None
    was = master.number if master is not None else None
    transition(session, actor, case, Action.UNMERGE, CaseState.RECEIVED, now, master=was, reason=why)
    if master is not None:
        audit(session, actor, "unmerged_out", master.id, now, duplicate=case.number, reason=why)
    session.flush()
    return case


def duplicates_of(session: Session, master_id: int) -> list[Case]:
    """The cases merged into `master_id` (merged, or closed with it), oldest first."""
    return list(session.scalars(select(Case).where(Case.master_case_id == master_id).order_by(Case.id)))


def master_of(session: Session, case: Case) -> Case | None:
    """The master a merged (or closed-with-its-master) case follows, or None."""
    return session.get(Case, case.master_case_id) if case.master_case_id is not None else None


def follow_ups_due(
    session: Session,
    actor: Actor,
    now: datetime | None = None,
    *,
    overdue_only: bool = False,
    limit: int = 200,
    offset: int = 0,
) -> list[Case]:
    """The cases whose citizen is waiting for the follow-up call (回访), the earliest due first (then by id):
    the handled cases and the duplicates whose master is handled (or later: followed up, closed) and who have
    not been reached yet, i.e. every case with a `follow_up_due_at` (ari_app.cases.follow_ups says when it is
    set and cleared). `overdue_only`: only those due before `now` (default: the settings' clock). Paged by
    `offset` and `limit` (the order is total, so pages neither repeat nor skip a row while nothing changes).
    The same visibility as every query (`access.visible`). One query on `ix_cases_follow_up_due_at`."""
    query = select(Case).where(Case.follow_up_due_at.is_not(None))
    cond = visible(actor)
    if cond is not None:
        query = query.where(cond)
    if overdue_only:
        query = query.where(Case.follow_up_due_at < settings_of(session).now(now))
    return list(session.scalars(query.order_by(Case.follow_up_due_at, Case.id).offset(offset).limit(limit)))
