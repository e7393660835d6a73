"""The signed-out account pages' state (sign-up, reset requests, the emailed links' page)."""

from storesync.ui.state.account.links import AccountState

__all__ = ["AccountState"]
