"""KPIs and charts read from the order and stock tables (no tables of its own yet). Beside the
sync engine: imports the domains (orders, inventory, channels, notifications) and below."""
