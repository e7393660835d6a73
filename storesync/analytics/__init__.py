"""KPIs and charts read from the order and stock tables, and the activity feed (`activity`, its
one table). Beside the sync engine: imports the domains (orders, inventory, channels,
notifications) and below."""
