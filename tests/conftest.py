"""Shared test configuration: hypothesis profiles, and the suite-wide mentions check.

``HYPOTHESIS_PROFILE=ci`` (set by ``.ci/run``) runs more examples; the default ``dev``
profile keeps the local loop quick. Neither has a deadline: trio tests build a fresh
event loop per example, and timing on a loaded 2-core machine is not what we test.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, Phase, settings

from bridge.discord_local import LocalDiscord
from tests.support.allowed_mentions import MentionsCheck

# No explain phase: its line tracer made shrinking a failing stateful test take many
# minutes (seen in CI); a failure still shrinks and prints its minimal example.
_PHASES = (Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink)

settings.register_profile(
    "dev",
    max_examples=50,
    deadline=None,
    phases=_PHASES,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "ci",
    max_examples=200,
    deadline=None,
    phases=_PHASES,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@pytest.fixture(autouse=True)
def _no_accidental_pings(monkeypatch: pytest.MonkeyPatch) -> Iterator[MentionsCheck]:
    """Every local Discord server a test starts checks every message body the bridge sends
    for ``allowed_mentions`` (tests/support/allowed_mentions.py); the test fails if one
    could ping somebody the bot did not mean to."""
    check = MentionsCheck()
    init = LocalDiscord.__init__

    def observed_init(self: LocalDiscord, *args: object, **kwargs: object) -> None:
        init(self, *args, **kwargs)  # type: ignore[arg-type]  # forwarded unchanged
        self.observers.append(check)

    monkeypatch.setattr(LocalDiscord, "__init__", observed_init)
    yield check
    check.assert_clean()
