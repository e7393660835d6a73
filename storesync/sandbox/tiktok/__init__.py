"""The TikTok Shop Open API simulator: `sim.TikTokSim`, `wire`, `auth`, `api`, `render`.
Imports only its own modules and `storesync.sandbox.state` (never `app`, never `shopee`)."""
