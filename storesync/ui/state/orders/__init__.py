"""The Orders page's state: the inbox (`inbox`), its marketplace actions (`shipping`,
`cancelling`), returns (`returns`) and the rows they show (`rows`). Imports services only."""

from storesync.ui.state.orders.inbox import OrdersState

__all__ = ["OrdersState"]
