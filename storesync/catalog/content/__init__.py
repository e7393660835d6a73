"""What a product shows a shopper: its images (in object storage, ordered, the first the main
one) and its Markdown description rendered safely. May import catalog, storage, tenancy, core."""
