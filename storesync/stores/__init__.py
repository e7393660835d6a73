"""The store service, above the sync engine: connect a store through OAuth (and the callback
route), disconnect, refresh credentials, health and metrics, allocation settings, key rotation.
Connecting back-fills missed orders and a failed check marks an outage (`storesync.sync.health`).
Imports sync, channels and below; imported by the UI and the CLI."""
