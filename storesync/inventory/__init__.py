"""Locations, stock per variant and location, the ledger, reservations and allocations."""
