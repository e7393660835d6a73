"""Master catalog: products and their variants."""
