"""Image references, parsed and normalised like Docker's distribution/reference.

``busybox`` → ``docker.io/library/busybox:latest``; ``localhost:5000/a/b@sha256:…``
keeps its registry and digest. The first path component is a registry when it
contains ``.`` or ``:`` or is ``localhost``. A malformed reference raises
InvalidInput that says which part is wrong and what a valid one looks like.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..digest import validate_digest
from ..errors import InvalidInput

DEFAULT_REGISTRY = "docker.io"
DEFAULT_TAG = "latest"
_LEGACY_REGISTRIES = {"index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"}
_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
_DOMAIN = re.compile(r"^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*"
                     r"(?::[0-9]+)?$|^\[[0-9a-fA-F:.]+\](?::[0-9]+)?$")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$", re.ASCII)
_MAX_NAME = 255
EXAMPLE = "e.g. 'busybox', 'busybox:1.36', 'registry.example.com:5000/team/app@sha256:<64 hex>'"


@dataclass(frozen=True)
class Reference:
    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @property
    def name(self) -> str:
        """Fully qualified repository name, e.g. docker.io/library/busybox."""
        return f"{self.registry}/{self.repository}"

    def __str__(self) -> str:
        text = self.name
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text

    @property
    def familiar(self) -> str:
        """The short form Docker prints: busybox:latest, quay.io/x/y:1."""
        name = self.name
        if self.registry == DEFAULT_REGISTRY:
            name = self.repository.removeprefix("library/")
        text = name + (f":{self.tag}" if self.tag else "")
        return text + (f"@{self.digest}" if self.digest else "")

    @property
    def tagged(self) -> str:
        """name:tag (tag defaulting to latest), the key images are tagged by."""
        return f"{self.name}:{self.tag or DEFAULT_TAG}"

    @property
    def reference_for_pull(self) -> str:
        """What to ask the registry's manifest endpoint for: digest wins over tag."""
        return self.digest or self.tag or DEFAULT_TAG

    def with_tag(self, tag: str) -> Reference:
        return Reference(self.registry, self.repository, _check_tag(tag, tag), None)


def parse_reference(text: str, *, field: str = "name", default_tag: bool = True) -> Reference:
    """Parse and normalise an image reference (see module docstring)."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput("an image reference is required", field=field, hint=EXAMPLE)
    if text != text.strip() or any(c.isspace() for c in text):
        raise InvalidInput(f"{text!r} contains whitespace", field=field, hint=EXAMPLE)
    remainder, digest = _split_digest(text, field)
    remainder, tag = _split_tag(remainder, text, field)
    registry, repository = _split_registry(remainder, text, field)
    if tag is None and digest is None and default_tag:
        tag = DEFAULT_TAG
    return Reference(registry, repository, tag, digest)


def _split_digest(text: str, field: str) -> tuple[str, str | None]:
    if "@" not in text:
        return text, None
    name, _at, digest = text.partition("@")
    try:
        validate_digest(digest, field=field)
    except InvalidInput as err:
        raise InvalidInput(f"{text!r} has an invalid digest {digest!r}: {err.message}", field=field,
                           hint="a digest is 'sha256:' followed by 64 lowercase hex characters") from None
    return name, digest


def _split_tag(name: str, text: str, field: str) -> tuple[str, str | None]:
    last = name.rsplit("/", 1)[-1]
    if ":" not in last:
        return name, None
    repo, _colon, tag = name.rpartition(":")
    return repo, _check_tag(tag, text, field)


def _check_tag(tag: str, text: str, field: str = "tag") -> str:
    if not _TAG.fullmatch(tag):
        raise InvalidInput(f"{text!r} has an invalid tag {tag!r}", field=field,
                           hint="a tag is 1-128 of [A-Za-z0-9_.-], not starting with '.' or '-'")
    return tag


def _split_registry(name: str, text: str, field: str) -> tuple[str, str]:
    first, slash, rest = name.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost" or first.startswith("[")):
        port = first.rsplit(":", 1)[1] if ":" in first and not first.endswith("]") else None
        if not _DOMAIN.fullmatch(first) or (port is not None and not (len(port) <= 5 and 0 < int(port or 0) < 65536)):
            raise InvalidInput(f"{text!r} has an invalid registry {first!r}", field=field,
                               hint="a registry is a host name or IP with an optional :port (1-65535)")
        registry, path = first, rest
    else:
        registry, path = DEFAULT_REGISTRY, name
    if registry in _LEGACY_REGISTRIES:
        registry = DEFAULT_REGISTRY
    if registry == DEFAULT_REGISTRY and "/" not in path:
        path = f"library/{path}"
    _check_path(path, text, field)
    if len(f"{registry}/{path}") > _MAX_NAME:
        raise InvalidInput(f"{text!r} is longer than {_MAX_NAME} characters", field=field)
    return registry, path


def _check_path(path: str, text: str, field: str) -> None:
    for component in path.split("/"):
        if not component:
            raise InvalidInput(f"{text!r} has an empty path component", field=field,
                               hint="remove the doubled or trailing '/'")
        if component != component.lower() and _COMPONENT.fullmatch(component.lower()):
            raise InvalidInput(f"{text!r}: repository name must be lowercase ({component!r})", field=field,
                               hint=f"use {component.lower()!r}")
        if not _COMPONENT.fullmatch(component):
            raise InvalidInput(f"{text!r} has an invalid path component {component!r}", field=field,
                               hint="path components are lowercase letters and digits, separated by "
                                    "'.', '_', '__' or '-'")
