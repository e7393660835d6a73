"""Publishing master products to stores and keeping their listings' content in step: the
platforms' categories (cached per store), the publish form and its checks, the publish and
content jobs."""
