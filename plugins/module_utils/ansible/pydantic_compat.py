"""The single import point for pydantic.

Ansible imports module_utils on hosts that may lack pydantic (and
ansible-test's import sanity test checks exactly that), so models must be
importable without it. Here — and only here — a missing pydantic is replaced
by inert stand-ins; ``glue.require_deps`` then fails the module with
the install command before any model is used.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import Any

try:
    from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, field_validator, model_validator
except ImportError:
    PYDANTIC_IMPORT_ERROR: str | None = traceback.format_exc()

    class BaseModel:  # type: ignore[no-redef]
        """Stand-in so model classes can be defined; never instantiated."""

    class ValidationError(Exception):  # type: ignore[no-redef]
        pass

    def ConfigDict(**kwargs: Any) -> dict[str, Any]:  # type: ignore[no-redef]
        return kwargs

    def Field(default: Any = None, **_kwargs: Any) -> Any:  # type: ignore[no-redef]
        return default

    def field_validator(*_fields: str, **_kwargs: Any) -> Callable[[Any], Any]:  # type: ignore[no-redef]
        return lambda func: func

    def model_validator(**_kwargs: Any) -> Callable[[Any], Any]:  # type: ignore[no-redef]
        return lambda func: func

    def create_model(model_name: str, /, **_fields: Any) -> Any:  # type: ignore[no-redef]
        return type(model_name, (BaseModel,), {})
else:
    PYDANTIC_IMPORT_ERROR = None

__all__ = ["PYDANTIC_IMPORT_ERROR", "BaseModel", "ConfigDict", "Field", "ValidationError", "create_model",
           "field_validator", "model_validator"]
