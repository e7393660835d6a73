"""In-app notifications: oversells, sync failures, token expiry."""
