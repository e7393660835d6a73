"""Sync jobs, webhook intake, the stock outbox and reconciliation."""
