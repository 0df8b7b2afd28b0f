"""``/skill name [args]`` (C7): run a Claude skill. In the main channel it starts a new
session thread; in a session thread it runs in that session (queued behind what was typed
before). Running a skill is sending ``/<name> <args>`` as a user message, which the CLI
expands into the skill (:mod:`bridge.sessions.skills`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from bridge.sessions.commands._registry import (
    Answer,
    CommandError,
    CommandHost,
    Invocation,
    SlashCommand,
    choice,
)
from bridge.sessions.presentation.render import quiet
from bridge.sessions.skills import SkillCatalog
from protocol.discord import models as m

__all__ = ["ARGS_MAX", "skill_command"]

ARGS_MAX: Final = 1500
"""Discord caps a string option at 6000 characters; a skill's arguments are a line."""


def skill_command(catalog: SkillCatalog) -> SlashCommand:
    """``/skill``, reading skills from ``catalog``."""

    async def where(host: CommandHost, call: Invocation) -> tuple[int | None, str]:
        """``(thread_id or None for a new thread, working dir)``."""
        if call.channel_id == host.main_channel_id:
            return None, host.working_dir
        record = await host.session(call.channel_id)
        if record is None:
            raise CommandError(
                "Use /skill in the main channel (it starts a new session) or in a session's "
                "thread (it runs there)."
            )
        return record.thread_id, record.working_dir

    async def handle(host: CommandHost, call: Invocation) -> Answer:
        name = call.option("name")
        if name is None:
            raise CommandError("Name a skill: /skill name:<skill> (autocomplete lists them).")
        thread_id, working_dir = await where(host, call)
        skill = await catalog.find(working_dir, name)
        if skill is None:
            raise CommandError(
                f"There is no skill {quiet(name[:64])!r} in {catalog.user_dir} or "
                f"{working_dir}/.claude/skills; the autocomplete lists the ones there are."
            )
        args = call.option("args") or ""
        prompt = f"/{skill.name} {args}".rstrip()
        intro = f"🧩 <@{call.user_id}> ran the skill `{skill.name}`" + (
            f": {quiet(args)}" if args else "."
        )
        await host.run_prompt(
            thread_id=thread_id,
            author_id=call.user_id,
            title=f"{skill.name} {args}".strip(),
            prompt=prompt,
            intro=intro,
        )
        where_text = "in this thread" if thread_id is not None else "in a new thread"
        return Answer(content=f"🧩 Running the skill `{skill.name}` {where_text}.")

    async def complete(host: CommandHost, call: Invocation) -> Sequence[m.CommandChoice]:
        focused = call.focused()
        if focused is None or focused[0] != "name":
            return []
        try:
            _, working_dir = await where(host, call)
        except CommandError:
            working_dir = host.working_dir
        typed = focused[1].strip().lower()
        skills = await catalog.skills(working_dir)
        found = [s for s in skills if typed in s.name or typed in s.description.lower()]
        # Names that start with what is typed first.
        found.sort(key=lambda s: (not s.name.startswith(typed), s.name))
        return [
            choice(f"{s.name}: {s.description}" if s.description else s.name, s.name) for s in found
        ]

    return SlashCommand(
        definition=m.ApplicationCommand(
            name="skill",
            description="Run a Claude skill: here in a session thread, or in a new thread",
            type=m.ApplicationCommandType.CHAT_INPUT,
            options=[
                m.CommandOption(
                    type=m.CommandOptionType.STRING,
                    name="name",
                    description="The skill (from ~/.claude/skills and .claude/skills)",
                    required=True,
                    autocomplete=True,
                    max_length=64,
                ),
                m.CommandOption(
                    type=m.CommandOptionType.STRING,
                    name="args",
                    description="What to pass the skill (its $ARGUMENTS)",
                    required=False,
                    max_length=ARGS_MAX,
                ),
            ],
        ),
        handle=handle,
        complete=complete,
    )
