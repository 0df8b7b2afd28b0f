"""Discord-flavoured Markdown to HTML for the web client, rendered on the server.

Built on markdown-it-py's CommonMark parser with the parts Discord's client renders
(https://support.discord.com/hc/en-us/articles/210298617, "Markdown Text 101"): emphasis,
``__underline__``, ``~~strike~~``, ``||spoilers||``, inline code and fenced code blocks
(with a language), block quotes, lists, ``#``-``###`` headings, ``-#`` subtext, links and
masked links, mentions ``<@id>`` ``<#id>`` ``<@&id>`` and timestamps ``<t:unix:style>``.
Discord renders no tables, images or raw HTML, so a table stays the text it was typed as
and HTML is escaped.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import UTC, datetime

from markdown_it import MarkdownIt
from markdown_it.rules_inline import StateInline

MENTION = re.compile(r"<(@!?|#|@&)(\d{1,20})>")
TIMESTAMP = re.compile(r"<t:(-?\d{1,13})(?::([tTdDfFR]))?>")
"""Discord's ``<t:unix:style>``: the page shows it in the reader's time zone (its script
fills the text; the UTC time is there without it)."""


def _underline(state: StateInline, silent: bool) -> bool:
    """``__text__`` is underline in Discord (CommonMark would make it bold)."""
    return _wrapped(state, silent, "__", "underline")


def _spoiler(state: StateInline, silent: bool) -> bool:
    return _wrapped(state, silent, "||", "spoiler")


def _wrapped(state: StateInline, silent: bool, marker: str, kind: str) -> bool:
    start = state.pos
    if not state.src.startswith(marker, start):
        return False
    end = state.src.find(marker, start + len(marker))
    if end <= start + len(marker):
        return False
    if not silent:
        state.push(f"{kind}_open", "", 1)
        old_max = state.posMax
        state.pos, state.posMax = start + len(marker), end
        state.md.inline.tokenize(state)
        state.posMax = old_max
        state.push(f"{kind}_close", "", -1)
    state.pos = end + len(marker)
    return True


def _timestamp(state: StateInline, silent: bool) -> bool:
    found = TIMESTAMP.match(state.src, state.pos)
    if found is None:
        return False
    if not silent:
        token = state.push("timestamp", "", 0)
        token.meta = {"unix": int(found.group(1)), "style": found.group(2) or "f"}
    state.pos = found.end()
    return True


def _make_mention(resolve: Callable[[str, int], str]) -> Callable[[StateInline, bool], bool]:
    def mention(state: StateInline, silent: bool) -> bool:
        found = MENTION.match(state.src, state.pos)
        if found is None:
            return False
        if not silent:
            token = state.push("mention", "", 0)
            token.meta = {"kind": found.group(1), "label": resolve(found.group(1), int(found[2]))}
        state.pos = found.end()
        return True

    return mention


class DiscordMarkdown:
    """Renders message text; ``resolve(kind, id)`` names a mentioned user, channel or role."""

    def __init__(self, resolve: Callable[[str, int], str]) -> None:
        md = MarkdownIt("commonmark", {"html": False, "linkify": False, "breaks": True})
        md.enable("strikethrough")
        md.disable(["image", "html_inline", "html_block", "heading", "lheading", "hr"])
        md.inline.ruler.before("emphasis", "underline", _underline)
        md.inline.ruler.before("emphasis", "spoiler", _spoiler)
        md.inline.add_terminator_char("|")
        md.inline.ruler.before("autolink", "mention", _make_mention(resolve))
        md.inline.ruler.before("autolink", "timestamp", _timestamp)
        md.block.ruler.before("paragraph", "discord_heading", _heading, {"alt": ["paragraph"]})
        rules = md.add_render_rule
        rules("underline_open", lambda *a: "<u>")
        rules("underline_close", lambda *a: "</u>")
        rules(
            "spoiler_open",
            lambda *a: '<span class="spoiler" title="spoiler: click to reveal">',
        )
        rules("spoiler_close", lambda *a: "</span>")
        rules("mention", _render_mention)
        rules("timestamp", _render_timestamp)
        rules("fence", _render_fence)
        self._md = md

    def render(self, text: str) -> str:
        """HTML for ``text``; safe to insert into the page (no raw HTML survives)."""
        if not text:
            return ""
        return str(self._md.render(text))


def _heading(state, start_line, end_line, silent):  # type: ignore[no-untyped-def]
    """``#``, ``##``, ``###`` followed by a space: Discord's three heading sizes; ``-#``:
    its small grey subtext."""
    pos = state.bMarks[start_line] + state.tShift[start_line]
    line = state.src[pos : state.eMarks[start_line]]
    found = re.match(r"(#{1,3}|-#) (.+)$", line)
    if found is None:
        return False
    if silent:
        return True
    tag = "small" if found.group(1) == "-#" else f"h{len(found.group(1))}"
    opening = state.push("heading_open", tag, 1)
    opening.markup = found.group(1)
    opening.map = [start_line, start_line + 1]
    inline = state.push("inline", "", 0)
    inline.content = found.group(2).strip()
    inline.map = [start_line, start_line + 1]
    inline.children = []
    state.push("heading_close", tag, -1)
    state.line = start_line + 1
    return True


def _render_mention(self, tokens, idx, options, env):  # type: ignore[no-untyped-def]
    meta = tokens[idx].meta
    prefix = "#" if meta["kind"] == "#" else "@"
    return f'<span class="mention">{prefix}{html.escape(meta["label"])}</span>'


def _render_timestamp(self, tokens, idx, options, env):  # type: ignore[no-untyped-def]
    meta = tokens[idx].meta
    try:
        utc = datetime.fromtimestamp(meta["unix"], UTC).strftime("%Y-%m-%d %H:%M UTC")
    except (OverflowError, OSError, ValueError):
        utc = str(meta["unix"])
    return (
        f'<span class="timestamp" data-unix="{meta["unix"]}" data-style="{meta["style"]}">'
        f"{utc}</span>"
    )


def _render_fence(self, tokens, idx, options, env):  # type: ignore[no-untyped-def]
    token = tokens[idx]
    language = token.info.strip().split(" ")[0] if token.info else ""
    label = f' data-lang="{html.escape(language)}"' if language else ""
    return f'<pre class="codeblock"{label}><code>{html.escape(token.content)}</code></pre>\n'
