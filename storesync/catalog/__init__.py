"""Master catalog: products and their variants (one at a time, or many in bulk statements),
CSV import and export; `content/`: images and descriptions.
May import inventory (a new variant's stock rows), storage (images), tenancy, db and core."""
