"""Stock out to the channels: the transactional outbox (filled before each commit that touched
stock), the push dispatcher (coalesced, batched, rate-limited) and the full inventory push.
May import jobs (progress) and below."""
