"""Property tests: TurnState never raises and keeps its invariants on any event order."""

from __future__ import annotations

import attrs
from hypothesis import given
from hypothesis import strategies as st

from protocol.claude import events as ev
from protocol.claude.converter import parse_line
from protocol.claude.turn import _HANDLERS, WAITING_FOR_HOST, Activity, TurnState
from tests.support.fake_claude import scenario_names, stdout_lines

REAL_EVENTS = [parse_line(line) for name in scenario_names() for line in stdout_lines(name)]
SESSION_CARRIERS = (ev.SystemInit, ev.Result, ev.CompactBoundary, ev.SessionStateChanged)

synthetic = st.one_of(
    st.builds(ev.ControlCancelRequest, request_id=st.sampled_from(["x", "y"])),
    st.builds(ev.Unknown, raw=st.just({"type": "keep_alive"})),
    st.builds(ev.Malformed, line=st.binary(max_size=10)),
    st.builds(ev.SystemStatus, status=st.sampled_from([None, "requesting", "compacting"])),
)
# Pick the event type first, so rare types (a retry, a cancel) show up as often as deltas.
BY_TYPE: dict[type, list[ev.Event]] = {}
for _event in REAL_EVENTS:
    BY_TYPE.setdefault(type(_event), []).append(_event)
real = st.sampled_from(sorted(BY_TYPE, key=lambda t: t.__name__)).flatmap(
    lambda t: st.sampled_from(BY_TYPE[t])
)
event_lists = st.lists(st.one_of(real, synthetic), max_size=40)


@given(event_lists, st.lists(st.booleans(), max_size=40))
def test_invariants_hold_after_every_event(events: list[ev.Event], starts: list[bool]) -> None:
    state = TurnState()
    results = 0
    session_id = None
    for step, event in enumerate(events):
        now = float(step)
        if step < len(starts) and starts[step]:
            state = state.start_turn(now)
            assert state.busy
            assert state.pending is None
            assert state.tools == ()
        state = state.apply(event, now)
        if isinstance(event, ev.Result):
            results += 1
            assert state.activity is Activity.DONE
            assert state.pending is None
        if isinstance(event, SESSION_CARRIERS) and event.session_id:
            session_id = event.session_id
        if state.pending is not None:
            assert state.activity in WAITING_FOR_HOST
        assert state.last_event_at == now
        assert state.turns_completed == results
        assert state.session_id == session_id
        assert state.silent_for(now) == 0.0
        assert all(
            run.finished_at is None or run.finished_at >= run.started_at for run in state.tools
        )
        assert len({task.id for task in state.tasks}) == len(state.tasks)


@given(event_lists)
def test_replaying_a_stream_is_deterministic(events: list[ev.Event]) -> None:
    def run() -> TurnState:
        state = TurnState()
        for step, event in enumerate(events):
            state = state.apply(event, float(step))
        return state

    assert run() == run()


@given(event_lists, st.lists(st.booleans(), max_size=40))
def test_the_text_delta_fast_path_folds_like_the_handlers(
    events: list[ev.Event], subagent: list[bool]
) -> None:
    # TurnState.apply builds one state for a main-thread text delta; the general way (the
    # time first, then the event's handler) must give the same state at every step.
    state = TurnState()
    for i, event in enumerate(events):
        if isinstance(event, ev.StreamEvent) and i < len(subagent) and subagent[i]:
            event = attrs.evolve(event, parent_tool_use_id="toolu_sub")
        now = float(i)
        general = attrs.evolve(state, last_event_at=now)
        handler = _HANDLERS.get(type(event))
        expected = handler(general, event, now) if handler else general
        state = state.apply(event, now)
        assert state == expected
