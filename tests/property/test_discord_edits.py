"""EditQueue against a model of Discord: whatever the interleaving of submissions, sends,
successes, retries and failures, an older edit never lands after a newer one, there is at
most one PATCH per message outstanding, and the last PATCH that succeeds leaves every
field with its latest submitted value.

Content may also be a ``Live`` value, driven the way the session's view drives streamed
text: the caller changes its own text and submits the message's one ``Live`` only when
none is waiting to be taken. Each attempt then carries the text as it is when taken, and
a settled message shows the caller's latest text."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from protocol.discord.edits import EditQueue, Live, Patch

KEYS = st.sampled_from(["a", "b"])
FIELDS = st.dictionaries(
    st.sampled_from(["content", "embeds", "components"]), st.integers(0, 9), max_size=3
)


class EditsMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.queue = EditQueue()
        self.jobs: dict[str, Patch | None] = {}
        """Outstanding PATCH per key: None queued (not yet taken), or its last attempt."""
        self.shown: dict[str, dict[str, Any]] = {}
        """What Discord shows, per key: the PATCHes it applied, in order."""
        self.applied_versions: dict[str, list[int]] = {}
        self.latest: dict[str, dict[str, Any]] = {}
        """The latest submitted value per field (the model)."""
        self.gone: set[str] = set()
        self.text: dict[str, int] = {}
        """The caller's own text per key, which its ``Live`` renders."""
        self.live = {key: Live(lambda key=key: self.text[key]) for key in ("a", "b")}

    @rule(key=KEYS, fields=FIELDS)
    def submit(self, key: str, fields: dict[str, Any]) -> None:
        submitted = self.queue.submit(key, fields)
        self.latest.setdefault(key, {}).update(fields)
        assert submitted.start == (key not in self.jobs)
        if submitted.start:
            self.jobs[key] = None

    @rule(key=KEYS, text=st.integers(100, 199))
    def change_live_text(self, key: str, text: int) -> None:
        # The view's streaming: change the text; submit the Live only if none waits.
        self.text[key] = text
        self.latest.setdefault(key, {})["content"] = text
        live = self.live[key]
        if self.queue.waiting_with(key, "content", live):
            return
        submitted = self.queue.submit(key, {"content": live})
        assert submitted.start == (key not in self.jobs)
        if submitted.start:
            self.jobs[key] = None

    @precondition(lambda self: self.jobs)
    @rule(data=st.data())
    def attempt(self, data: st.DataObject) -> None:
        # An attempt (first or retry) of the outstanding PATCH takes the latest fields.
        key = data.draw(st.sampled_from(sorted(self.jobs)))
        previous = self.jobs[key]
        patch = self.queue.take(key)
        if previous is not None:
            assert patch.version >= previous.version
        for name, value in patch.fields.items():
            assert not isinstance(value, Live), "a Live value went out unrendered"
            assert self.latest[key][name] == value  # never older than submitted
        if key in self.text and patch.fields.get("content") == self.text[key]:
            # Rendered now (live texts and plain values never overlap): it remembers it.
            assert self.live[key].taken == self.text[key]
        self.jobs[key] = patch

    @precondition(lambda self: any(p is not None for p in self.jobs.values()))
    @rule(data=st.data(), applied=st.booleans(), ok=st.booleans())
    def end(self, data: st.DataObject, applied: bool, ok: bool) -> None:
        # The attempt in flight ends: applied by Discord or not (a drop before or after),
        # and the driver learns success or a failure retrying cannot fix.
        key = data.draw(st.sampled_from(sorted(k for k, p in self.jobs.items() if p)))
        patch = self.jobs[key]
        assert patch is not None
        if applied and key not in self.gone:
            versions = self.applied_versions.setdefault(key, [])
            assert not versions or patch.version >= versions[-1]  # never an older one
            versions.append(patch.version)
            self.shown.setdefault(key, {}).update(patch.fields)
        if ok and applied:
            more = self.queue.confirmed(key, patch.version)
        elif not ok:
            more = self.queue.failed(key, patch.version)
            self.gone.add(key)
        else:
            self.jobs[key] = patch  # a retry: the next attempt takes again
            return
        if more:
            self.jobs[key] = None
        else:
            del self.jobs[key]
            assert not self.queue.outstanding(key)

    @invariant()
    def one_patch_per_message(self) -> None:
        assert set(self.jobs) == {k for k in ("a", "b") if self.queue.outstanding(k)}

    @invariant()
    def settled_messages_show_the_latest(self) -> None:
        for key, fields in self.latest.items():
            if key not in self.jobs and key not in self.gone:
                assert self.shown.get(key, {}) == fields


TestEdits = EditsMachine.TestCase
