"""Shared test configuration: hypothesis profiles.

``HYPOTHESIS_PROFILE=ci`` (set by ``.ci/run``) runs more examples; the default ``dev``
profile keeps the local loop quick. Neither has a deadline: trio tests build a fresh
event loop per example, and timing on a loaded 2-core machine is not what we test.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, Phase, settings

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
