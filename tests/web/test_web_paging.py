"""A to-do list longer than a page: the department sees the 50 most urgent work orders first (the earliest
deadline first), a link to the next page, and on it the rest, none twice and none lost; the page number
stays when the list is drawn again for a live update (the page asks with its own query)."""

from __future__ import annotations

import re

from ari_app.web.pages import PAGE_SIZE
from tests.support.web import Client, Deployment


def _numbers(body: str) -> list[str]:
    return re.findall(r'<a href="/cases/\d+">([^<]+)</a>', body)


def test_a_long_list_is_paged_most_urgent_first(dep: Deployment, base: str) -> None:
    extra = 7
    made = []
    for i in range(PAGE_SIZE + extra):
        case = dep.new_case(f"路灯不亮 第 {i} 处")
        dep.dispatch(case["id"], "lights", hours=24 + i)  # a later deadline for each
        made.append(case["number"])
    client = Client.signed_in(base, "lights")

    first = client.request("/cases?tab=all")
    assert first.status == 200
    assert _numbers(first.body) == made[:PAGE_SIZE]
    assert "第 1 页" in first.body and 'page=2">下一页' in first.body and "上一页" not in first.body

    second = client.request("/cases?tab=all&page=2")
    assert _numbers(second.body) == made[PAGE_SIZE:]
    assert "第 2 页" in second.body and "下一页" not in second.body and 'page=1">‹ 上一页' in second.body

    redrawn = client.request("/cases?tab=all&page=2", headers={"X-Fragment": "rows"})
    assert _numbers(redrawn.body) == made[PAGE_SIZE:] and "<html" not in redrawn.body

    for nonsense in ("0", "-3", "x", "9999"):  # a page out of range is the first, or the last one allowed
        assert client.request(f"/cases?tab=all&page={nonsense}").status == 200
