"""Fulfilment tests drive the sandbox over real HTTP."""

from tests.sandbox.conftest import receiver, running_sandbox  # noqa: F401
