"""In-app notifications: oversells, sync failures, token expiry. Imports tenancy, db, core."""
