"""StoreSync: one catalog, one stock count, one order inbox across marketplaces."""

__version__ = "0.1.0"
