"""Dramatiq broker and thin actors, the embedded worker, and the composition root (`wiring`) that
connects every layer at start-up; `main` is the worker process's entry. Nothing here imports
Reflex. Above the whole of storesync except the UI and CLI, which start it."""
