"""Cross-cutting pieces: errors, clock, ids, money, table bases and column types, crypto
(sealed credentials, signed tokens), keyset pages and search patterns, bulk writes, events and
logs. The bottom layer: imports no domain package, only settings."""
