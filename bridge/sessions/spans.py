"""When a session starts and ends, for the lounge and the coordination channel (K4, K5).

Theory of operation
-------------------
A session actor reports every turn (``SessionStarted`` when a ``claude`` process starts,
``SessionFinished`` when it is gone), but a conversation is many turns: a reply, an
interrupt by a new message (C21), an answered prompt. The lounge and the coordination
channel want one start line and one end line per *session*, where a session is a span of
work: it starts with a turn of a thread that has no span open, and it ends once the
thread has been at rest (no turn) for ``quiet`` seconds. A turn starting within that time
continues the same span, so nothing is posted for it.

:class:`SessionSpans` is that decision, pure: the caller passes what happened, and arms a
timer for :meth:`SessionSpans.finished`'s token, then calls :meth:`SessionSpans.quiet_over`
when it fires (a stale token, from a turn that came since, is ignored).
"""

from __future__ import annotations

import attrs

__all__ = ["SessionSpans", "Span"]


@attrs.define
class Span:
    title: str
    working_dir: str
    quiet_token: int | None = None
    """Set while the thread is at rest: the token of the timer that ends the span."""
    outcome: str = "done"
    """The last turn's outcome, for the end line."""


@attrs.define
class SessionSpans:
    """The open spans by thread. See the module docstring."""

    spans: dict[int, Span] = attrs.field(factory=dict)
    _tokens: int = 0

    def started(self, thread_id: int, title: str, working_dir: str) -> bool:
        """A turn started; whether this opens a span (post the start line)."""
        span = self.spans.get(thread_id)
        if span is not None:
            span.quiet_token = None
            span.title = title
            return False
        self.spans[thread_id] = Span(title=title, working_dir=working_dir)
        return True

    def finished(self, thread_id: int, outcome: str) -> int | None:
        """A turn ended: the token of the quiet timer to arm, or ``None`` (no span open)."""
        span = self.spans.get(thread_id)
        if span is None:
            return None
        self._tokens += 1
        span.quiet_token = self._tokens
        span.outcome = outcome
        return self._tokens

    def quiet_over(self, thread_id: int, token: int) -> Span | None:
        """The quiet timer ``token`` fired: the span that ends now (post its end line), or
        ``None`` when a turn came since."""
        span = self.spans.get(thread_id)
        if span is None or span.quiet_token != token:
            return None
        del self.spans[thread_id]
        return span

    def end_all_at_rest(self) -> list[tuple[int, Span]]:
        """Stopping: every span at rest ends now (its thread has no turn running)."""
        ended = [(tid, s) for tid, s in self.spans.items() if s.quiet_token is not None]
        for thread_id, _ in ended:
            del self.spans[thread_id]
        return ended
