"""Locations, stock per variant and location, the ledger, reservations and allocations.
A domain package: imports its sibling domains' models, tenancy, db and core; never sync."""
