"""Cgroups: one manager protocol, a v1 and a v2 driver, one small file per
controller per version (each a pure function from resources to writes)."""
