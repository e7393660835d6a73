"""Cross-cutting pieces: errors, clock, ids, money, column types, crypto."""
