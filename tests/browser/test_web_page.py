"""The web client in a real browser, against the local Discord server with the test acting
as the bot: everything Discord shows for the parts ccbridge uses, live, and every way a
person acts (post, upload, react, click, choose, fill a modal, run a slash command with
options and autocomplete, act as another user)."""

from __future__ import annotations

import base64
import random
import time
from pathlib import Path
from typing import Any

import trio
from playwright.sync_api import Page, expect

from bridge.discord_local import NewFile, Realism, open_discord_local
from bridge.discord_local._records import APPLICATION_COMMAND, AUTOCOMPLETE, MESSAGE_COMPONENT
from tests.browser.conftest import BrowserThread

WAIT = 30.0
"""Seconds for any one wait: the browser shares 2 loaded cores with the server."""
MS = int(WAIT * 1000)

# A 2x2 red PNG.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFklEQVR4nGP8z8DAwMDAxMDAwMDAAAANHQEDasKb6QAAAABJRU5ErkJggg=="
)
COMMANDS = [
    {"name": "stop", "description": "Stop the running turn"},
    {
        "name": "ask",
        "description": "Ask about a topic",
        "options": [
            {"type": 3, "name": "topic", "description": "what about", "required": True,
             "autocomplete": True},
            {"type": 4, "name": "count", "description": "how many",
             "choices": [{"name": "one", "value": 1}, {"name": "two", "value": 2}]},
            {"type": 5, "name": "loud", "description": "shout it"},
        ],
    },
]  # fmt: skip
MARKDOWN = (
    "**Bold**, __underlined__, ||a spoiler||, `code`\n"
    "```python\nprint('hi')\n```\n"
    "| col | umn |\n|-----|-----|\n| 1 | 2 |"
)


def _interactions(world: Any, kind: int) -> list[Any]:
    return [i for i in world.interactions.values() if i.type == kind]


