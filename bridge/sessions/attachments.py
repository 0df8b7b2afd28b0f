"""Which attachments of a Discord message reach Claude, and how (C10).

Text files are appended to the prompt (at most 5 files, 50 KB each); images go to Claude as
base64 image blocks (at most 4, 5 MB each, in a format the Messages API accepts). Anything
else, or anything over a limit, is refused with a message naming the file and the limit,
never dropped silently. A "text" file whose bytes turn out not to be text
(:func:`decode_text`) is refused after download, and a download that fails is named with
what to do (:func:`download_failure`). Pure: the session actor downloads what the plan keeps.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from pathlib import PurePosixPath

import attrs

from bridge.discord.errors import AttachmentTooLarge, HTTPError

MAX_TEXT_FILES = 5
MAX_TEXT_BYTES = 50 * 1024
MAX_IMAGES = 4
MAX_IMAGE_BYTES = 5 * 1024 * 1024
# The image media types the Anthropic Messages API accepts in base64 image blocks.
IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
_IMAGE_EXTENSIONS = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
}
# Discord sends content_type=None for long pastes turned into message.txt, and often for
# source files, so the extension decides when the type is missing.
_TEXT_EXTENSIONS = frozenset(
    (
        ".txt",
        ".md",
        ".markdown",
        ".rst",
        ".py",
        ".pyi",
        ".js",
        ".ts",
        ".tsx",
        ".jsx",
        ".json",
        ".jsonl",
        ".yaml",
        ".yml",
        ".toml",
        ".ini",
        ".cfg",
        ".conf",
        ".csv",
        ".tsv",
        ".log",
        ".sh",
        ".bash",
        ".zsh",
        ".html",
        ".htm",
        ".css",
        ".scss",
        ".xml",
        ".sql",
        ".go",
        ".rs",
        ".java",
        ".kt",
        ".c",
        ".h",
        ".cc",
        ".cpp",
        ".hpp",
        ".cs",
        ".rb",
        ".php",
        ".swift",
        ".lua",
        ".r",
        ".diff",
        ".patch",
    )
)
_TEXT_TYPES = frozenset(
    {
        "application/json",
        "application/xml",
        "application/x-yaml",
        "application/toml",
        "application/javascript",
        "application/x-sh",
    }
)


@attrs.frozen(kw_only=True)
class AttachmentInfo:
    """What Discord says about an attachment, before downloading it."""

    id: int
    filename: str
    size: int
    url: str
    content_type: str | None = None


@attrs.frozen
class Refusal:
    attachment: AttachmentInfo
    reason: str
    """A sentence for the thread, naming the file and the limit."""


@attrs.frozen
class ImageAttachment:
    attachment: AttachmentInfo
    media_type: str


@attrs.frozen
class AttachmentPlan:
    texts: tuple[AttachmentInfo, ...]
    images: tuple[ImageAttachment, ...]
    refused: tuple[Refusal, ...]

    def refusal_notice(self) -> str | None:
        """One message listing every refused file, or None if all were kept."""
        return refusal_notice([r.reason for r in self.refused])


def refusal_notice(reasons: Sequence[str]) -> str | None:
    """One message listing every reason a file was not passed on, or None if there is none."""
    if not reasons:
        return None
    return "\n".join(["Some attachments were not passed to Claude:", *(f"- {r}" for r in reasons)])


def plan_attachments(attachments: Sequence[AttachmentInfo]) -> AttachmentPlan:
    """Sort attachments into texts to append, images to send, and refusals with reasons."""
    texts: list[AttachmentInfo] = []
    images: list[ImageAttachment] = []
    refused: list[Refusal] = []
    for item in attachments:
        media = _image_type(item)
        if media is not None:
            if item.size > MAX_IMAGE_BYTES:
                refused.append(
                    Refusal(
                        item,
                        f"{shown_name(item.filename)} is {_size(item.size)}; "
                        f"images are limited to {_size(MAX_IMAGE_BYTES)}",
                    )
                )
            elif len(images) >= MAX_IMAGES:
                refused.append(
                    Refusal(
                        item,
                        f"{shown_name(item.filename)}: at most {MAX_IMAGES} images per message",
                    )
                )
            else:
                images.append(ImageAttachment(item, media))
        elif _is_text(item):
            if item.size > MAX_TEXT_BYTES:
                refused.append(
                    Refusal(
                        item,
                        f"{shown_name(item.filename)} is {_size(item.size)}; text "
                        f"files are limited to {_size(MAX_TEXT_BYTES)}",
                    )
                )
            elif len(texts) >= MAX_TEXT_FILES:
                refused.append(
                    Refusal(
                        item,
                        f"{shown_name(item.filename)}: at most {MAX_TEXT_FILES} text files "
                        "per message",
                    )
                )
            else:
                texts.append(item)
        else:
            kind = item.content_type or "unknown type"
            refused.append(
                Refusal(
                    item,
                    f"{shown_name(item.filename)} ({kind}) is neither a text file "
                    "nor a PNG, JPEG, GIF or WebP image",
                )
            )
    return AttachmentPlan(tuple(texts), tuple(images), tuple(refused))


# A file is not text when more than this share of its characters are undecodable bytes or
# control characters: a few stray Latin-1 bytes in a log pass, a binary does not.
_MAX_JUNK_SHARE = 0.1
# Control characters text files do hold: tab, newlines, form feed, vertical tab, escape.
_TEXT_CONTROLS = frozenset("\t\n\r\f\v\x1b")


def decode_text(data: bytes) -> str | None:
    """The text of an attached "text" file, or None if its bytes are not text.

    A NUL byte means binary (UTF-16 text has them too, and is refused with advice to save
    it as UTF-8). Otherwise the bytes are decoded as UTF-8 (a byte-order mark is dropped)
    with replacement characters, and refused if more than a tenth of the result is
    replacements or control characters (a binary, or another encoding throughout), so
    Claude never gets a page of U+FFFD for a file.
    """
    if b"\x00" in data:
        return None
    text = data.decode("utf-8-sig", errors="replace")
    # U+FFFD written in the file itself is text; only the ones decoding made count.
    made = text.count("\ufffd") - data.count("\ufffd".encode())
    return text if _junk_share(text, made) <= _MAX_JUNK_SHARE else None


def _junk_share(text: str, replacements: int) -> float:
    if not text:
        return 0.0
    controls = sum(1 for c in text if c not in _TEXT_CONTROLS and unicodedata.category(c) == "Cc")
    return (controls + replacements) / len(text)


def not_text_reason(filename: str) -> str:
    """Why a downloaded "text" file was refused, and what to do instead."""
    return (
        f"{shown_name(filename)} is not a text file (its bytes are binary or not UTF-8); "
        "send it as a PNG, JPEG, GIF or WebP image, or paste the text, saved as UTF-8"
    )


def download_failure(filename: str, error: BaseException) -> str:
    """What went wrong downloading ``filename``, in plain words, with what to do."""
    name = shown_name(filename)
    if isinstance(error, AttachmentTooLarge):
        return (
            f"{name} is larger than the {_size(error.limit)} limit, so it was not "
            "downloaded; send a smaller file, or paste the part that matters"
        )
    if isinstance(error, HTTPError) and error.status in (403, 404, 410):
        return (
            f"{name} could not be downloaded: Discord's link to it has expired or the file "
            "was deleted; send the file again"
        )
    if isinstance(error, HTTPError):
        return (
            f"{name} could not be downloaded: Discord's file server answered with an error "
            f"(HTTP {error.status}); send the file again in a moment"
        )
    return (
        f"{name} could not be downloaded: Discord's file server could not be reached; "
        "send the file again in a moment"
    )


def shown_name(filename: str) -> str:
    """``filename`` as inline code in a Discord message: backticks, control characters and
    line breaks cannot end the code span or the line, and a long name is shortened."""
    cleaned = "".join(
        "'" if c == "`" else ("?" if unicodedata.category(c)[0] in "CZ" and c != " " else c)
        for c in filename
    )
    if len(cleaned) > 100:
        cleaned = cleaned[:99] + "\u2026"
    return f"`{cleaned or '?'}`"


def _base_type(content_type: str | None) -> str | None:
    return content_type.split(";")[0].strip().lower() if content_type else None


def _image_type(item: AttachmentInfo) -> str | None:
    base = _base_type(item.content_type)
    if base is not None and base.startswith("image/"):
        return base if base in IMAGE_TYPES else None
    if base is None:
        return _IMAGE_EXTENSIONS.get(PurePosixPath(item.filename.lower()).suffix)
    return None


def _is_text(item: AttachmentInfo) -> bool:
    base = _base_type(item.content_type)
    if base is not None and (base.startswith("text/") or base in _TEXT_TYPES):
        return True
    name = item.filename.lower()
    return base in (None, "application/octet-stream") and (
        PurePosixPath(name).suffix in _TEXT_EXTENSIONS or name in _TEXT_EXTENSIONS
    )


def _size(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):.1f} MB"
    return f"{n / 1024:.0f} KB"
