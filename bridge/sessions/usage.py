"""Moved to :mod:`bridge.sessions.presentation.usage`.

Kept only because ``router.py`` (edited by another branch at the same time) still imports
``thread_name`` from here; delete this file once its import is updated.
"""

from bridge.sessions.presentation.usage import thread_name

__all__ = ["thread_name"]
