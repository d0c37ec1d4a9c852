"""A generated month of requests with known duplicates, for measuring 并单 suggestions (precision, recall):
each case belongs to a *problem* (a kind of trouble at one place); two cases of one problem are duplicates.

Forms of duplicate (10 % of the cases by default):
- `number`: the same citizen again, the number written another way (`+86 139 1234 5678`, `0086-…`), the
  request in other words, the address in other words;
- `neighbour`: another citizen, the same place in other words ("天山区幸福路12号" / "幸福路12号院门口"),
  the request in other words;
- `repeat`: the same citizen, the same number, almost the same words.
Hard negatives (5 % of the cases): the same citizen, same number and address, about another problem of
another category. The rest are distinct problems; many share a kind (street lights out) at other places in
the same category and month: the confounders a text-only measure would take for duplicates.

`generate(n, seed)` returns `Request`s in time order; `load` inserts them in bulk (the suite's test and
the benchmark: intake itself is tested elsewhere), `quality` measures suggestions against them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from ari_app.calls.numbers import NumberPlan
from schema.cases import Case, Category

KINDS: dict[tuple[str, str], list[tuple[str, ...]]] = {
    # (hotline, category): kinds, each a tuple of phrasings of the same trouble ({a} is the address)
    ("12345", "市政设施"): [
        (
            "{a}的路灯坏了好几天，晚上一片漆黑，走路很不安全",
            "{a}附近路灯一直不亮，晚上出行很不方便，请派人维修",
            "反映{a}路灯不亮的问题，已经持续一周了",
            "我家楼下{a}那段路的路灯晚上都不亮，黑乎乎的",
        ),
        (
            "{a}路边的井盖丢了，很危险，怕有人掉下去",
            "{a}有个窨井盖不见了，路上留了个大洞",
            "反映{a}井盖缺失，存在安全隐患，请尽快补上",
            "{a}门口的下水井盖被偷了，晚上看不见容易摔",
        ),
        (
            "{a}路面塌陷出现一个大坑，车辆经过很危险",
            "{a}马路上塌了个坑，已经有电动车摔倒了",
            "{a}道路下沉开裂，坑越来越大，请修补路面",
        ),
        (
            "{a}下水道堵了，污水漫到路面上，味道很大",
            "{a}排水管堵塞，污水外溢，臭气熏天",
            "反映{a}污水井冒水，下水道不通",
        ),
    ],
    ("12345", "环境卫生"): [
        (
            "{a}的垃圾好几天没人清运，堆成了小山",
            "{a}垃圾箱满了也没人来收，苍蝇很多",
            "反映{a}生活垃圾长期堆放无人清理",
        ),
        (
            "{a}的公共厕所太脏了，一直没人打扫",
            "{a}公厕卫生很差，臭味很大，也没有水冲",
            "{a}那个公厕好久没有保洁，脏得进不去",
        ),
        (
            "{a}有人随意倾倒建筑垃圾，占了半条路",
            "{a}路边被倒了很多装修垃圾，没人管",
            "反映{a}建筑渣土乱倒乱堆",
        ),
    ],
    ("12319", "供水"): [
        (
            "{a}小区停水两天了，一直没有人来修",
            "我们{a}已经两天没有水了，生活很困难，什么时候来水",
            "{a}从前天开始停水到现在，也没有通知",
            "反映{a}小区突然停水，家里老人孩子没法用水",
        ),
        (
            "{a}的自来水管爆了，水流得满地都是",
            "{a}地下水管破裂，路上一直在冒水",
            "{a}供水管道爆裂漏水，浪费很严重，请抢修",
        ),
        (
            "{a}家里的自来水发黄，有铁锈味，不敢喝",
            "{a}水龙头放出来的水很浑浊，颜色发黄",
            "反映{a}自来水水质有问题，水是黄的",
        ),
    ],
    ("12319", "供热"): [
        (
            "{a}暖气不热，屋里只有十几度，老人受不了",
            "{a}家里的暖气片一直是凉的，供暖不达标",
            "反映{a}供热温度太低，室温不到十八度",
            "{a}这几天暖气温度很低，家里冷得要穿棉衣",
        ),
        (
            "{a}楼道里的暖气管漏水，地上都是水",
            "{a}供热管道跑水，楼梯间淹了",
            "{a}单元暖气管子漏了，一直在滴水",
        ),
    ],
}
DISTRICTS = ("天山区", "沙依巴克区", "新市区", "水磨沟区", "头屯河区", "米东区")
ROADS = (
    "幸福路", "新华北路", "光明路", "人民路", "友好南路", "北京南路", "长江路", "黄河路", "扬子江路",
    "西虹东路", "克拉玛依西路", "阿勒泰路", "南湖路", "红山路", "钱塘江路", "珠江路", "喀什东路", "河滩北路",
)  # fmt: skip
ESTATES = ("幸福花园", "阳光小区", "金桥小区", "南湖小区", "绿城家园", "和平里", "明珠花园", "天池小区")
"""An estate spans a block of 40 doors of one road; a road is in one district."""


@dataclass(frozen=True)
class Place:
    district: str
    road: str
    number: int
    estate: str | None

    def written(self, rng: random.Random) -> str:
        """One of the ways a citizen or an agent writes this place."""
        base = f"{self.road}{self.number}号"
        forms = [
            f"{self.district}{base}",
            base,
            f"{base}院",
            f"{self.district}{self.road} {self.number} 号",
            f"{base}门口",
        ]
        if self.estate:
            forms += [f"{self.road}{self.estate}", f"{self.district}{base}{self.estate}"]
        return rng.choice(forms)


@dataclass(frozen=True)
class Request:
    """One generated case. `problem` is what duplicates share; `form` how this one was made (`original`,
    `number`, `neighbour`, `repeat`, `other_problem`)."""

    problem: int
    form: str
    hotline: str
    category: str
    request: str
    address: str
    caller: str
    at: datetime


def _mobile(rng: random.Random) -> str:
    return f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}"


def _other_form(number: str, rng: random.Random) -> str:
    return rng.choice(
        [
            f"+86 {number[:3]} {number[3:7]} {number[7:]}",
            f"0086-{number}",
            f"{number[:3]}-{number[3:7]}-{number[7:]}",
            f"86 {number}",
            f"+86{number}",
        ]
    )


def generate(
    n: int = 1000, *, seed: int = 15, start: datetime, days: int = 30, dup_share: float = 0.10
) -> list[Request]:
    """`n` requests over `days` from `start`: `dup_share` of them duplicates (forms above, in the ratio
    4 number : 4 neighbour : 2 repeat), 5 % hard negatives, the rest distinct problems. In time order."""
    rng = random.Random(seed)
    doors = max(400, n // 20)  # enough distinct places for `n`
    district_of = {road: rng.choice(DISTRICTS) for road in ROADS}
    estate_of = {(road, block): rng.choice((None, *ESTATES)) for road in ROADS for block in range(doors // 40 + 1)}
    kinds = [(key, i) for key, phrasings in KINDS.items() for i in range(len(phrasings))]
    n_dups = round(n * dup_share)
    n_neg = round(n * 0.05)
    n_orig = n - n_dups - n_neg
    span = timedelta(days=days)
    out: list[Request] = []
    originals: list[tuple[Request, Place, tuple[str, str], int]] = []
    used: set[tuple[tuple[str, str], int, Place]] = set()
    for p in range(n_orig):
        while True:
            key, k = rng.choice(kinds)
            road, door = rng.choice(ROADS), rng.randint(1, doors)
            place = Place(district_of[road], road, door, estate_of[(road, door // 40)])
            if (key, k, place) not in used:
                used.add((key, k, place))
                break
        at = start + span * rng.random() * 0.8
        text = rng.choice(KINDS[key][k]).format(a=place.written(rng))
        r = Request(p, "original", key[0], key[1], text, place.written(rng), _mobile(rng), at)
        out.append(r)
        originals.append((r, place, key, k))
    forms = ["number"] * 4 + ["neighbour"] * 4 + ["repeat"] * 2
    for i in range(n_dups):
        orig, place, key, k = rng.choice(originals)
        form = forms[i % len(forms)]
        at = orig.at + timedelta(hours=rng.uniform(1, 24 * 7))
        phrasing = rng.choice([t for t in KINDS[key][k] if t.format(a="") != orig.request] or KINDS[key][k])
        if form == "number":
            caller, text, address = (
                _other_form(orig.caller, rng),
                phrasing.format(a=place.written(rng)),
                place.written(rng),
            )
        elif form == "neighbour":
            caller, text, address = _mobile(rng), phrasing.format(a=place.written(rng)), place.written(rng)
        else:
            caller, text, address = (
                orig.caller,
                orig.request + rng.choice(("，请尽快处理", "，还是没人管", "！")),
                orig.address,
            )
        out.append(Request(orig.problem, form, key[0], key[1], text, address, caller, at))
    for j in range(n_neg):
        orig, place, key, _ = rng.choice(originals)
        other_key = rng.choice([c for c in KINDS if c != key])
        k2 = rng.randrange(len(KINDS[other_key]))
        at = orig.at + timedelta(hours=rng.uniform(1, 24 * 7))
        text = rng.choice(KINDS[other_key][k2]).format(a=place.written(rng))
        out.append(
            Request(n_orig + j, "other_problem", other_key[0], other_key[1], text, place.written(rng), orig.caller, at)
        )
    out.sort(key=lambda r: r.at)
    return out


@dataclass(frozen=True)
class Quality:
    suggestions: int
    correct: int
    duplicates: int
    found: int

    @property
    def precision(self) -> float:
        return self.correct / self.suggestions if self.suggestions else 1.0

    @property
    def recall(self) -> float:
        return self.found / self.duplicates if self.duplicates else 1.0


def quality(requests: list[Request], suggested: dict[int, list[int]]) -> Quality:
    """Precision: of every suggestion made for every case (`suggested`: index in `requests` → indexes
    suggested), the share that are of the same problem. Recall: of the duplicates (every case of a problem
    but its first), the share for which an earlier case of its problem is suggested."""
    problem = [r.problem for r in requests]
    suggestions = sum(len(v) for v in suggested.values())
    correct = sum(1 for q, found in suggested.items() for c in found if problem[c] == problem[q])
    first: dict[int, int] = {}
    dups = found = 0
    for i, r in enumerate(requests):
        if r.problem not in first:
            first[r.problem] = i
            continue
        dups += 1
        if any(problem[c] == r.problem and c < i for c in suggested.get(i, [])):
            found += 1
    return Quality(suggestions, correct, dups, found)


def load(session: Session, requests: list[Request], numbers: NumberPlan, *, batch: int = 5000) -> list[int]:
    """Insert the requests as received cases in bulk (the caller commits), categories created as needed,
    numbers stored in their canonical form as intake stores them; returns the case ids, in order."""
    categories: dict[tuple[str, str], int] = {}
    for hotline, name in sorted({(r.hotline, r.category) for r in requests}):
        found = session.scalar(select(Category.id).where(Category.hotline == hotline, Category.name == name))
        if found is None:
            cat = Category(hotline=hotline, name=name, deadline_hours=72)
            session.add(cat)
            session.flush()
            found = cat.id
        categories[(hotline, name)] = found
    first = (session.scalar(select(func.max(Case.id))) or 0) + 1
    rows = [
        {
            "id": first + i,
            "number": f"{r.hotline}-G{first + i:08d}",
            "channel": "phone",
            "hotline": r.hotline,
            "caller": numbers.caller(r.caller).canonical,
            "caller_raw": r.caller,
            "request": r.request,
            "address": r.address,
            "category_id": categories[(r.hotline, r.category)],
            "urgency": "normal",
            "language": "zh",
            "handling": "dispatch",
            "status": "received",
            "created_at": r.at,
            "updated_at": r.at,
            "created_by_login": "generated",
        }
        for i, r in enumerate(requests)
    ]
    for k in range(0, len(rows), batch):
        session.execute(insert(Case), rows[k : k + batch])
    return [row["id"] for row in rows]
