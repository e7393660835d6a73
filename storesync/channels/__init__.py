"""Marketplace stores and their listings; the only package that knows platform field names."""
