"""Price sync: a store's price rule, its preview, and pushing the prices it gives."""
