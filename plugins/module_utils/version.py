"""The engine's version, shared by modules, the CLI and galaxy.yml checks."""

BERTH_VERSION = "0.1.0"
