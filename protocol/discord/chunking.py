"""Split long text into Discord messages without breaking markdown (C23).

Theory of operation
-------------------
The text is cut into *pieces*: whole lines, or, for a line too long to fit in one message,
its words (a word with the whitespace after it), or, for a word too long, hard slices. Every
gap between two pieces is a possible cut, and each gap has a quality:

    paragraph (after a blank line) > line > word > hard slice

and a penalty if it falls inside a code fence or a table (the cut then costs repeated
markup, and a cut right after a fence opener or between a table's header and its separator
would leave an empty or headless block).

Pieces are packed greedily. When the next piece does not fit, we cut at the best gap of the
current chunk: the latest gap of the best quality that still leaves the chunk at least a
quarter full (so one early blank line does not produce a tiny message).

A cut inside a fenced code block closes the fence at the end of the chunk (the same fence
characters, e.g. ```` ``` ````) and reopens it at the start of the next chunk with the
original opening line (so ```` ```python ```` keeps its language). A cut between the rows of a
markdown table starts the next chunk with the table's header row and separator row again.
If the text ends inside an unclosed fence, the last chunk closes it.

What "no text lost or reordered" means precisely: every :class:`Chunk` is
``prefix + body + suffix``, where ``prefix`` is empty, a fence's opening line, or a table's
header and separator rows, ``suffix`` is empty or a fence closer (after a newline if the body
does not end with one), and ``"".join(chunk.body for chunk in chunks) == text``.
"""

from __future__ import annotations

import enum
import re
from typing import Final

import attrs

__all__ = ["DEFAULT_LIMIT", "Chunk", "chunk_message", "split_message"]

DEFAULT_LIMIT: Final = 2000
"""Discord's message content limit (limits.CONTENT)."""

_FENCE = re.compile(r"^ {0,3}(?P<fence>`{3,}|~{3,})(?P<info>[^\n]*)$")
_TABLE_SEPARATOR = re.compile(r"^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$")
_WORDS = re.compile(r"\S+\s*|\s+")
_MIN_FILL: Final = 0.25
"""A preferred cut must leave the chunk at least this full, else a worse-quality later cut
wins: one early paragraph break should not produce a tiny message."""


@attrs.frozen(kw_only=True)
class Chunk:
    """One message: ``text`` is what to send; ``body`` is the slice of the original."""

    prefix: str
    """Markup repeated from earlier: a fence's opening line or a table's header rows."""
    body: str
    suffix: str
    """A fence closer added because the chunk ends inside a code block."""

    @property
    def text(self) -> str:
        return self.prefix + self.body + self.suffix


class _Quality(enum.IntEnum):
    FORBIDDEN = 0
    HARD = 1
    WORD = 2
    LINE = 3
    PARAGRAPH = 4


@attrs.frozen
class _Context:
    """What is open at a gap: the markup a chunk ending there must close and the next
    chunk must reopen."""

    reopen: str = ""
    closer: str = ""


_OUTSIDE: Final = _Context()


@attrs.frozen
class _Piece:
    text: str
    gap_after: _Quality
    """Quality of the cut right after this piece."""
    context_after: _Context
    """What is open right after this piece."""


def split_message(text: str, limit: int = DEFAULT_LIMIT) -> list[str]:
    """``text`` as message contents of at most ``limit`` characters each (see module doc)."""
    return [chunk.text for chunk in chunk_message(text, limit)]


def chunk_message(text: str, limit: int = DEFAULT_LIMIT) -> list[Chunk]:
    """Split ``text`` into chunks whose ``text`` is at most ``limit`` characters.

    Empty text gives no chunks. Raises ``ValueError`` if ``limit`` is below 20 (too small to
    hold a fence closer and opener with any content).
    """
    if limit < 20:
        raise ValueError(f"limit must be at least 20 characters, got {limit}")
    if not text:
        return []
    pieces = _pieces(text, limit)
    chunks: list[Chunk] = []
    start = 0
    context = _OUTSIDE
    while start < len(pieces):
        prefix = _fitting_prefix(context, limit)
        end = _choose_end(pieces, start, prefix, limit)
        body = "".join(p.text for p in pieces[start:end])
        closing = pieces[end - 1].context_after
        suffix = _suffix(body, closing) if closing.closer else ""
        chunks.append(Chunk(prefix=prefix, body=body, suffix=suffix))
        start, context = end, closing
    return chunks


def _fitting_prefix(context: _Context, limit: int) -> str:
    # Repeating a huge table header or fence line could leave no room for content; past a
    # quarter of the limit we do without it (the text itself is never dropped).
    return context.reopen if len(context.reopen) <= limit // 4 else ""


def _suffix(body: str, context: _Context) -> str:
    return context.closer if body.endswith("\n") else "\n" + context.closer


def _cost(body_len: int, prefix: str, piece: _Piece) -> int:
    closer = piece.context_after.closer
    return len(prefix) + body_len + (len(closer) + 1 if closer else 0)


def _choose_end(pieces: list[_Piece], start: int, prefix: str, limit: int) -> int:
    """Index one past the last piece of the chunk starting at ``start``."""
    body_len = 0
    candidates: list[tuple[int, int]] = []  # (end index, body length)
    i = start
    while i < len(pieces):
        body_len += len(pieces[i].text)
        if _cost(body_len, prefix, pieces[i]) > limit:
            break
        candidates.append((i + 1, body_len))
        i += 1
    else:
        return len(pieces)  # everything left fits
    if not candidates:
        # Pieces are cut to fit an empty chunk with the largest prefix and closer, so this
        # only happens when a repeated prefix was dropped; take one piece regardless.
        return start + 1
    best_end, best_key = candidates[-1][0], (-1, -1, -1)
    for end, length in candidates:
        quality = pieces[end - 1].gap_after
        full_enough = length >= limit * _MIN_FILL
        # Best quality among cuts that leave the chunk full enough; a forbidden cut only
        # if nothing else fits; the latest cut among equals.
        key = (int(quality) if full_enough else 0, int(quality > _Quality.FORBIDDEN), end)
        if key > best_key:
            best_key, best_end = key, end
    return best_end


