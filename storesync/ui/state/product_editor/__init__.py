"""The product editor of the products page: its substate (`state`) and the rows and form
parsing it and the products list share (`views`). Calls catalog, inventory, stores, listings."""
