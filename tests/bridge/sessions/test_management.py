"""Session management's pure parts (S1-S3) and the sync's failure paths: the transcript
read from a session file, the backfill's messages, which sessions a sync imports, the
``/sessions`` pages and their buttons' ids (generated junk included), the resume command."""

from __future__ import annotations

import json
import shlex
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import hypothesis.strategies as st
import pytest
from hypothesis import given

from bridge.discord.errors import HTTPError
from bridge.sessions.management.backfill import backfill_messages
from bridge.sessions.management.listing import (
    PAGE_SIZE,
    Origin,
    SessionsQuery,
    parse_sessions_custom_id,
    resume_command,
    sessions_page,
)
from bridge.sessions.management.sync import choose_imports, sync_sessions
from bridge.store import Database, SessionRecord, SessionStatus
from protocol.claude.sessions import (
    SessionSummary,
    ToolCall,
    TranscriptEntry,
    mangle_cwd,
    session_transcript,
)
from protocol.discord import models as m

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


def _line(**record: Any) -> str:
    return json.dumps(record)


def test_transcript_keeps_texts_and_tool_calls_in_order() -> None:
    lines = [
        _line(type="user", uuid="u1", parentUuid=None, message={"content": "Fix the bug"}),
        _line(
            type="assistant",
            uuid="a1",
            parentUuid="u1",
            message={"id": "m1", "content": [{"type": "text", "text": "Looking."}]},
        ),
        _line(
            type="assistant",
            uuid="a2",
            parentUuid="a1",
            message={
                "id": "m1",
                "content": [{"type": "tool_use", "name": "Read", "input": {"file_path": "x.py"}}],
            },
        ),
        _line(
            type="user",
            uuid="u2",
            parentUuid="a2",
            message={"content": [{"type": "tool_result", "content": "print(1)"}]},
        ),
        _line(
            type="assistant",
            uuid="a3",
            parentUuid="u2",
            message={"id": "m2", "content": [{"type": "tool_use", "name": "Bash", "input": 5}]},
        ),
        _line(
            type="user",
            uuid="u3",
            parentUuid="a3",
            message={"content": "<system-reminder>injected</system-reminder>"},
        ),
        '{"torn',
    ]
    assert session_transcript(lines) == [
        TranscriptEntry(role="user", text="Fix the bug"),
        TranscriptEntry(
            role="assistant",
            text="Looking.",
            tools=(ToolCall(name="Read", input={"file_path": "x.py"}),),
        ),
        TranscriptEntry(role="assistant", text="", tools=(ToolCall(name="Bash", input={}),)),
    ]


entries = st.lists(
    st.builds(
        TranscriptEntry,
        role=st.sampled_from(["user", "assistant"]),
        text=st.text(st.sampled_from("ab @everyone`\n#*<>x"), max_size=3000),
        tools=st.lists(
            st.builds(
                ToolCall,
                name=st.sampled_from(["Bash", "Read", "mcp__x__y"]),
                input=st.dictionaries(st.sampled_from(["command", "path"]), st.text(max_size=400)),
            ),
            max_size=3,
        ).map(tuple),
    ),
    max_size=30,
)


@given(entries=entries, keep=st.integers(0, 25))
def test_backfill_messages_fit_and_ping_nobody(entries: list[TranscriptEntry], keep: int) -> None:
    messages = backfill_messages(entries, keep=keep)
    assert messages[0].startswith("-# 📥")
    for message in messages:
        assert 0 < len(message) <= 2000
        assert message.strip()
        assert "@everyone" not in message
    # A header is a line of its own; the same characters inside a tool line's inline code
    # (a command may contain anything) are no header.
    headers = sum(
        line.startswith(("**🧑 You**", "**🤖 Claude**"))
        for m in messages
        for line in m.splitlines()
    )
    assert headers == min(keep, len(entries))


def _summary(i: int, hours_ago: float | None) -> SessionSummary:
    stamp = NOW - timedelta(hours=hours_ago) if hours_ago is not None else None
    return SessionSummary(
        session_id=f"s{i}", cwd="/w", started_at=stamp, last_activity=stamp, title=f"t{i}"
    )


