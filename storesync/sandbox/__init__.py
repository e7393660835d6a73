"""Local simulators of the Shopee Open Platform v2 and the TikTok Shop Open API (202309).

They behave like the real services on the wire (paths, signing, tokens, errors, pagination,
webhooks) so StoreSync can be demoed, tested and benchmarked without seller accounts or internet.
`storesync.sandbox.app.build_sandbox_app()` mounts everything; `storesync sandbox` runs it alone.
"""