# ---------------------------------------------------------------------------------------------
# Cutting the text into pieces, with the markdown context at every gap
# ---------------------------------------------------------------------------------------------


def _pieces(text: str, limit: int) -> list[_Piece]:
    lines = text.splitlines(keepends=True)
    kinds = _classify(lines)
    # The most a chunk can spend on markup: a reopened prefix (at most limit // 4, see
    # _fitting_prefix) and a closer with its newline. Pieces must fit in what is left.
    room = max(1, limit - limit // 4 - _longest_fence(lines) - 1)
    pieces: list[_Piece] = []
    for i, line in enumerate(lines):
        kind = kinds[i]
        nxt = kinds[i + 1] if i + 1 < len(kinds) else None
        context = kind.context_after
        # Repeat a table header only if more rows follow the cut.
        rows_follow = nxt is not None and nxt.kind is _Kind.TABLE_ROW
        if kind.kind in (_Kind.TABLE_SEPARATOR, _Kind.TABLE_ROW) and not rows_follow:
            context = _OUTSIDE
        if kind.kind is _Kind.TEXT and not line.strip():
            quality = _Quality.PARAGRAPH
        elif kind.kind in (_Kind.FENCE_OPEN, _Kind.TABLE_HEADER):
            # After a fence opener: an empty code block; after a header: a headless table.
            quality = _Quality.FORBIDDEN
        elif kind.kind is _Kind.TABLE_SEPARATOR and context is not _OUTSIDE:
            quality = _Quality.FORBIDDEN  # a table with no rows, then its header again
        elif kind.kind is _Kind.FENCE_BODY and nxt is not None and nxt.kind is _Kind.FENCE_CLOSE:
            quality = _Quality.FORBIDDEN  # the next chunk would be an empty code block
        else:
            quality = _Quality.LINE
        _add_line(pieces, line, quality, context, room)
    return pieces


class _Kind(enum.Enum):
    TEXT = "text"
    FENCE_OPEN = "fence_open"
    FENCE_BODY = "fence_body"
    FENCE_CLOSE = "fence_close"
    TABLE_HEADER = "table_header"
    TABLE_SEPARATOR = "table_separator"
    TABLE_ROW = "table_row"


@attrs.frozen
class _LineKind:
    kind: _Kind
    context_after: _Context = _OUTSIDE


def _classify(lines: list[str]) -> list[_LineKind]:
    """What each line is, and what markup is open after it."""
    kinds: list[_LineKind] = []
    fence: _Context | None = None
    table: _Context | None = None
    for i, line in enumerate(lines):
        stripped = line.rstrip("\n")
        if fence is not None:
            if _closes(stripped, fence.closer):
                kinds.append(_LineKind(_Kind.FENCE_CLOSE))
                fence = None
            else:
                kinds.append(_LineKind(_Kind.FENCE_BODY, fence))
            continue
        match = _FENCE.match(stripped)
        if match and not (match.group("fence")[0] == "`" and "`" in match.group("info")):
            opener = line if line.endswith("\n") else line + "\n"
            fence = _Context(reopen=opener, closer=match.group("fence"))
            table = None
            kinds.append(_LineKind(_Kind.FENCE_OPEN, fence))
            continue
        if table is not None and "|" in line and line.strip():
            kinds.append(_LineKind(_Kind.TABLE_ROW, table))
            continue
        table = None
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if "|" in line and line.endswith("\n") and _is_separator(nxt):
            kinds.append(_LineKind(_Kind.TABLE_HEADER))
            continue
        if kinds and kinds[-1].kind is _Kind.TABLE_HEADER:
            table = _Context(reopen=lines[i - 1] + line)
            kinds.append(_LineKind(_Kind.TABLE_SEPARATOR, table))
            continue
        kinds.append(_LineKind(_Kind.TEXT))
    return kinds


def _is_separator(line: str) -> bool:
    return line.endswith("\n") and "-" in line and bool(_TABLE_SEPARATOR.match(line[:-1]))


def _longest_fence(lines: list[str]) -> int:
    longest = 3
    for line in lines:
        match = _FENCE.match(line.rstrip("\n"))
        if match:
            longest = max(longest, len(match.group("fence")))
    return longest


def _closes(stripped: str, closer: str) -> bool:
    body = stripped.lstrip(" ")
    if len(stripped) - len(body) > 3:
        return False
    run = len(body) - len(body.lstrip(closer[0]))
    return run >= len(closer) and body[run:].strip() == ""


def _add_line(
    pieces: list[_Piece], line: str, quality: _Quality, context: _Context, room: int
) -> None:
    if len(line) <= room:
        pieces.append(_Piece(line, quality, context))
        return
    # Too long for one message: words, then hard slices for words that are still too long.
    parts: list[tuple[str, _Quality]] = []
    for word in _WORDS.findall(line):
        while len(word) > room:
            parts.append((word[:room], _Quality.HARD))
            word = word[room:]
        if word:
            parts.append((word, _Quality.WORD))
    for text, gap in parts[:-1]:
        pieces.append(_Piece(text, gap, context))
    pieces.append(_Piece(parts[-1][0], quality, context))
