"""Attachment planning (C10): what reaches Claude and what is refused, with reasons."""

from __future__ import annotations

import codecs
import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from bridge.discord.errors import AttachmentTooLarge, HTTPError
from bridge.sessions.attachments import (
    MAX_IMAGE_BYTES,
    MAX_IMAGES,
    MAX_TEXT_BYTES,
    MAX_TEXT_FILES,
    AttachmentInfo,
    decode_text,
    download_failure,
    plan_attachments,
    shown_name,
)


def att(n: int, filename: str, size: int = 10, content_type: str | None = None) -> AttachmentInfo:
    return AttachmentInfo(
        id=n, filename=filename, size=size, url=f"http://cdn/{n}", content_type=content_type
    )


def test_sorts_text_images_and_others() -> None:
    plan = plan_attachments(
        [
            att(1, "notes.md", content_type="text/markdown; charset=utf-8"),
            att(2, "message.txt"),  # Discord's long-paste file has no content type
            att(3, "shot.png", content_type="image/png"),
            att(4, "photo.JPG"),
            att(5, "report.pdf", content_type="application/pdf"),
            att(6, "icon.bmp", content_type="image/bmp"),
        ]
    )
    assert [a.id for a in plan.texts] == [1, 2]
    assert [(i.attachment.id, i.media_type) for i in plan.images] == [
        (3, "image/png"),
        (4, "image/jpeg"),
    ]
    assert [r.attachment.id for r in plan.refused] == [5, 6]
    notice = plan.refusal_notice()
    assert notice is not None
    assert "`report.pdf` (application/pdf)" in notice
    assert "`icon.bmp` (image/bmp)" in notice


def test_size_and_count_limits_name_the_limit() -> None:
    texts = [att(n, f"f{n}.txt") for n in range(MAX_TEXT_FILES + 1)]
    images = [att(100 + n, f"i{n}.png") for n in range(MAX_IMAGES + 1)]
    big = [att(200, "big.txt", MAX_TEXT_BYTES + 1), att(201, "big.png", MAX_IMAGE_BYTES + 1)]
    plan = plan_attachments([*big, *texts, *images])
    assert len(plan.texts) == MAX_TEXT_FILES
    assert len(plan.images) == MAX_IMAGES
    reasons = {r.attachment.filename: r.reason for r in plan.refused}
    assert "limited to 50 KB" in reasons["big.txt"]
    assert "limited to 5.0 MB" in reasons["big.png"]
    assert f"at most {MAX_TEXT_FILES} text files" in reasons[f"f{MAX_TEXT_FILES}.txt"]
    assert f"at most {MAX_IMAGES} images" in reasons[f"i{MAX_IMAGES}.png"]


def test_all_kept_means_no_notice() -> None:
    assert plan_attachments([att(1, "a.py")]).refusal_notice() is None


# --- text detection -------------------------------------------------------------------

# What text files hold: any character but the control ones other than tab and line breaks.
_TEXT = st.text(
    st.characters(exclude_categories=("Cc", "Cs")) | st.sampled_from("\t\n\r"), max_size=300
)


@given(_TEXT)
def test_utf8_text_comes_back_unchanged(text: str) -> None:
    assert decode_text(text.encode()) == text
    assert decode_text(codecs.BOM_UTF8 + text.encode()) == text
    if any(c < "\u0100" for c in text):  # so its UTF-16 holds a NUL byte: refused
        assert decode_text(codecs.BOM_UTF16_LE + text.encode("utf-16-le")) is None


@given(_TEXT, _TEXT)
def test_a_nul_byte_is_binary(before: str, after: str) -> None:
    assert decode_text(before.encode() + b"\x00" + after.encode()) is None


# Bytes that are never valid UTF-8 on their own: continuation bytes and 0xF8-0xFF.
_INVALID = st.binary(min_size=1).map(lambda b: bytes(0x80 | (x & 0x3F) for x in b)) | st.binary(
    min_size=1
).map(lambda b: bytes(0xF8 | (x & 0x07) for x in b))


@given(st.text(st.characters(max_codepoint=0x7E, min_codepoint=0x20), max_size=50), _INVALID)
def test_mostly_invalid_utf8_is_refused(ascii_text: str, invalid: bytes) -> None:
    data = ascii_text.encode() + invalid * (len(ascii_text) // len(invalid) + 1)
    assert decode_text(data) is None


@given(st.binary(max_size=400))
def test_any_bytes_are_refused_or_mostly_clean_text(data: bytes) -> None:
    text = decode_text(data)
    if text is not None:
        junk = sum(
            1
            for c in text
            if c == "\ufffd" or (unicodedata.category(c) == "Cc" and c not in "\t\n\r\f\v\x1b")
        )
        assert junk <= 0.1 * len(text) + data.count("\ufffd".encode())


def test_a_latin1_file_with_a_few_accents_is_still_text() -> None:
    line = "Caf\u00e9 opened at 7, the usual crowd came in for coffee and bread.\n"
    text = decode_text(line.encode("latin-1") * 3)
    assert text is not None
    assert text.startswith("Caf\ufffd opened at 7")


# --- what the thread is told -----------------------------------------------------------


@given(st.text(max_size=300))
def test_a_shown_name_is_one_code_span_on_one_line(filename: str) -> None:
    shown = shown_name(filename)
    assert shown.startswith("`")
    assert shown.endswith("`")
    assert shown.count("`") == 2
    assert "\n" not in shown
    assert len(shown) <= 102


def test_download_failures_say_which_file_and_what_to_do() -> None:
    expired = download_failure(
        "notes.md", HTTPError(status=404, code=0, message="Not Found", route="GET cdn attachment")
    )
    assert expired.startswith("`notes.md` could not be downloaded")
    assert "send the file again" in expired
    server = download_failure(
        "a.py", HTTPError(status=503, code=0, message="Unavailable", route="GET cdn attachment")
    )
    assert "HTTP 503" in server
    assert "send the file again in a moment" in server
    big = download_failure("big.log", AttachmentTooLarge(url="u", size=None, limit=MAX_TEXT_BYTES))
    assert big.startswith("`big.log` is larger than the 50 KB limit")
    offline = download_failure("x.txt", OSError("connection refused"))
    assert "could not be reached" in offline
