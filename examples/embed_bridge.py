"""The bridge inside another trio program's nursery (E2), against the local Discord server.

    uv run python examples/embed_bridge.py "What is in this repository?"

Your program owns the nursery; ``run_bridge`` runs the whole bridge (actors, REST,
gateway, local API) inside it. Here the program plays a person: it starts the local
Discord server in-process, posts a question as the server's owner, waits until Claude's
turn has finished in the new thread, prints what the bot showed there, and cancels the
nursery, which shuts the bridge down gracefully.

Configuration comes from the environment and ``.env`` as for ``ccbridge run`` (README);
``CLAUDE_COMMAND`` picks the ``claude`` executable. No bot token is needed.
"""

from __future__ import annotations

import random
import sys
from typing import Any

import trio

from bridge.app import Bridge, local_config, run_bridge
from bridge.config import load_config
from bridge.discord_local import Realism, open_discord_local

TURN_TIMEOUT = 600.0
"""Seconds to wait for Claude's answer before giving up."""


def shown(server: Any, thread_id: int) -> list[str]:
    """What the bot shows in the thread: message texts, embed titles and descriptions."""
    if thread_id not in server.world.channels:
        return []  # the bridge has not started the thread yet
    bot = str(server.world.bot.id)
    parts: list[str] = []
    for message in server.control.messages(thread_id):
        if message["author"]["id"] != bot:
            continue
        parts.append(message["content"])
        for embed in message["embeds"]:
            parts += [embed.get("title", ""), embed.get("description", "")]
    return [p for p in parts if p]


async def main(question: str) -> None:
    config = load_config()
    async with (
        open_discord_local(realism=Realism.faithful(), rng=random.Random()) as server,
        trio.open_nursery() as nursery,
    ):
        bridge: Bridge = await nursery.start(run_bridge, local_config(config, server))
        # The bridge is ready once READY reached it and it registered /stop.
        await server.wait_until(lambda: server.world.commands, timeout=30)
        channel = bridge.config.discord_channel_id
        posted = server.control.post_message(channel, server.world.owner_id, question)
        thread_id = int(posted["id"])  # a thread started from a message takes its id
        # The completion embed ("✅ Done ...") ends every successful turn.
        await server.wait_until(
            lambda: any("Done" in part for part in shown(server, thread_id)),
            timeout=TURN_TIMEOUT,
        )
        print("\n".join(shown(server, thread_id)))
        nursery.cancel_scope.cancel()  # graceful: sessions are asked to prepare first


if __name__ == "__main__":
    trio.run(main, " ".join(sys.argv[1:]) or "What is the answer?")
