"""What the pinned CLI (2.1.330) emits when the API refuses a request for a usage limit
with a reset time (issue 13, "find exactly what the pinned CLI emits"), pinned against the
scripted model server.

The server answers 429 with the subscription headers that carry the limit and its reset
(``anthropic-ratelimit-unified-status: rejected``, ``…-reset: <epoch seconds>``,
``…-representative-claim: five_hour``). Under API-key auth (all these tests can use) the
CLI does not turn them into a reset time: no ``rate_limit_event`` line, and the reset
epoch appears nowhere in its output. What it emits is a synthetic assistant message with
``error: "rate_limit"`` and the text ``API Error: Request rejected (429) · <the API's
message>``, then a ``result`` with ``is_error``, ``api_error_status: 429``,
``api_error_type: "rate_limit_error"`` and ``terminal_reason: "api_error"``, and exit
status 1. (The binary also holds a ``rate_limit_event`` with ``resetsAt``, reportedly for
claude.ai logins only; it cannot be produced here.) So the bridge cannot learn a reset
time from the CLI in this setup: it parks the session for ``USAGE_LIMIT_RETRY_SECONDS``
instead (``protocol/claude/usage.py``, docs/sessions.md).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import trio

from tests.support.claude_cli import cli_env
from tests.support.model_server import HttpError, ModelServer


async def test_a_usage_limit_429_is_an_error_result_without_a_reset_time(
    tmp_path: Path, model_server: ModelServer, claude_bin: Path, claude_home: Path
) -> None:
    reset = int(time.time()) + 3 * 3600
    limit_headers = (
        ("anthropic-ratelimit-unified-status", "rejected"),
        ("anthropic-ratelimit-unified-reset", str(reset)),
        ("anthropic-ratelimit-unified-representative-claim", "five_hour"),
        ("anthropic-ratelimit-unified-5h-status", "rejected"),
        ("anthropic-ratelimit-unified-5h-reset", str(reset)),
    )
    model_server.set_script(
        [HttpError(429, "usage limit reached", retry_after=None, headers=limit_headers)]
    )
    env = cli_env(
        base_url=model_server.url, home=claude_home, extra={"CLAUDE_CODE_MAX_RETRIES": "0"}
    )
    workdir = tmp_path / "work"
    workdir.mkdir()
    done = await trio.run_process(
        [str(claude_bin), "-p", "hello", "--output-format", "stream-json", "--verbose"],
        cwd=workdir,
        env=env,
        capture_stdout=True,
        capture_stderr=True,
        check=False,
    )
    assert done.returncode == 1
    lines = [json.loads(line) for line in done.stdout.decode().splitlines()]
    types = [(e.get("type"), e.get("subtype")) for e in lines]
    assert ("rate_limit_event", None) not in types
    assert str(reset) not in done.stdout.decode()

    (synthetic,) = [e for e in lines if e.get("type") == "assistant"]
    assert synthetic["error"] == "rate_limit"
    assert synthetic["message"]["model"] == "<synthetic>"
    text = synthetic["message"]["content"][0]["text"]
    assert text == "API Error: Request rejected (429) · usage limit reached"

    result = lines[-1]
    assert result["type"] == "result"
    assert result["is_error"] is True
    assert result["api_error_status"] == 429
    assert result["api_error_type"] == "rate_limit_error"
    assert result["terminal_reason"] == "api_error"
    assert result["result"] == text
    assert result["total_cost_usd"] == 0
    assert len(model_server.turns) == 1


async def test_the_cli_retries_a_usage_limit_429_itself_first_honouring_retry_after(
    tmp_path: Path, model_server: ModelServer, claude_bin: Path, claude_home: Path
) -> None:
    """``CLAUDE_CODE_MAX_RETRIES`` retries apply to a usage-limit 429 too, each announced
    by ``system/api_retry`` with a delay of at least the ``retry-after``; the retry-after
    is nowhere in the final ``result``. So the bridge parks only after the CLI gave up."""
    reset = int(time.time()) + 3600
    refused = HttpError(
        429,
        "usage limit reached",
        retry_after=3,
        headers=(
            ("anthropic-ratelimit-unified-status", "rejected"),
            ("anthropic-ratelimit-unified-reset", str(reset)),
        ),
    )
    model_server.set_script([refused, refused])
    env = cli_env(
        base_url=model_server.url, home=claude_home, extra={"CLAUDE_CODE_MAX_RETRIES": "1"}
    )
    workdir = tmp_path / "work"
    workdir.mkdir()
    done = await trio.run_process(
        [str(claude_bin), "-p", "hello", "--output-format", "stream-json", "--verbose"],
        cwd=workdir,
        env=env,
        capture_stdout=True,
        capture_stderr=True,
        check=False,
    )
    assert done.returncode == 1
    lines = [json.loads(line) for line in done.stdout.decode().splitlines()]
    retries = [e for e in lines if e.get("subtype") == "api_retry"]
    assert [(r["attempt"], r["max_retries"], r["error_status"]) for r in retries] == [(1, 1, 429)]
    # The retry-after (3 s) sets the wait; the CLI adds some jitter (measured: +13 %).
    assert 3000 <= retries[0]["retry_delay_ms"] <= 4500
    assert retries[0]["error"] == "rate_limit"
    result = lines[-1]
    assert result["api_error_status"] == 429
    assert "retry" not in json.dumps(result).lower()
    assert len(model_server.turns) == 2
