"""Sync tests use the sandbox fixtures (served over real HTTP)."""

from tests.channels.conftest import big_sandbox  # noqa: F401
from tests.sandbox.conftest import receiver, running_sandbox  # noqa: F401
