"""The chunker (C23): limits, fences closed and reopened, table headers repeated."""

from __future__ import annotations

import pytest

from protocol.discord.chunking import Chunk, chunk_message, split_message


def bodies(chunks: list[Chunk]) -> str:
    return "".join(c.body for c in chunks)


def test_short_text_is_one_chunk_and_empty_is_none() -> None:
    assert split_message("hello") == ["hello"]
    assert split_message("") == []


def test_prefers_paragraph_then_line_then_word_boundaries() -> None:
    para = "a" * 60 + "\n\n"
    text = para + "b" * 30 + "\n" + "c" * 30
    chunks = chunk_message(text, 100)
    assert [c.body for c in chunks] == [para, "b" * 30 + "\n" + "c" * 30]
    lines = "".join(f"line {i:02d} " + "x" * 20 + "\n" for i in range(10))
    chunks = chunk_message(lines, 100)
    assert all(c.body.endswith("\n") for c in chunks)
    assert bodies(chunks) == lines
    words = " ".join(["word"] * 100)
    chunks = chunk_message(words, 50)
    assert all(c.body.endswith(" ") for c in chunks[:-1])
    assert bodies(chunks) == words


def test_a_long_word_is_hard_split() -> None:
    text = "z" * 250
    chunks = split_message(text, 100)
    assert "".join(chunks) == text
    assert all(len(c) <= 100 for c in chunks)


def test_code_fence_closed_and_reopened_with_its_language() -> None:
    code = "```python\n" + "".join(f"print({i})\n" for i in range(40)) + "```\n"
    chunks = chunk_message(code, 120)
    assert len(chunks) > 1
    assert bodies(chunks) == code
    assert chunks[0].prefix == ""
    assert chunks[0].suffix == "```"
    for chunk in chunks[1:]:
        assert chunk.prefix == "```python\n"
        assert chunk.text.startswith("```python\n")
    assert chunks[-1].suffix == ""
    for chunk in chunks:
        assert len(chunk.text) <= 120
        assert chunk.text.count("```") == 2


def test_tilde_and_long_fences_close_with_the_same_marker() -> None:
    code = "~~~~sh\n" + "echo hi\n" * 30 + "~~~~\n"
    chunks = chunk_message(code, 80)
    assert chunks[0].suffix == "~~~~"
    assert chunks[1].prefix == "~~~~sh\n"


def test_unclosed_fence_at_the_end_is_closed_in_the_last_chunk() -> None:
    text = "see:\n```js\nconsole.log(1)\n"
    (chunk,) = chunk_message(text, 2000)
    assert chunk.body == text
    assert chunk.text == text + "```"


def test_split_mid_line_in_a_fence_closes_on_a_new_line() -> None:
    text = "```\n" + "x " * 200 + "\n```"
    chunks = chunk_message(text, 100)
    assert chunks[0].suffix == "\n```"
    assert bodies(chunks) == text


def test_table_header_is_repeated() -> None:
    header = "| name | value |\n|------|-------|\n"
    rows = "".join(f"| row{i} | {i * 7} |\n" for i in range(30))
    text = "Results:\n" + header + rows + "done\n"
    chunks = chunk_message(text, 150)
    assert bodies(chunks) == text
    continued = [c for c in chunks if c.prefix]
    assert continued
    for chunk in continued:
        assert chunk.prefix == header
    # No chunk ends between the header row and its separator.
    for chunk in chunks:
        assert not chunk.body.endswith("| name | value |\n")
    # The last chunk does not repeat the header before plain text.
    assert chunks[-1].body.endswith("done\n")
    if not chunks[-1].body.startswith("|"):
        assert chunks[-1].prefix == ""


def test_every_chunk_is_within_the_limit_at_2000() -> None:
    text = ("word " * 150 + "\n\n") * 20 + "```\n" + "code line\n" * 400 + "```\n"
    chunks = split_message(text)
    assert all(len(c) <= 2000 for c in chunks)
    assert len(chunks) >= 4


def test_limit_too_small_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 20"):
        chunk_message("x", 19)
