"""Volumes: named and anonymous volumes of the local driver, and container mount specs."""
