"""The safety nets over time: the per-store schedule (order polls, daily reconciliation, outage
checks), reconciliation and the drift it records, staleness alerts, back-fills after an outage,
and a store's trouble told plainly (one notification when it lasts). The top of the engine: may
import intake, listings, push and jobs."""
