"""Issue 6, scenario 9, with the real ``claude``: two sessions on the same git repository.
Each turn's system prompt, as the model server received it, carries the worktree rule and
names the other session (K1, K3) and the lounge's recent lines (K4); the lounge channel
shows their starts and ends; at the end of a turn a clean session worktree is removed and
a dirty one kept (K2)."""

from __future__ import annotations

from pathlib import Path

import trio

from tests.e2e.bridge_harness import open_scene
from tests.support.model_server import ModelServer, RecordedRequest, Reply, ScriptStep


async def _git(cwd: Path, *args: str) -> str:
    done = await trio.run_process(["git", "-C", str(cwd), *args], capture_stdout=True)
    return done.stdout.decode()


async def _make_repository(path: Path) -> None:
    await trio.Path(path).mkdir()
    await _git(path, "init", "-q", "-b", "main")
    await _git(path, "config", "user.email", "test@example.invalid")
    await _git(path, "config", "user.name", "Test")
    (path / "README.md").write_text("a shared repository\n")
    await _git(path, "add", "README.md")
    await _git(path, "commit", "-q", "-m", "initial")


def _turns_of(model: ModelServer, thread: int) -> list[RecordedRequest]:
    return [
        t
        for t in model.turns
        if f"this is the session of Discord thread {thread}," in t.system_text
    ]


async def test_two_sessions_on_one_repository_see_each_other_and_keep_to_worktrees(
    tmp_path: Path, model_server: ModelServer, claude_bin: Path, claude_env: dict[str, str]
) -> None:
    repo = tmp_path / "repo"
    await _make_repository(repo)
    base = tmp_path / "worktrees"
    base.mkdir()

    def script(request: RecordedRequest) -> ScriptStep:
        said = request.last_user_text
        if said == "Feature A: parser":
            return Reply.text("Working on the parser. " * 4, chunks=16, delay=0.25)
        if said == "Feature B: renderer":
            return Reply.text("Working on the renderer. " * 4, chunks=40, delay=0.25)
        return Reply.text(f"Done with: {said}")

    model_server.set_script(script)
    async with open_scene(tmp_path, model_server, claude_bin, claude_env, bridge=False) as scene:
        lounge = int(scene.server.control.create_channel("ai-lounge")["id"])
        async with scene.run_bridge(LOUNGE_CHANNEL_ID=str(lounge), WORKTREE_BASE_DIR=str(base)):
            a = scene.post(scene.channel_id, "Feature A: parser")
            await scene.until_shown(a, "Working on")
            b = scene.post(scene.channel_id, "Feature B: renderer")
            # Each session works in its own worktree, as the rule tells Claude to; B's
            # has uncommitted work.
            for thread in (a, b):
                await _git(
                    repo,
                    "worktree",
                    "add",
                    "-q",
                    str(base / f"wt-{thread}"),
                    "-b",
                    f"session/{thread}",
                )
            (base / f"wt-{b}" / "renderer.py").write_text("print('unfinished')\n")

            await scene.until_shown(a, "✅ Done")
            await scene.until_shown(b, "Working on")
            assert "✅ Done" not in scene.shown(b)
            scene.post(a, "Feature A: tests")
            await scene.until(lambda: scene.shown(a).count("✅ Done") == 2)
            await scene.until_shown(b, "✅ Done")

            # K1 / K3: each turn's appended system prompt, as the model received it.
            (a1, a2), (b1,) = _turns_of(model_server, a), _turns_of(model_server, b)
            for turn, thread in ((a1, a), (a2, a), (b1, b)):
                system = turn.system_text
                assert "[CONCURRENCY NOTICE: MANDATORY]" in system
                assert f"started in {repo}" in system
                assert f"`git worktree add {base / f'wt-{thread}'} -b session/{thread}`" in system
            assert "ACTIVE SESSIONS RIGHT NOW: none besides you." in a1.system_text
            assert f'- thread {a} "Feature A: parser" in {repo} (running' in b1.system_text
            # A's second turn is a --resume: its prompt is fresh, so it names B too.
            assert f'- thread {b} "Feature B: renderer" in {repo} (running' in a2.system_text
            assert "ACTIVE SESSIONS RIGHT NOW: none besides you." not in a2.system_text
            assert a2.system_text.count("AI LOUNGE") == 1
            assert "AI LOUNGE" not in a2.all_text()  # never in the conversation history

            # The lounge channel shows both sessions' starts, once each (A's second turn
            # continues its session: SESSION_END_QUIET_SECONDS has not passed).
            await scene.until(lambda: scene.shown(lounge).count("session started") >= 2)
            lines = scene.shown(lounge)
            assert f"**[thread {a}]** ▶️ session started: Feature A: parser (in {repo})" in lines
            assert f"**[thread {b}]** ▶️ session started: Feature B: renderer (in {repo})" in lines
            assert lines.count("session started") == 2

        # The bridge stopped: each session ended once.
        lines = scene.shown(lounge)
        assert lines.count("session ended") == 2
        assert f"**[thread {a}]** ⏹️ session ended (done): Feature A: parser" in lines
        assert f"**[thread {b}]** ⏹️ session ended (done): Feature B: renderer" in lines

        # K2: the clean worktree was removed at its session's end; the dirty one was kept,
        # with its work; the branches survive either way.
        assert not (base / f"wt-{a}").exists()
        assert (base / f"wt-{b}" / "renderer.py").read_text() == "print('unfinished')\n"
        branches = await _git(repo, "branch", "--list", "session/*")
        assert f"session/{a}" in branches
        assert f"session/{b}" in branches
        assert not (repo / "renderer.py").exists()


async def test_a_resumed_turn_gets_a_fresh_system_prompt(
    tmp_path: Path, model_server: ModelServer, claude_bin: Path, claude_env: dict[str, str]
) -> None:
    model_server.set_script([Reply.text("First answer."), Reply.text("Second answer.")])
    async with open_scene(tmp_path, model_server, claude_bin, claude_env, bridge=False) as scene:
        lounge = int(scene.server.control.create_channel("ai-lounge")["id"])
        async with scene.run_bridge(LOUNGE_CHANNEL_ID=str(lounge)):
            thread = scene.post(scene.channel_id, "First question")
            await scene.until_shown(thread, "First answer.")
            await scene.until_shown(lounge, "session started: First question")
            assert "No lounge messages yet" in model_server.turns[0].system_text
            scene.post(thread, "Second question")
            second = await scene.turn(2)
            # The lounge line written during the first turn is news for the second.
            assert "No lounge messages yet" not in second.system_text
            assert f"thread {thread} [this thread]: ▶️ session started: First question" in (
                second.system_text
            )
