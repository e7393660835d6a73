"""The TikTok Shop Open API simulator: `sim.TikTokSim`, `wire`, `auth`, `api`, `orders`,
`fulfillment`, `returns`, `render`, `filters`. Imports only its own modules,
`storesync.sandbox.state` and the shared label renderer (never `app`, never `shopee`)."""
