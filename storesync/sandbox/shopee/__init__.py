"""The Shopee Open Platform v2 simulator: `sim.ShopeeSim`, `wire`, `auth`, `product`, `order`.
Imports only its own modules and `storesync.sandbox.state` (never `app`, never `tiktok`)."""
