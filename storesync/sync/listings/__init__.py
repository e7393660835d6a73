"""Channel listings: the import (paged, set-based upserts), matching to master variants, new
master products made through catalog, and the review queue. May import push and jobs."""
