"""prepare_input: a "text" file holding binary bytes, or one that fails to download, is
named in the thread's notice with what to do, and never reaches Claude as junk."""

from __future__ import annotations

from bridge.discord.errors import HTTPError
from bridge.sessions.attachments import AttachmentInfo
from bridge.sessions.turn import ONLY_REFUSED_ATTACHMENTS, PendingMessage, prepare_input


class Cdn:
    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files

    async def download_attachment(self, url: str, *, max_bytes: int) -> bytes:
        if url not in self.files:
            raise HTTPError(status=404, code=0, message="Not Found", route="GET cdn attachment")
        return self.files[url]


def _att(n: int, filename: str) -> AttachmentInfo:
    return AttachmentInfo(id=n, filename=filename, size=10, url=f"cdn/{n}")


async def test_binary_text_and_failed_downloads_are_named_and_kept_from_claude() -> None:
    cdn = Cdn({"cdn/1": b"print('hi')\n", "cdn/2": b"\x7fELF\x02\x01\x01\x00" * 20})
    message = PendingMessage(
        message_id=1,
        author_id=5,
        content="look at these",
        attachments=(_att(1, "ok.py"), _att(2, "tool.log"), _att(3, "gone.txt")),
    )
    result = await prepare_input(cdn, [message])
    assert [f.filename for f in result.text_files] == ["ok.py"]
    assert result.text == "look at these"
    assert result.refusals is not None
    lines = result.refusals.splitlines()
    assert lines[0] == "Some attachments were not passed to Claude:"
    assert lines[1].startswith("- `tool.log` is not a text file")
    assert lines[2].startswith("- `gone.txt` could not be downloaded")
    assert lines[2].endswith("send the file again")


async def test_only_binary_attachments_tell_claude_so() -> None:
    cdn = Cdn({"cdn/1": bytes(range(256))})
    message = PendingMessage(message_id=1, author_id=5, content="", attachments=(_att(1, "a.txt"),))
    result = await prepare_input(cdn, [message])
    assert result.text == ONLY_REFUSED_ATTACHMENTS
    assert result.text_files == ()
