"""Order fulfilment across the marketplaces: arranging shipment, labels, pick lists, packing
slips, cancellations and buyers' returns. Imports channels, orders, inventory, catalog;
imported by sync (return intake, the shipments job), ui, api."""
