"""The unified order inbox across channels: intake of channel orders, statuses, queries.
A domain package: imports catalog, inventory, channels' models, notifications; never sync."""
