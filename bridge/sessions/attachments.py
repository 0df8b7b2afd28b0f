"""Which attachments of a Discord message reach Claude, and how (C10).

Text files are appended to the prompt (at most 5 files, 50 KB each); images go to Claude as
base64 image blocks (at most 4, 5 MB each, in a format the Messages API accepts). Anything
else, or anything over a limit, is refused with a message naming the file and the limit,
never dropped silently. Pure: the session actor downloads what the plan keeps.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import PurePosixPath

import attrs

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
        if not self.refused:
            return None
        lines = ["Some attachments were not passed to Claude:"]
        lines += [f"- {r.reason}" for r in self.refused]
        return "\n".join(lines)


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
                        f"`{item.filename}` is {_size(item.size)}; "
                        f"images are limited to {_size(MAX_IMAGE_BYTES)}",
                    )
                )
            elif len(images) >= MAX_IMAGES:
                refused.append(
                    Refusal(item, f"`{item.filename}`: at most {MAX_IMAGES} images per message")
                )
            else:
                images.append(ImageAttachment(item, media))
        elif _is_text(item):
            if item.size > MAX_TEXT_BYTES:
                refused.append(
                    Refusal(
                        item,
                        f"`{item.filename}` is {_size(item.size)}; text "
                        f"files are limited to {_size(MAX_TEXT_BYTES)}",
                    )
                )
            elif len(texts) >= MAX_TEXT_FILES:
                refused.append(
                    Refusal(
                        item, f"`{item.filename}`: at most {MAX_TEXT_FILES} text files per message"
                    )
                )
            else:
                texts.append(item)
        else:
            kind = item.content_type or "unknown type"
            refused.append(
                Refusal(
                    item,
                    f"`{item.filename}` ({kind}) is neither a text file "
                    "nor a PNG, JPEG, GIF or WebP image",
                )
            )
    return AttachmentPlan(tuple(texts), tuple(images), tuple(refused))


def append_text_files(prompt: str, files: Sequence[tuple[str, bytes]]) -> str:
    """The prompt with each text file appended under a header naming it."""
    parts = [prompt]
    for filename, data in files:
        text = data.decode("utf-8", errors="replace")
        parts.append(f"--- Attached file: {filename} ---\n{text}")
    return "\n\n".join(parts)


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
