"""Attachment planning (C10): what reaches Claude and what is refused, with reasons."""

from __future__ import annotations

from bridge.sessions.attachments import (
    MAX_IMAGE_BYTES,
    MAX_IMAGES,
    MAX_TEXT_BYTES,
    MAX_TEXT_FILES,
    AttachmentInfo,
    append_text_files,
    plan_attachments,
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


def test_append_text_files_keeps_prompt_and_names_files() -> None:
    text = append_text_files("fix this", [("a.py", b"print(1)\n"), ("b.txt", b"\xffok")])
    assert text.startswith("fix this\n\n--- Attached file: a.py ---\nprint(1)\n")
    assert "--- Attached file: b.txt ---\n\ufffdok" in text
