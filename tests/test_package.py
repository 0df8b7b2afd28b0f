"""The packages import cleanly and without side effects; the CLI answers."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from bridge.cli import main

_PROBE = r"""
import json, logging, signal, sys, threading
before_handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
before_threads = threading.active_count()
root_handlers = list(logging.getLogger().handlers)
import actors, protocol, protocol.discord, protocol.claude, bridge, bridge.cli
print(json.dumps({
    "signals_untouched": before_handlers == {
        s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)
    },
    "no_new_threads": threading.active_count() == before_threads,
    "logging_untouched": logging.getLogger().handlers == root_handlers,
}))
"""


def test_import_has_no_side_effects() -> None:
    # A fresh interpreter, so that nothing imported by pytest itself hides a side effect.
    out = subprocess.run(
        [sys.executable, "-c", _PROBE], check=True, capture_output=True, text=True
    ).stdout
    facts = json.loads(out)
    assert facts == {
        "signals_untouched": True,
        "no_new_threads": True,
        "logging_untouched": True,
    }


def test_version_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["version"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("ccbridge ")


def test_help_lists_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    assert "version" in capsys.readouterr().out


def test_no_command_prints_help_and_fails(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "usage: ccbridge" in capsys.readouterr().err
