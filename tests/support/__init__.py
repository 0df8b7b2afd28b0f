"""Test support code shared by several test directories (servers, fakes, installers)."""
