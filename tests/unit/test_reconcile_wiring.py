"""The server as `hotline serve` builds it (ari_app.server.build_server, not started): the queue's reconcile
after a QueueStatus takes in the membership events Asterisk sent before the reply, even those still waiting
for their publish window. An agent someone has just removed is not taken as lost and added back (the e2e
suite met it: a health probe's reconcile put two removed agents back, and a test's call went to them)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from ari_app.agents.session import AgentState
from ari_app.calls.events import QueueMembership
from ari_app.config import load_config
from ari_app.server import build_server
from tests.support.commands import config_on
from tests.support.link import FakeQueue


async def test_a_member_removed_just_before_the_reply_is_not_put_back(tmp_path: Path) -> None:
    server = build_server(load_config(config_on(tmp_path)))
    assert server.link is not None
    queue = FakeQueue()
    server.link.agents.queue = queue
    agents = server.link.agents
    for login in ("1001", "1002"):
        agents.move(agents.session(login), AgentState.READY, "")
    server.bus.start()
    try:
        # Someone else's `queue remove member` for 1001, received within PUBLISH_WINDOW of the last publish:
        # its own publish is not yet due.
        server.ami._last_publish = asyncio.get_running_loop().time()
        server.ami._on_event(
            None,  # type: ignore[arg-type]
            {"Event": "QueueMemberRemoved", "Queue": "hotline", "Interface": "PJSIP/1001", "MemberName": "1001"},
        )
        assert server.tracker.has_pending
        # A QueueStatus that follows has only 1002; 1001's removal came first on the wire.
        (reconcile,) = server.ami.on_resynced
        assert await reconcile({"pjsip/1002": QueueMembership("PJSIP/1002", False, "")}) == ()
        assert queue.calls == []
        assert agents.state_of("1001") is AgentState.SIGNED_OUT and agents.state_of("1002") is AgentState.READY
        # A member Asterisk lost with no event (a restart while the link was away) is still put back.
        assert await reconcile({}) == ()
        assert [c[:3] for c in queue.calls] == [("add", "hotline", "PJSIP/1002")]
    finally:
        await server.bus.stop()
        server.engine.dispose()
