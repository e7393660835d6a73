"""Dramatiq broker setup and thin actors. Nothing here imports Reflex."""