async def test_the_page_shows_and_does_what_discord_does(browser: BrowserThread) -> None:
    async with open_discord_local(realism=Realism.off(), rng=random.Random(8)) as server:
        world = server.world
        channel = world.default_channel.id
        world.overwrite_commands(world.guild_id, COMMANDS)
        due = int(time.time()) + 120
        server.control.post_message(
            channel, world.owner_id, f"{MARKDOWN} <@{world.bot.id}> due <t:{due}:R>"
        )
        bot_message = world.create_message(
            channel,
            world.bot.id,
            content="Here is **what I found**",
            embeds=[
                {
                    "title": "💻 Bash",
                    "description": "`ls -la`\n✅ done in 2s",
                    "color": 0x57F287,
                    "fields": [{"name": "Exit code", "value": "0", "inline": True}],
                    "footer": {"text": "ccbridge"},
                }
            ],
            components=[
                {
                    "type": 1,
                    "components": [
                        {"type": 2, "style": 3, "label": "Allow", "custom_id": "allow"},
                        {"type": 2, "style": 4, "label": "Deny", "custom_id": "deny"},
                    ],
                },
                {
                    "type": 1,
                    "components": [
                        {
                            "type": 3,
                            "custom_id": "pick",
                            "placeholder": "Pick a colour",
                            "options": [
                                {"label": "Red", "value": "red"},
                                {"label": "Blue", "value": "blue"},
                            ],
                        }
                    ],
                },
            ],
            files=[
                NewFile("dot.png", PNG, "image/png"),
                NewFile("notes.txt", b"some notes", "text/plain"),
            ],
        )
        world.add_reaction(bot_message, "✅", world.bot.id)
        world.pin(bot_message)

        def open_page(page: Page) -> None:
            page.goto(server.web_url)
            expect(page.locator("#feed-status")).to_have_text("live", timeout=MS)
            expect(page.locator("#messages article.message")).to_have_count(2, timeout=MS)

        await browser.step(open_page)
        await browser.shot("messages")

        def check_rendering(page: Page) -> None:
            first = page.locator("#messages article.message").first
            expect(first.locator("strong")).to_have_text("Bold")
            expect(first.locator("u")).to_have_text("underlined")
            expect(first.locator("pre.codeblock[data-lang=python]")).to_have_text("print('hi')\n")
            expect(first.locator(".mention")).to_have_text("@ccbridge-local")
            # <t:unix:R> shows relative time in the reader's locale, as Discord does.
            expect(first.locator(".timestamp")).to_have_text("in 2 minutes")
            expect(first.locator("table")).to_have_count(0)  # Discord shows tables as text
            expect(first).to_contain_text("| col | umn |")
            spoiler = first.locator(".spoiler")
            expect(spoiler).not_to_have_class("spoiler revealed")
            spoiler.click()
            expect(spoiler).to_have_class("spoiler revealed")
            bot = page.locator(f"#messages article.message[data-id='{bot_message.id}']")
            expect(bot.locator(".bot-tag")).to_have_text("APP")
            embed = bot.locator(".embed")
            expect(embed.locator(".embed-title")).to_have_text("💻 Bash")
            expect(embed.locator(".embed-description code")).to_have_text("ls -la")
            expect(embed.locator(".field-name")).to_have_text("Exit code")
            expect(embed.locator(".embed-footer")).to_have_text("ccbridge")
            assert "rgb(87, 242, 135)" in embed.evaluate("e => getComputedStyle(e).borderLeftColor")
            image = bot.locator(".attachments img")
            expect(image).to_have_attribute("alt", "dot.png")
            page.wait_for_function(
                "img => img.complete && img.naturalWidth === 2", arg=image.element_handle()
            )
            expect(bot.locator("a.file")).to_have_attribute("download", "notes.txt")
            expect(bot.locator(".reaction")).to_have_text("✅ 1")
            expect(page.locator("#pins-toggle")).to_have_text("📌 Pinned (1)")

        await browser.step(check_rendering)

        # A file link downloads the stored bytes.
        def download(page: Page) -> bytes:
            with page.expect_download(timeout=MS) as info:
                page.locator("#messages a.file").click()
            return Path(info.value.path()).read_bytes()

        assert await browser.step(download) == b"some notes"

        # Reacting as the owner adds the owner to the reaction.
        await browser.step(lambda page: page.locator("#messages .reaction").click())
        await server.wait_until(
            lambda: world.owner_id in bot_message.reactions.get("✅", []), timeout=WAIT
        )
        mine = "#messages .reaction.mine"
        await browser.step(lambda page: expect(page.locator(mine)).to_have_text("✅ 2", timeout=MS))

        # A button click is an interaction; the bot answers with a modal the page opens.
        await browser.step(
            lambda page: page.locator("#messages").get_by_role("button", name="Allow").click()
        )
        click = await server.wait_until(
            lambda: _interactions(world, MESSAGE_COMPONENT), timeout=WAIT
        )
        assert click[0].data == {"custom_id": "allow", "component_type": 2}
        assert click[0].user_id == world.owner_id
        world.respond(
            click[0].id,
            click[0].token,
            9,
            {
                "custom_id": "why",
                "title": "Why allow it?",
                "components": [
                    {
                        "type": 1,
                        "components": [
                            {"type": 4, "custom_id": "reason", "label": "Reason", "style": 1}
                        ],
                    },
                    {
                        "type": 18,
                        "label": "Size",
                        "component": {
                            "type": 3,
                            "custom_id": "size",
                            "options": [
                                {"label": "Small", "value": "s"},
                                {"label": "Large", "value": "l"},
                            ],
                        },
                    },
                ],
            },
        )

        def fill_modal(page: Page) -> None:
            dialog = page.locator("#modal")
            expect(dialog.locator("h2")).to_have_text("Why allow it?", timeout=MS)
            dialog.locator("input[name=reason]").fill("it is safe")
            dialog.locator("select[name=size]").select_option("l")

        await browser.step(fill_modal)
        await browser.shot("modal")
        await browser.step(lambda page: page.locator("#modal button[type=submit]").click())
        submitted = await server.wait_until(lambda: _interactions(world, 5), timeout=WAIT)
        assert submitted[0].data["components"][0]["components"][0] == {
            "type": 4,
            "custom_id": "reason",
            "value": "it is safe",
        }
        # A select in a modal comes back inside its Label, with the picked value (C15).
        assert submitted[0].data["components"][1] == {
            "type": 18,
            "component": {"type": 3, "custom_id": "size", "values": ["l"]},
        }

        # Choosing in a select menu.
        await browser.step(
            lambda page: page.locator("#messages select[data-custom-id=pick]").select_option("blue")
        )
        chosen = await server.wait_until(
            lambda: [i for i in _interactions(world, MESSAGE_COMPONENT) if "values" in i.data],
            timeout=WAIT,
        )
        assert chosen[0].data["values"] == ["blue"]

        # A slash command from the picker, with autocomplete answered by "the bot".
        async def answer_autocomplete() -> None:
            answered: set[int] = set()
            while True:
                pending = await world.wait_until(
                    lambda: [i for i in _interactions(world, AUTOCOMPLETE) if i.id not in answered],
                    timeout=600,
                )
                for inter in pending:
                    answered.add(inter.id)
                    typed = inter.data["options"][0]["value"]
                    world.respond(
                        inter.id,
                        inter.token,
                        8,
                        {"choices": [{"name": f"{typed} basics", "value": f"{typed}-basics"}]},
                    )

        async with trio.open_nursery() as nursery:
            nursery.start_soon(answer_autocomplete)

            def run_command(page: Page) -> None:
                page.locator("#input").fill("/as")
                page.locator(".command-choice[data-command=ask]").click()
                page.locator("#opt-topic").press_sequentially("trio")
                expect(page.locator("#opt-topic-choices option")).to_have_attribute(
                    "value", "trio-basics", timeout=MS
                )
                page.locator("#opt-topic").fill("trio-basics")
                page.locator("#opt-count").select_option("2")
                page.locator("#opt-loud").select_option("true")

            await browser.step(run_command)
            await browser.shot("slash-command")
            await browser.step(lambda page: page.locator("#run-command").click())
            command = await server.wait_until(
                lambda: _interactions(world, APPLICATION_COMMAND), timeout=WAIT
            )
            nursery.cancel_scope.cancel()
        assert command[0].data["name"] == "ask"
        assert command[0].data["options"] == [
            {"name": "topic", "type": 3, "value": "trio-basics"},
            {"name": "count", "type": 4, "value": 2},
            {"name": "loud", "type": 5, "value": True},
        ]

        # Live: a new thread, an edit and a deletion appear without reloading.
        thread = world.start_thread_from_message(
            bot_message, name="live thread", owner_id=world.bot.id
        )
        world.edit_message(bot_message, editor_id=world.bot.id, body={"content": "Edited text"})
        gone = world.create_message(channel, world.bot.id, content="short-lived")

        def live_changes(page: Page) -> None:
            expect(page.locator(f".thread[data-id='{thread.id}']")).to_have_text(
                "live thread", timeout=MS
            )
            bot = page.locator(f"#messages article.message[data-id='{bot_message.id}']")
            expect(bot.locator(".content").first).to_have_text("Edited text", timeout=MS)
            expect(bot.locator(".edited")).to_have_text("(edited)")
            expect(page.locator(f"#messages article.message[data-id='{gone.id}']")).to_have_count(
                1, timeout=MS
            )

        await browser.step(live_changes)
        world.delete_message(gone)
        await browser.step(
            lambda page: expect(
                page.locator(f"#messages article.message[data-id='{gone.id}']")
            ).to_have_count(0, timeout=MS)
        )

        # Posting with a file.
        upload = browser.screenshots / "hello.txt"
        upload.write_text("file from the page")

        def post_with_file(page: Page) -> None:
            page.locator("#file").set_input_files(str(upload))
            expect(page.locator("#file-list")).to_have_text("📎 hello.txt")
            page.locator("#input").fill("here is a file")
            page.locator("#input").press("Enter")

        await browser.step(post_with_file)
        posted = await server.wait_until(
            lambda: [m for m in world.messages.values() if m.content == "here is a file"],
            timeout=WAIT,
        )
        assert posted[0].author_id == world.owner_id
        assert [(a.filename, a.data) for a in posted[0].attachments] == [
            ("hello.txt", b"file from the page")
        ]

        # Acting as a new user: what they post is theirs, and only they see their ephemerals.
        def become_mallory(page: Page) -> None:
            page.locator("#new-user-name").fill("mallory")
            page.locator("#new-user button").click()
            expect(page.locator("#viewer option:checked")).to_have_text("mallory", timeout=MS)
            expect(page.locator("#feed-status")).to_have_text("live", timeout=MS)
            page.locator("#input").fill("hello from mallory")
            page.locator("#input").press("Enter")

        await browser.step(become_mallory)
        mallory = next(u for u in world.users.values() if u.username == "mallory")
        said = await server.wait_until(
            lambda: [m for m in world.messages.values() if m.content == "hello from mallory"],
            timeout=WAIT,
        )
        assert said[0].author_id == mallory.id
        refused = world.invoke_command(mallory.id, channel, "stop")
        world.respond(refused.id, refused.token, 4, {"content": "Only for you", "flags": 64})
        ephemeral = "#messages article.message.ephemeral"
        await browser.step(
            lambda page: expect(page.locator(ephemeral)).to_contain_text(
                "Only you can see this", timeout=MS
            )
        )
        await browser.shot("ephemeral")
    assert not [line for line in browser.console if line.startswith("pageerror")], browser.console
