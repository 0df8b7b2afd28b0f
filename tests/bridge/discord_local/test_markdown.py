"""Discord-flavoured Markdown for the web client: what Discord renders, and nothing else."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from bridge.discord_local._markdown import DiscordMarkdown

NAMES = {("@", 1): "Owner", ("#", 2): "general"}


def render(text: str) -> str:
    return DiscordMarkdown(lambda kind, target: NAMES.get((kind[0], target), "unknown")).render(
        text
    )


def test_inline_styles_include_discords_underline_and_spoilers() -> None:
    out = render("**bold** *it* __under__ ~~gone~~ ||hidden **deep**|| `code`")
    assert "<strong>bold</strong>" in out
    assert "<em>it</em>" in out
    assert "<u>under</u>" in out  # Discord's __ is underline, not CommonMark's bold
    assert "<s>gone</s>" in out
    assert '<span class="spoiler"' in out
    assert re.search(r'class="spoiler"[^>]*>hidden <strong>deep</strong></span>', out)
    assert "<code>code</code>" in out


def test_an_unclosed_spoiler_stays_text() -> None:
    assert render("||not closed") == "<p>||not closed</p>\n"


def test_mentions_show_names_not_ids() -> None:
    out = render("hi <@1> and <@!1> in <#2>, not <@999>")
    assert out.count('<span class="mention">@Owner</span>') == 2
    assert '<span class="mention">#general</span>' in out
    assert '<span class="mention">@unknown</span>' in out
    assert "&lt;@" not in out


def test_timestamps_carry_their_instant_and_style_for_the_page() -> None:
    out = render("expires <t:1796414322:R>, at <t:0>")
    assert (
        '<span class="timestamp" data-unix="1796414322" data-style="R">2026-12-04 19:58 UTC</span>'
        in out
    )
    assert '<span class="timestamp" data-unix="0" data-style="f">1970-01-01 00:00 UTC</span>' in out
    assert render("<t:99999999999999:R>") == "<p>&lt;t:99999999999999:R&gt;</p>\n"


def test_fenced_code_keeps_its_language_and_escapes_its_content() -> None:
    out = render("```python\nif a < b:\n    print('<b>')\n```")
    assert '<pre class="codeblock" data-lang="python">' in out
    assert "if a &lt; b:\n    print(&#x27;&lt;b&gt;&#x27;)" in out


def test_tables_stay_text_as_in_discord() -> None:
    out = render("| a | b |\n|---|---|\n| 1 | 2 |")
    assert "<table" not in out
    assert "| a | b |" in out


def test_headings_up_to_three_and_subtext() -> None:
    out = render("# One\n## Two\n### Three\n#### Four\n-# small print")
    assert "<h1>One</h1>" in out
    assert "<h2>Two</h2>" in out
    assert "<h3>Three</h3>" in out
    assert "#### Four" in out
    assert "<small>small print</small>" in out


def test_raw_html_images_and_script_links_are_not_rendered() -> None:
    out = render('<img src=x onerror="alert(1)"> ![i](http://x/i.png) [x](javascript:alert(1))')
    assert "<img" not in out
    assert "&lt;img" in out
    assert 'href="javascript' not in out


def test_lines_break_like_discord() -> None:
    assert render("one\ntwo") == "<p>one<br />\ntwo</p>\n"


ALLOWED_TAGS = {
    "p", "br", "strong", "em", "u", "s", "span", "code", "pre", "blockquote", "ul", "ol",
    "li", "a", "h1", "h2", "h3", "small",
}  # fmt: skip


@given(st.text(alphabet=st.sampled_from(list("<>&\"'|_*~`#-[]()@!:/ \naz0123=\\")), max_size=80))
def test_any_text_renders_to_known_tags_only(text: str) -> None:
    out = render(text)
    for tag in re.findall(r"</?([a-zA-Z0-9]+)", out):
        assert tag in ALLOWED_TAGS, (text, out)
    assert not re.search(r"<[^>]*\son\w*=", out), (text, out)  # no event handler attributes
