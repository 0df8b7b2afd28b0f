"""Types as contracts: refs are typed by the messages their actor takes, so the type checker
rejects a message an actor does not take. Each ``# E: <code>`` below marks a line mypy must
report with that error code, and no other line may be reported."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import pytest
from mypy import api

ROOT = Path(__file__).resolve().parent.parent

SNIPPET = """\
import actors
from bridge.discord.gateway import GatewayDispatch, Subscribe
from bridge.sessions.messages import (
    GetSlots,
    LimiterMessage,
    QueuePosition,
    ReleaseSlot,
    SessionMessage,
    StopTurn,
)
from bridge.store.actor import StoreMessage, store_call


def tells(
    session: actors.Ref[SessionMessage],
    limiter: actors.Ref[LimiterMessage],
    router: actors.Ref[GatewayDispatch],
) -> None:
    session.tell(StopTurn(requested_by=1))
    limiter.tell(ReleaseSlot(thread_id=1))
    session.tell(GetSlots())  # E: arg-type
    limiter.tell(StopTurn(requested_by=1))  # E: arg-type
    Subscribe(router)
    Subscribe(session)  # E: arg-type
    # Contravariance: a ref that takes a union serves where one member is wanted.
    slot_reply: actors.Ref[QueuePosition] = session
    wider: actors.Ref[SessionMessage] = slot_reply  # E: assignment


async def worker(ctx: actors.Context[int]) -> None:
    async for n in ctx.mailbox:
        print(n + 1)


async def spawned(system: actors.System, root: actors.SupervisorRef) -> None:
    ref = await system.spawn(worker)
    ref.tell(1)
    ref.tell("one")  # E: arg-type
    child = await root.start_child_spec(actors.ChildSpec(worker, id="w"))
    child.tell("one")  # E: arg-type
    tree: actors.SupervisorRef = await root.start_child_spec(
        actors.SupervisorSpec().as_child(id="tree")
    )
    await tree.start_child(id="x")


async def asks(store: actors.Ref[StoreMessage], session: actors.Ref[SessionMessage]) -> None:
    count: int = await store_call(store, lambda db: len(db.sessions()), timeout=1)
    await store_call(session, lambda db: None, timeout=1)  # E: arg-type
    print(count)
"""


def _expected(source: str) -> set[tuple[int, str]]:
    return {
        (number, match.group(1))
        for number, line in enumerate(source.splitlines(), start=1)
        if (match := re.search(r"# E: ([a-z-]+)$", line))
    }


def test_the_checker_rejects_messages_an_actor_does_not_take(tmp_path: Path) -> None:
    snippet = tmp_path / "snippet.py"
    snippet.write_text(SNIPPET)
    # The project's own configuration (strict), so its cache is reused; imported modules
    # are checked silently: their errors are .ci/run's business, not this test's.
    out, err, _status = api.run(
        [
            "--config-file",
            str(ROOT / "pyproject.toml"),
            "--follow-imports=silent",
            "--no-error-summary",
            str(snippet),
        ]
    )
    assert err == ""
    reported = {
        (int(m.group(1)), m.group(2))
        for m in re.finditer(r"snippet\.py:(\d+): error: .*\[([a-z-]+)\]$", out, re.MULTILINE)
    }
    assert reported == _expected(SNIPPET), out


@pytest.mark.parametrize("package", ["actors", "protocol", "bridge"])
def test_packages_ship_a_py_typed_marker(package: str) -> None:
    # PEP 561: without it, a checker in a project that installs ccbridge ignores our types.
    assert resources.files(package).joinpath("py.typed").is_file()
