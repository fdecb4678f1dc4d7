"""Internals of the raw-data loader; the public entry point is `churnguard.loader.load`."""
