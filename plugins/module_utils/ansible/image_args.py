"""The argument spec of the registry options the ``image`` module shares with
the ``berth.engine.registry`` doc fragment (the model is ``RegistryOptions``);
the literal lives in argspecs, which AnsiballZ ships with the module."""

from __future__ import annotations

from .argspecs import REGISTRY_ARGS

__all__ = ["REGISTRY_ARGS"]
