"""The concurrency-limit queue against a simple model (hypothesis stateful), including
the upgrade's hold (A3): once held, nothing new is granted."""

from __future__ import annotations

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from bridge.sessions.slots import SlotQueue

KEYS = st.integers(min_value=0, max_value=7)


class SlotMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.limit = 2
        self.queue: SlotQueue[int] = SlotQueue(self.limit)
        self.model_running: set[int] = set()
        self.model_waiting: list[int] = []
        self.notified: dict[int, int] = {}
        self.held = False
        self.granted_after_hold: set[int] = set()

    @rule(key=KEYS)
    def acquire(self, key: int) -> None:
        change = self.queue.acquire(key)
        if key not in self.model_running and key not in self.model_waiting:
            if len(self.model_running) < self.limit and not self.model_waiting and not self.held:
                self.model_running.add(key)
            else:
                self.model_waiting.append(key)
        expected = 0 if key in self.model_running else self.model_waiting.index(key) + 1
        assert change.key == key
        assert change.position == expected
        self.notified[key] = change.position

    @rule(key=KEYS)
    def release(self, key: int) -> None:
        changes = self.queue.release(key)
        self.model_running.discard(key)
        if key in self.model_waiting:
            self.model_waiting.remove(key)
        self.notified.pop(key, None)
        while self.model_waiting and len(self.model_running) < self.limit and not self.held:
            self.model_running.add(self.model_waiting.pop(0))
        for change in changes:
            self.notified[change.key] = change.position
            if self.held and change.position == 0:
                self.granted_after_hold.add(change.key)

    @rule()
    def hold(self) -> None:
        changes = self.queue.hold()
        self.held = True
        assert [c.key for c in changes] == self.model_waiting, "every waiting key is told"
        for change in changes:
            assert change.position != 0
            self.notified[change.key] = change.position

    @invariant()
    def nothing_granted_while_held(self) -> None:
        assert self.granted_after_hold == set()

    @invariant()
    def never_over_the_limit(self) -> None:
        assert len(self.queue.running) <= self.limit

    @invariant()
    def agrees_with_model(self) -> None:
        assert self.queue.running == self.model_running
        assert list(self.queue.waiting) == self.model_waiting

    @invariant()
    def no_key_both_running_and_waiting(self) -> None:
        assert not (self.queue.running & set(self.queue.waiting))

    @invariant()
    def every_holder_was_told_its_current_position(self) -> None:
        # What the queue told each key (directly or through a change) is where it is now:
        # a thread never shows a stale queue position.
        for key in self.model_running | set(self.model_waiting):
            assert self.notified[key] == self.queue.position(key)


TestSlotMachine = SlotMachine.TestCase
