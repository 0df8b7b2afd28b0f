"""Tests of protocol.claude (sans-IO)."""
