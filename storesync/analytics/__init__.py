"""KPIs and charts read from the order and stock tables (no tables of its own yet)."""
