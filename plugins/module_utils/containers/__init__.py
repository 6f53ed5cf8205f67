"""Containers: records, the per-host monitor, logs and restart policies."""
