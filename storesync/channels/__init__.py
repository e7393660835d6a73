"""The marketplaces: the adapter protocol and its Shopee and TikTok Shop adapters, signing, rate
limits and breakers, sealed credentials opened into an adapter (`connections`), the store and
listing tables. The only package that knows platform field names. Imports nothing from sync or
stores (import contract `channels`)."""
