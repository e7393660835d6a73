"""The Shopee Open Platform v2 simulator: `sim.ShopeeSim`, `wire`, `auth`, `product`, `order`,
`logistics`, `documents`, `cancel`, `returns`. Imports only its own modules, `state` and the
shared `fulfilment` labels (never `app`, never `tiktok`)."""
