"""Chaos tests use the sandbox fixtures (served over real HTTP)."""

from tests.sandbox.conftest import running_sandbox  # noqa: F401
