"""Organizations, users, memberships, roles and the request context services take."""
