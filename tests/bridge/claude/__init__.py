"""Tests of bridge.claude (process plumbing with the fake CLI; the real CLI is in tests/e2e)."""