@given(
    ages=st.lists(st.one_of(st.none(), st.floats(0, 500)), max_size=20),
    taken=st.sets(st.integers(0, 19)),
    hours=st.one_of(st.none(), st.integers(1, 400)),
    count=st.integers(1, 25),
)
def test_choose_imports(
    ages: list[float | None], taken: set[int], hours: int | None, count: int
) -> None:
    summaries = [_summary(i, age) for i, age in enumerate(ages)]
    taken_ids = {f"s{i}" for i in taken}
    chosen, already = choose_imports(summaries, taken_ids, NOW, hours=hours, count=count)

    def in_window(age: float | None) -> bool:
        return hours is None or (age is not None and age <= hours)

    window = {f"s{i}" for i, age in enumerate(ages) if in_window(age)}
    assert already == len(window & taken_ids)
    ids = [s.session_id for s in chosen]
    assert len(ids) == len(set(ids)) == min(count, len(window - taken_ids))
    assert set(ids) <= window - taken_ids
    stamps = [s.last_activity or datetime(1970, 1, 1, tzinfo=UTC) for s in chosen]
    assert stamps == sorted(stamps)  # oldest first
    left = [s for s in summaries if s.session_id in window - taken_ids - set(ids)]
    for s in left:  # nothing left out is newer than what was chosen
        assert all((s.last_activity or datetime.min.replace(tzinfo=UTC)) <= t for t in stamps)


records = st.lists(
    st.builds(
        SessionRecord,
        thread_id=st.integers(1, 10**6),
        channel_id=st.just(1),
        working_dir=st.just("/w"),
        origin=st.sampled_from(["discord", "cli", "api", "trigger"]),
        status=st.sampled_from(list(SessionStatus)),
        title=st.one_of(st.none(), st.text(max_size=300)),
        updated_at=st.floats(0, 2e9),
    ),
    max_size=45,
    unique_by=lambda r: r.thread_id,
)


