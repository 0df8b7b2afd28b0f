"""A Discord echo bot on ccbridge's own Discord client (no bridge, no discord.py).

    uv run python examples/echo_bot.py                      # a local Discord, in-process
    DISCORD_BOT_TOKEN=... uv run python examples/echo_bot.py --api-url https://discord.com/api/v10

It replies ``echo: <text>`` to every message from a person, and answers the message
``!ping`` with a reaction. With no token it starts the local Discord server
(``bridge.discord_local``) in the same process and prints its control URL, so you can post
as a human: ``curl -X POST <control_url>/channels/<id>/messages -d '{"author_id": ..,
"content": "hi"}'``.

What it shows: ``open_rest_client`` (priorities, rate limits and retries built in),
``open_gateway`` (an actor delivering dispatches into a channel, resuming on its own), the
``parse_*`` helpers, and the one error that must stop a bot: ``GatewayFatalError`` (a bad
token, or the Message Content intent not enabled), which exits with status 78.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys

import trio

import actors
from bridge.discord import (
    EXIT_GATEWAY_FATAL,
    GatewayConfig,
    find_gateway_fatal,
    open_gateway,
    open_rest_client,
    parse_message,
    parse_ready,
)


async def run_echo_bot(api_url: str, token: str) -> None:
    """Echo until cancelled.

    Raises:
        GatewayFatalError: the gateway refused the token or the intents (possibly inside an
            exception group).
    """
    async with (
        open_rest_client(api_url, token, random=random.Random()) as rest,
        actors.open_system() as system,
        open_gateway(system, GatewayConfig(token=token), rest) as gateway,
    ):
        async for dispatch in gateway.dispatches:
            if dispatch.name == "READY":
                me = parse_ready(dispatch.data).user
                print(f"connected as {me.username} ({me.id})", flush=True)
            if dispatch.name != "MESSAGE_CREATE":
                continue
            message = parse_message(dispatch.data)
            if message.author.bot or message.webhook_id:
                continue  # never answer bots (ourselves included): no echo loops
            if message.content.strip() == "!ping":
                rest.submit_reaction(message.channel_id, message.id, add=["🏓"])
            else:
                await rest.create_message(
                    message.channel_id, content=f"echo: {message.content}", reply_to=message.id
                )


async def _run_local() -> None:
    from bridge.discord_local import open_discord_local

    async with open_discord_local() as server:
        print(
            json.dumps(
                {
                    "control_url": server.control_url,
                    "channel_id": str(server.world.default_channel.id),
                    "human_id": str(server.world.owner_id),
                }
            ),
            flush=True,
        )
        await run_echo_bot(server.rest_url, server.token)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="A Discord echo bot on ccbridge's client.")
    parser.add_argument("--api-url", help="REST base URL (default: a local Discord in-process)")
    args = parser.parse_args(argv)
    token = os.environ.get("DISCORD_BOT_TOKEN")
    try:
        if args.api_url:
            if not token:
                print("set DISCORD_BOT_TOKEN to the bot's token", file=sys.stderr)
                return 2
            trio.run(run_echo_bot, args.api_url, token)
        else:
            trio.run(_run_local)
    except KeyboardInterrupt:
        return 0
    except BaseException as exc:  # trio's nurseries wrap what crosses them in groups
        fatal = find_gateway_fatal(exc)
        if fatal is None:
            raise
        print(f"echo_bot: {fatal}", file=sys.stderr)
        return EXIT_GATEWAY_FATAL
    return 0


if __name__ == "__main__":
    sys.exit(main())
