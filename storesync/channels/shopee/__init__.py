"""Shopee Open Platform v2 adapter."""