@given(records=records, origin=st.sampled_from(list(Origin)), hours=st.integers(0, 48))
def test_sessions_pages_cover_each_matching_session_once(
    records: list[SessionRecord], origin: Origin, hours: int
) -> None:
    now = 2e9
    wanted = {
        r.thread_id
        for r in records
        if (origin is Origin.ALL or (r.origin == "cli") == (origin is Origin.CLI))
        and (not hours or r.updated_at >= now - hours * 3600)
    }
    seen: list[int] = []
    query = SessionsQuery(origin=origin, hours=hours)
    for page in range(len(records) // PAGE_SIZE + 2):
        content, rows = sessions_page(records, attrs.evolve(query, page=page), now)
        assert len(content) <= 2000
        assert "@everyone" not in content
        if page * PAGE_SIZE < max(len(wanted), 1):
            seen += [r.thread_id for r in records if f"<#{r.thread_id}>" in content]
        for row in rows:
            for button in row.components:
                assert isinstance(button, m.Button)
                assert isinstance(button.custom_id, str)
                assert len(button.custom_id) <= 100
                assert parse_sessions_custom_id(button.custom_id) is not None
            ids = [b.custom_id for b in row.components if isinstance(b, m.Button)]
            assert len(set(ids)) == len(ids)  # Discord refuses repeated ids in one message
    assert sorted(seen) == sorted(wanted)


@given(st.text(max_size=120))
def test_junk_button_ids_parse_to_nothing_or_a_query(custom_id: str) -> None:
    parsed = parse_sessions_custom_id(custom_id)
    if parsed is not None:
        assert parsed.custom_id(parsed.page) == custom_id


@given(st.integers(0, 500), st.integers(0, 9000))
def test_button_ids_round_trip(hours: int, page: int) -> None:
    query = SessionsQuery(origin=Origin.CLI, hours=hours, page=page)
    assert parse_sessions_custom_id(query.custom_id(page)) == query


def test_resume_command_quotes_the_directory() -> None:
    record = SessionRecord(
        thread_id=1, channel_id=1, working_dir="/home/me/my repo", session_id="abc-123"
    )
    command = resume_command(record)
    assert command == "cd '/home/me/my repo' && claude --resume abc-123"
    assert shlex.split(command)[:2] == ["cd", "/home/me/my repo"]
    assert resume_command(attrs.evolve(record, session_id=None)) is None


class _Rest:
    """Records what a sync posts; ``refuse_threads`` refuses that many thread starts."""

    def __init__(self, refuse_threads: int = 0) -> None:
        self.next_id = 5000
        self.posts: list[tuple[int, str | None]] = []
        self.threads: list[int] = []
        self.deleted: list[int] = []
        self.refuse_threads = refuse_threads

    async def create_message(self, channel_id: int, *, content: str | None = None) -> m.Message:
        self.next_id += 1
        self.posts.append((channel_id, content))
        return m.Message(
            id=self.next_id,
            channel_id=channel_id,
            author=m.User(id=1, username="bot"),
            content=content or "",
            timestamp="2026-12-05T12:00:00+00:00",
        )

    async def start_thread_from_message(
        self, channel_id: int, message_id: int, *, name: str
    ) -> m.Channel:
        if self.refuse_threads:
            self.refuse_threads -= 1
            raise HTTPError(status=403, code=50001, message="Missing Access", route="POST /t")
        self.threads.append(message_id)
        return m.Channel(id=message_id, type=11)

    async def delete_message(self, channel_id: int, message_id: int) -> None:
        self.deleted.append(message_id)


def _write_session(config: Path, workdir: Path, session_id: str, text: str) -> None:
    project = config / "projects" / mangle_cwd(str(workdir.resolve()))
    project.mkdir(parents=True, exist_ok=True)
    stamp = NOW.isoformat()
    line = {
        "type": "user",
        "uuid": f"u-{session_id}",
        "parentUuid": None,
        "timestamp": stamp,
        "message": {"content": text},
    }
    (project / f"{session_id}.jsonl").write_text(json.dumps(line) + "\n")


async def test_a_thread_discord_refuses_is_tried_again_next_time(tmp_path: Path) -> None:
    config, workdir = tmp_path / "claude", tmp_path / "repo"
    workdir.mkdir()
    sid = "11111111-2222-4333-8444-555555555555"
    _write_session(config, workdir, sid, "hello from the terminal")
    db = Database.open(tmp_path / "db.sqlite")

    async def store(fn: Any) -> Any:
        return fn(db)

    started: list[int] = []

    async def mark(thread_id: int) -> None:
        started.append(thread_id)

    async def sync(rest: _Rest) -> Any:
        return await sync_sessions(
            rest,
            store,
            channel_id=42,
            guild_id=7,
            working_dir=str(workdir),
            claude_config_dir=config,
            now=NOW.timestamp(),
            hours=None,
            count=10,
            started=mark,
        )

    refusing = _Rest(refuse_threads=1)
    report = await sync(refusing)
    assert report.imported == ()
    assert len(report.failed) == 1
    assert refusing.deleted == [5001]  # its starter goes too
    assert db.cli_imported() == {}
    assert started == []

    working = _Rest()
    report = await sync(working)
    assert [tid for tid, _ in report.imported] == working.threads
    (thread,) = working.threads
    assert db.cli_imported() == {sid: thread}
    record = db.get_session(thread)
    assert record is not None
    assert record.session_id == sid
    assert record.origin == "cli"
    assert started == [thread]
    backfill = [text for channel, text in working.posts if channel == thread]
    assert any("hello from the terminal" in (t or "") for t in backfill)

    again = await sync(_Rest())
    assert again.imported == ()
    assert again.already == 1
    db.close()


@pytest.mark.parametrize("title", ["@everyone look", "<@123> hi"])
def test_starter_text_pings_nobody(title: str) -> None:
    from bridge.sessions.management.sync import starter_text

    summary = SessionSummary(
        session_id="s", cwd=None, started_at=None, last_activity=None, title=title
    )
    text = starter_text(summary)
    assert "@everyone" not in text
    assert "<@123>" not in text


@given(st.text(max_size=60))
def test_junk_budget_button_ids_parse_to_nothing_or_a_valid_offer(custom_id: str) -> None:
    from bridge.sessions.spending import budget_custom_id, parse_budget_custom_id

    parsed = parse_budget_custom_id("ccb:mgmt:budget:" + custom_id)
    if parsed is not None:
        thread_id, extra = parsed
        assert 0 < thread_id < 2**63
        assert extra > 0
        assert parse_budget_custom_id(budget_custom_id(thread_id, extra)) == parsed
    assert parse_budget_custom_id(custom_id) is None or custom_id.startswith("ccb:mgmt:budget:")


def test_budget_button_ids_round_trip() -> None:
    from bridge.sessions.spending import budget_custom_id, parse_budget_custom_id

    custom_id = budget_custom_id(1578677046169567235, 5.0)
    assert custom_id == "ccb:mgmt:budget:1578677046169567235:500"
    assert len(custom_id) <= 100
    assert parse_budget_custom_id(custom_id) == (1578677046169567235, 5.0)


async def test_a_file_not_named_by_a_session_id_is_not_imported(tmp_path: Path) -> None:
    config, workdir = tmp_path / "claude", tmp_path / "repo"
    workdir.mkdir()
    _write_session(config, workdir, "backup-copy", "an old copy")
    _write_session(config, workdir, "22222222-2222-4333-8444-555555555555", "the real one")
    db = Database.open(tmp_path / "db.sqlite")

    async def store(fn: Any) -> Any:
        return fn(db)

    async def mark(thread_id: int) -> None:
        del thread_id

    rest = _Rest()
    report = await sync_sessions(
        rest,
        store,
        channel_id=42,
        guild_id=7,
        working_dir=str(workdir),
        claude_config_dir=config,
        now=NOW.timestamp(),
        hours=None,
        count=10,
        started=mark,
    )
    assert len(report.imported) == 1
    assert set(db.cli_imported()) == {"22222222-2222-4333-8444-555555555555"}
    assert not any("an old copy" in (text or "") for _, text in rest.posts)
    db.close()
