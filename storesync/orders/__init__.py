"""The unified order inbox across channels."""
