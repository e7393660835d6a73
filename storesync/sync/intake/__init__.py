"""Marketplace pushes and orders in: the webhook HTTP routes (`routes`, the only HTTP module),
reading and storing pushes once (`pushes`), order ingestion (`orders`), batches of stored pushes
(`batch`) and the polling safety net (`poll`). May import push and jobs; not listings or health."""
