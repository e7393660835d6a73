"""The inbox search: the tokens an order is found by (`tokens`, pure text functions) and their
table (`index`: written with the order, read as prefix ranges). Imports orders' models and core."""
