"""Core tests that need a sandbox get the shared fixture."""

from tests.sandbox.conftest import running_sandbox  # noqa: F401
