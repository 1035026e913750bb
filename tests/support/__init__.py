"""Helpers shared by the test suites (test-model builders)."""
