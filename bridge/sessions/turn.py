"""One turn's pieces outside the session actor: what goes to Claude, and the task that
owns the ``claude`` process.

* :func:`prepare_input` turns the pending messages into one user message's parts (C10:
  text files appended, images as image blocks, refusals explained; X3: all of it goes over
  stdin, never argv).
* :class:`TurnProcess` holds one turn's ``open_claude`` block in a helper task, so the
  process's cancel scopes are entered and left by the same task whatever the actor does.
* :func:`resume_failed` recognises a ``--resume`` the CLI could not load.
* :func:`session_command` is the turn template with the session's own model (a task's,
  a trigger's or a spawn's, stored with the session), so every turn of the thread uses it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import attrs
import httpx
import trio

from bridge.claude.process import ClaudeMessage, ClaudeProcess, Offer, open_claude
from bridge.discord.errors import DiscordError
from bridge.sessions.attachments import (
    MAX_IMAGE_BYTES,
    MAX_TEXT_BYTES,
    AttachmentInfo,
    decode_text,
    download_failure,
    not_text_reason,
    plan_attachments,
    refusal_notice,
)
from bridge.store import SessionRecord
from protocol.claude import control
from protocol.claude import events as ev
from protocol.claude.argv import ClaudeCommand
from protocol.claude.turn import TaskItem

__all__ = [
    "PendingMessage",
    "TurnInput",
    "TurnProcess",
    "prepare_input",
    "resume_failed",
    "session_command",
]

log = logging.getLogger(__name__)

#: What Claude reads when a message carried only attachments that could not be passed on.
ONLY_REFUSED_ATTACHMENTS = "(The user sent only attachments that could not be passed on.)"


def session_command(
    template: ClaudeCommand, session: SessionRecord, thread_id: int
) -> ClaudeCommand:
    """``template`` (``CLAUDE_MODEL`` and the rest) with the session's stored model, if it
    has one. A stored name the CLI cannot take (a database written before model names were
    checked like ``CLAUDE_MODEL``) is logged and the template's model used, rather than
    failing every turn of the thread."""
    if session.model is None or session.model == template.model:
        return template
    try:
        return attrs.evolve(template, model=session.model)
    except control.ControlError as exc:
        log.warning("thread %s: stored model not usable (%s); using the default", thread_id, exc)
        return template


@attrs.define
class PendingMessage:
    """A message waiting to reach Claude; ``message_id`` None for the resume prompt."""

    message_id: int | None
    author_id: int
    content: str
    attachments: tuple[AttachmentInfo, ...] = ()


@attrs.frozen(kw_only=True)
class TurnInput:
    """One user message's parts, and the refusal notice for the thread (if any)."""

    text: str
    images: tuple[control.ImageAttachment, ...] = ()
    text_files: tuple[control.TextAttachment, ...] = ()
    refusals: str | None = None


class _Downloader(Protocol):
    async def download_attachment(self, url: str, *, max_bytes: int) -> bytes: ...


async def prepare_input(rest: _Downloader, batch: Sequence[PendingMessage]) -> TurnInput:
    """The messages of ``batch``, in order, as one user message (C10).

    Texts are joined with blank lines; attachments are planned by
    :func:`~bridge.sessions.attachments.plan_attachments` and downloaded (capped at their
    limits). A file refused by the plan or that fails to download is named in
    ``refusals``; it is never dropped silently.
    """
    texts = [p.content for p in batch if p.content.strip()]
    plan = plan_attachments([a for p in batch for a in p.attachments])
    refusals = [r.reason for r in plan.refused]
    text_files: list[control.TextAttachment] = []
    images: list[control.ImageAttachment] = []
    for info in plan.texts:
        data = await _download(rest, info, MAX_TEXT_BYTES, refusals)
        text = decode_text(data) if data is not None else None
        if data is not None and text is None:
            refusals.append(not_text_reason(info.filename))
        if text is not None:
            text_files.append(control.TextAttachment(filename=info.filename, text=text))
    for image in plan.images:
        data = await _download(rest, image.attachment, MAX_IMAGE_BYTES, refusals)
        if data is not None:
            images.append(control.ImageAttachment(media_type=image.media_type, data=data))
    text = "\n\n".join(texts)
    if not text and not images and not text_files:
        text = ONLY_REFUSED_ATTACHMENTS
    return TurnInput(
        text=text,
        images=tuple(images),
        text_files=tuple(text_files),
        refusals=refusal_notice(refusals),
    )


async def _download(
    rest: _Downloader, info: AttachmentInfo, max_bytes: int, refusals: list[str]
) -> bytes | None:
    try:
        return await rest.download_attachment(info.url, max_bytes=max_bytes)
    except (DiscordError, httpx.HTTPError) as exc:
        refusals.append(download_failure(info.filename, exc))
        return None


def resume_failed(result: ev.Result) -> bool:
    """The CLI could not load the session given to ``--resume`` (research §d: "No
    conversation found with session ID", with no turn run)."""
    return result.is_error and any("No conversation found" in e for e in result.errors)


class TurnProcess:
    """The helper task that holds one turn's ``open_claude`` block open.

    The block (a process group and a nursery) is entered and left by this one task, so
    its cancel scopes nest properly whatever the actor does meanwhile; the actor asks it
    to end with :meth:`close`. If the actor ends first, its nursery is cancelled and
    ``open_claude`` still terminates and reaps the process.
    """

    def __init__(self, close_grace: float) -> None:
        self._close_grace = close_grace
        self._close_requested = trio.Event()
        self._closed = trio.Event()
        self.returncode: int | None = None
        """The process's exit status once :meth:`close` returned (``None``: unknown)."""

    async def run(
        self,
        command: ClaudeCommand,
        deliver: Callable[[ClaudeMessage], Any],
        cwd: str,
        env: Mapping[str, str],
        total_timeout: float,
        interrupt_grace: float,
        tasks: tuple[TaskItem, ...] = (),
        offer: Offer | None = None,
        *,
        task_status: trio.TaskStatus[ClaudeProcess] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        try:
            async with open_claude(
                command,
                deliver=deliver,
                offer=offer,
                cwd=cwd,
                env=env,
                total_timeout=total_timeout,
                interrupt_grace=interrupt_grace,
                tasks=tasks,
            ) as proc:
                task_status.started(proc)
                await self._close_requested.wait()
                if proc.exited:
                    self.returncode = proc.returncode
                else:
                    self.returncode = await proc.close(grace=self._close_grace)
        finally:
            self._closed.set()

    async def close(self) -> int | None:
        """Close stdin, let the CLI exit (then terminate it), wait until it is reaped, and
        return its exit status (``None`` if the block ended before it was known)."""
        self._close_requested.set()
        await self._closed.wait()
        return self.returncode
