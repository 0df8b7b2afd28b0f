"""Property tests for the chunker (C23) on generated markdown.

"Reassembled" is defined precisely: every chunk is ``prefix + body + suffix``; the bodies,
concatenated, are the original text exactly (nothing lost, nothing reordered, nothing
added); a prefix is only ever the opening line of the code fence that is open in the
original at that point, or the header and separator rows of the table being continued;
a suffix is only ever the closer of the fence open at the chunk's end (on its own line).
Those expectations are computed here by an independent line scanner, not by the chunker.
"""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from bridge.sessions.presentation.render import split_text
from protocol.discord.chunking import chunk_message

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")

words = st.text(
    alphabet=st.characters(
        codec="utf-8", exclude_characters="\n\r`~|\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
    ),
    min_size=1,
    max_size=30,
)
languages = st.sampled_from(["", "python", "js", "sh", "rust", "diff"])


@st.composite
def paragraph(draw: st.DrawFn) -> str:
    lines = draw(
        st.lists(st.lists(words, min_size=1, max_size=15).map(" ".join), min_size=1, max_size=6)
    )
    return "\n".join(lines) + "\n"


@st.composite
def code_block(draw: st.DrawFn) -> str:
    marker = draw(st.sampled_from(["```", "````", "~~~"]))
    body = draw(st.lists(st.text(alphabet="abc xyz=()[]{};:'\"\t#<>", max_size=80), max_size=25))
    closed = draw(st.booleans())  # an unclosed fence swallows the rest of the document
    text = marker + draw(languages) + "\n" + "".join(line + "\n" for line in body)
    return text + (marker + "\n" if closed else "")


@st.composite
def table(draw: st.DrawFn) -> str:
    cols = draw(st.integers(1, 4))
    cell = st.text(alphabet="abcdefgh 0123456789", min_size=1, max_size=12)
    header = "| " + " | ".join(draw(st.lists(cell, min_size=cols, max_size=cols))) + " |\n"
    separator = "|" + "|".join(["---"] * cols) + "|\n"
    rows = draw(
        st.lists(
            st.lists(cell, min_size=cols, max_size=cols).map(
                lambda r: "| " + " | ".join(r) + " |\n"
            ),
            max_size=30,
        )
    )
    return header + separator + "".join(rows)


@st.composite
def document(draw: st.DrawFn) -> str:
    blocks = draw(
        st.lists(
            st.one_of(paragraph(), code_block(), table(), st.just("\n")), min_size=1, max_size=12
        )
    )
    text = "\n".join(blocks)
    if draw(st.booleans()):
        # Sometimes end inside an unclosed fence, as a cut-off stream would.
        text += draw(st.sampled_from(["```", "~~~"])) + draw(languages) + "\n" + draw(paragraph())
    if draw(st.booleans()):
        text = text.rstrip("\n")
    return text


def fence_state_at(text: str, offset: int) -> tuple[str, str] | None:
    """(opening line, closer) of the fence open at ``offset`` of ``text``, if any."""
    state: tuple[str, str] | None = None
    for line in text[:offset].splitlines(keepends=True):
        if not line.endswith("\n") and offset < len(text):
            break  # a line cut mid-way is judged by the whole line, in the next chunk
        stripped = line.rstrip("\n")
        if state is None:
            m = FENCE.match(stripped)
            if m and not (m.group(1)[0] == "`" and "`" in m.group(2)):
                state = (line if line.endswith("\n") else line + "\n", m.group(1))
        else:
            closer = state[1]
            body = stripped.lstrip(" ")
            run = len(body) - len(body.lstrip(closer[0]))
            if len(stripped) - len(body) <= 3 and run >= len(closer) and not body[run:].strip():
                state = None
    return state


def balanced(chunk_text: str) -> bool:
    return fence_state_at(chunk_text, len(chunk_text)) is None


@given(text=document(), limit=st.one_of(st.integers(100, 600), st.just(2000)))
def test_chunks_fit_keep_fences_balanced_and_reassemble(text: str, limit: int) -> None:
    chunks = chunk_message(text, limit)
    # Nothing lost, reordered or added: the bodies are the original, in order.
    assert "".join(c.body for c in chunks) == text
    offset = 0
    for chunk in chunks:
        assert chunk.body, "an empty chunk"
        assert len(chunk.text) <= limit
        assert chunk.text == chunk.prefix + chunk.body + chunk.suffix
        open_at_start = fence_state_at(text, offset)
        offset += len(chunk.body)
        open_at_end = fence_state_at(text, offset)
        # The prefix is exactly the open fence's opening line, or a table header (checked
        # below), or nothing.
        if open_at_start is not None:
            assert chunk.prefix == open_at_start[0]
        elif chunk.prefix:
            header_rows = chunk.prefix.splitlines(keepends=True)
            assert len(header_rows) == 2
            assert chunk.prefix in text[: offset - len(chunk.body)]
            assert "|" in header_rows[0]
            assert set(header_rows[1].strip()) <= set("|-: ")
        # The suffix closes exactly the fence open at the chunk's end.
        if open_at_end is not None:
            assert chunk.suffix in (open_at_end[1], "\n" + open_at_end[1])
            assert (chunk.prefix + chunk.body + chunk.suffix).endswith(open_at_end[1])
            if chunk.suffix.startswith("\n"):
                assert not chunk.body.endswith("\n")
        else:
            assert chunk.suffix == ""
        assert balanced(chunk.text), f"unbalanced fences in {chunk.text!r}"


@given(text=st.text(max_size=3000), limit=st.integers(20, 300))
def test_any_text_reassembles_within_the_limit(text: str, limit: int) -> None:
    chunks = chunk_message(text, limit)
    assert "".join(c.body for c in chunks) == text
    assert all(len(c.text) <= limit for c in chunks)
    assert all(c.body for c in chunks)


@given(
    lines=st.lists(st.text(alphabet="abc def\n", max_size=40), max_size=60),
    limit=st.integers(60, 300),
)
def test_plain_text_cuts_on_boundaries_when_one_exists(lines: list[str], limit: int) -> None:
    text = "\n".join(lines)
    chunks = chunk_message(text, limit)
    assert "".join(c.body for c in chunks) == text
    for chunk in chunks[:-1]:
        assert not chunk.prefix
        assert not chunk.suffix
        # Words are at most 40 characters, far under the limit: never a hard cut mid-word.
        assert chunk.body[-1] in " \n"


@given(
    text=st.one_of(
        document(),
        st.text(alphabet=st.sampled_from(list("ab |-:`~#*\n\t")), max_size=400),
        st.text(max_size=300),
    ),
    limit=st.one_of(st.integers(20, 400), st.just(2000)),
)
def test_split_text_fast_path_gives_what_the_chunker_gives(text: str, limit: int) -> None:
    # render.split_text skips the chunker for text that fits and opens no fence.
    assert split_text(text, limit) == [c.text for c in chunk_message(text, limit) if c.text.strip()]
