"""The safety nets over time: the per-store schedule (order polls, daily reconciliation, outage
checks), reconciliation and the drift it records, staleness alerts, and back-fills after an
outage. The top of the engine: may import intake, listings, push and jobs."""
