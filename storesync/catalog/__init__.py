"""Master catalog: products and their variants (one at a time, or many in bulk statements),
CSV import and export.
May import inventory (a new variant's stock rows), tenancy, db and core."""
