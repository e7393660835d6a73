"""Sync jobs: start, cancel, retry and history (`service`), the runner that claims and runs one
(`runner`; handed its kinds at start-up, it imports none of them), progress sinks, DTOs.
The bottom of the engine: imports only `storesync.sync.models` and below."""
