"""Catch-up decisions (pure): which messages run, which are listed, which reactions change."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bridge.sessions.catchup import (
    FINAL_EMOJI,
    NOTICE_LINKS_MAX,
    ReactionFix,
    Seen,
    catch_up_notice,
    jump_link,
    plan_catch_up,
    reaction_fixes,
    snowflake_at,
    snowflake_time,
)
from bridge.sessions.presentation import render
from bridge.store import InboxState

NOW = 1_800_000_000.0
DAY = 86400.0


def _at(seconds_ago: float, n: int = 0) -> int:
    return snowflake_at(NOW - seconds_ago) + n


def test_snowflakes_carry_their_time() -> None:
    # Discord's example in reference.mdx "Snowflakes": 175928847299117063 is 2016-04-30
    # 11:18:25.796 UTC.
    assert snowflake_time(175928847299117063) == 1462015105.796
    assert snowflake_time(snowflake_at(NOW)) == NOW


messages = st.lists(
    st.builds(
        Seen,
        id=st.integers(0, 3 * 24 * 3600).map(lambda ago: _at(ago)) | st.integers(1, 10**6),
        channel_id=st.just(7),
        from_person=st.booleans(),
    ),
    max_size=40,
    unique_by=lambda m: m.id,
)


@given(
    messages,
    st.integers(0, 2**40),
    st.floats(1, 2 * DAY),
    st.integers(0, 25),
)
def test_the_plan_partitions_what_is_new_and_keeps_order(
    found: list[Seen], cursor: int, max_age: float, max_count: int
) -> None:
    # Pages may overlap: a message read twice counts once.
    pages = found + found[: len(found) // 2]
    plan = plan_catch_up(pages, cursor=cursor, now=NOW, max_age=max_age, max_count=max_count)
    new_persons = {m.id for m in found if m.id > cursor and m.from_person}
    run = [m.id for m in plan.run]
    not_run = [m.id for m in plan.not_run]
    # Every new person's message is either run or listed, exactly once; nothing else is.
    assert sorted(run + not_run) == sorted(new_persons)
    assert run == sorted(run)
    assert not_run == sorted(not_run)
    assert len(run) <= max_count
    assert all(snowflake_time(i) >= NOW - max_age for i in run)
    # The newest fresh ones run: nothing listed for the count is newer than what runs.
    fresh_listed = [i for i in not_run if snowflake_time(i) >= NOW - max_age]
    assert not run or all(i < run[0] for i in fresh_listed)
    assert plan.cursor == max([cursor, *(m.id for m in found)])


def test_too_old_and_over_the_count_are_listed() -> None:
    old = Seen(id=_at(2 * DAY), channel_id=7, from_person=True)
    fresh = [Seen(id=_at(60, n), channel_id=7, from_person=True) for n in range(4)]
    ours = Seen(id=_at(30), channel_id=7, from_person=False)
    plan = plan_catch_up([ours, *reversed(fresh), old], cursor=0, now=NOW, max_age=DAY, max_count=3)
    assert plan.run == tuple(fresh[1:])
    assert plan.not_run == (old, fresh[0])
    assert plan.cursor == ours.id


def test_stale_reactions_are_corrected_by_what_became_of_the_message() -> None:
    def seen(mid: int, *emoji: str) -> Seen:
        return Seen(id=mid, channel_id=7, from_person=True, own_reactions=frozenset(emoji))

    states = {1: InboxState.DONE, 2: InboxState.DELIVERED, 3: InboxState.DONE}
    fixes = reaction_fixes(
        [
            seen(1, render.EMOJI_WRITING),  # its turn ended: done
            seen(2, render.EMOJI_THINKING),  # runs again: the resumed turn reacts
            seen(3, render.EMOJI_QUEUED, render.EMOJI_ERROR),  # already has its outcome
            seen(4, render.EMOJI_DONE),  # nothing stale
            seen(5, "👍"),  # not a status emoji of ours
        ],
        states,
    )
    assert fixes == [
        ReactionFix(channel_id=7, message_id=1, remove=(render.EMOJI_WRITING,), add=("✅",)),
        ReactionFix(channel_id=7, message_id=2, remove=(render.EMOJI_THINKING,)),
        ReactionFix(channel_id=7, message_id=3, remove=(render.EMOJI_QUEUED,)),
    ]


@given(st.lists(st.sampled_from([*sorted(FINAL_EMOJI), "🤔", "✍️", "⏸️", "🛠️", "👍"]), max_size=5))
def test_a_fix_never_removes_an_outcome_or_a_foreign_emoji(emoji: list[str]) -> None:
    message = Seen(id=1, channel_id=7, from_person=True, own_reactions=frozenset(emoji))
    for fix in reaction_fixes([message], {1: InboxState.DONE}):
        assert not set(fix.remove) & (FINAL_EMOJI | {"👍"})
        shown = (message.own_reactions - set(fix.remove)) | set(fix.add)
        assert len(shown & FINAL_EMOJI) >= 1


def test_the_notice() -> None:
    assert catch_up_notice(0, (), guild_id=1, max_age=DAY, max_count=20) is None
    assert (
        catch_up_notice(3, (), guild_id=1, max_age=DAY, max_count=20)
        == "📬 Picked up 3 messages sent while I was offline."
    )
    skipped = [Seen(id=100 + i, channel_id=7, from_person=True) for i in range(12)]
    text = catch_up_notice(1, skipped, guild_id=5, max_age=DAY, max_count=20)
    assert text is not None
    assert text.startswith("📬 Picked up 1 message sent while I was offline.\n")
    assert "12 messages were not run (older than 24 h, or beyond the newest 20)" in text
    assert jump_link(5, 7, 100) in text
    assert jump_link(5, 7, 100 + NOTICE_LINKS_MAX) not in text
    assert text.endswith(" and 2 more")
