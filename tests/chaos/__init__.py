"""Chaos: the production layout, one process per part, with workers killed, Redis restarted and
database connections dropped under steady orders and marketplace faults; and what must survive."""
