"""ccbridge, the application: Discord threads as Claude Code sessions, run in parallel."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("ccbridge")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
