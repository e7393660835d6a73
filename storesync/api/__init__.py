"""The merchant REST API (`/api/v1`, on the UI's port): API keys with scopes, per-key rate
limits, idempotent POSTs, one error envelope and an accurate OpenAPI document. Thin: each route
calls the same service functions the UI calls. An entry point: imports stores, sync and below."""
