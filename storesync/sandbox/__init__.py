"""Local simulators of the Shopee Open Platform v2 and the TikTok Shop Open API (202309).

They behave like the real services on the wire (paths, signing, tokens, errors, pagination,
webhooks) so StoreSync can be demoed, tested and benchmarked without seller accounts or internet.
`storesync.sandbox.app.Sandbox` builds everything; `storesync sandbox` runs it alone.

Layout: `shopee/` and `tiktok/` are the two simulators (each imports only itself and `state`);
beside them the shared machinery: `state` (the world), `seed`, `persist`, `platform` (what a
simulator provides), `faults`, `webhooks` (push delivery), `generator` (random orders), `control`
(the JSON control API), `app` (all of it as one ASGI app), `server` and `cli` (serving it).
"""
