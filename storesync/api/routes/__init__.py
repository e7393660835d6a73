"""One module per resource of `/api/v1`; each route reads its inputs, opens a session as the
key's organization, calls one service and returns its DTOs."""
