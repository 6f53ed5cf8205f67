"""Names and labels of a Compose project's objects, as Docker Compose gives
them, so a project converged by berth looks like one `docker compose up` made:

* containers ``<project>-<service>-<n>`` (``container_name`` as given);
* networks and volumes ``<project>_<key>``, or their ``name:`` as given, or
  the key itself when ``external`` (and no name);
* a built image ``<project>-<service>`` (Compose's default tag);
* labels ``com.docker.compose.*`` on all of them; a container is found by
  its project and service labels, never by its name.
"""

from __future__ import annotations

import re
from typing import Any

PREFIX = "com.docker.compose."
PROJECT = PREFIX + "project"
SERVICE = PREFIX + "service"
NUMBER = PREFIX + "container-number"
CONFIG_HASH = PREFIX + "config-hash"
DEPENDS_ON = PREFIX + "depends_on"
IMAGE = PREFIX + "image"
ONEOFF = PREFIX + "oneoff"
WORKING_DIR = PREFIX + "project.working_dir"
CONFIG_FILES = PREFIX + "project.config_files"
VERSION = PREFIX + "version"
NETWORK = PREFIX + "network"
VOLUME = PREFIX + "volume"
COMPOSE_VERSION = "2.29.0"   # the Compose whose labels these are (what `docker compose ls` reads)
DEFAULT_NETWORK = "default"
PROJECT_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*")   # what Compose accepts as a project name


def container_name(project: str, service: str, number: int, config: dict[str, Any] | None = None) -> str:
    """``container_name`` when the service gives one (a single replica), else Compose's."""
    given = (config or {}).get("container_name")
    return str(given) if given else f"{project}-{service}-{number}"


def image_name(project: str, service: str, config: dict[str, Any]) -> str:
    """The image a service runs: ``image:`` (also the tag of a build), else
    Compose's tag for a built one."""
    return str(config.get("image") or f"{project}-{service}")


def _object_name(project: str, key: str, config: dict[str, Any] | None) -> str:
    config = config or {}
    if config.get("name"):
        return str(config["name"])
    if config.get("external"):
        return key
    return f"{project}_{key}"


def network_name(project: str, key: str, config: dict[str, Any] | None) -> str:
    return _object_name(project, key, config)


def volume_name(project: str, key: str, config: dict[str, Any] | None) -> str:
    return _object_name(project, key, config)


def is_external(config: dict[str, Any] | None) -> bool:
    return bool((config or {}).get("external"))


def project_labels(project: Any) -> dict[str, str]:
    """The labels every container of the project carries besides its own."""
    return {PROJECT: project.name, WORKING_DIR: str(project.working_dir),
            CONFIG_FILES: ",".join(str(f) for f in getattr(project, "config_files", ()) or ()),
            ONEOFF: "False", VERSION: COMPOSE_VERSION}


def container_labels(project: Any, service: str, number: int, config_hash: str, image_id: str | None,
                     depends_on: dict[str, Any]) -> dict[str, str]:
    labels = {**project_labels(project), SERVICE: service, NUMBER: str(number), CONFIG_HASH: config_hash,
              DEPENDS_ON: depends_label(depends_on)}
    if image_id:
        labels[IMAGE] = image_id
    return labels


def depends_label(depends_on: dict[str, Any]) -> str:
    """Compose's form: ``name:condition:restart`` joined by commas."""
    return ",".join(f"{name}:{(dep or {}).get('condition', 'service_started')}:"
                    f"{str(bool((dep or {}).get('restart'))).lower()}" for name, dep in sorted(depends_on.items()))


def network_labels(project: str, key: str, config: dict[str, Any] | None) -> dict[str, str]:
    given = {str(k): str(v) for k, v in ((config or {}).get("labels") or {}).items()}
    return {**given, PROJECT: project, NETWORK: key, VERSION: COMPOSE_VERSION}


def volume_labels(project: str, key: str, config: dict[str, Any] | None) -> dict[str, str]:
    given = {str(k): str(v) for k, v in ((config or {}).get("labels") or {}).items()}
    return {**given, PROJECT: project, VOLUME: key, VERSION: COMPOSE_VERSION}


def number_of(labels: dict[str, str]) -> int:
    text = labels.get(NUMBER, "")
    return int(text) if text.isdigit() else 0
