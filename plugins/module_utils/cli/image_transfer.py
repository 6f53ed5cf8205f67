"""``berth pull``, ``push``, ``login``, ``logout`` (and ``image pull|push``):
images to and from registries, as Docker's CLI.

Pull and push draw a per-layer display on stderr (cli/progress.py: live on a
terminal, plain lines elsewhere; none with ``-q`` or ``--json``) and print
what scripts read on stdout: the pulled reference, the pushed digest line.
Registry TLS as the engine's everywhere (image/service.make_client):
verified HTTPS, plain HTTP only for loopback registries. Credentials are
those ``berth login`` (or ``docker login``) saved in the Docker config file
(``$DOCKER_CONFIG/config.json``, default ``~/.docker/config.json``).
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..engine import Engine
from ..errors import InvalidInput
from ..image.reference import parse_reference
from ..image.store import ImageStore
from .base import Commands


def docker_config_path() -> Path:
    """Where credentials live: ``$DOCKER_CONFIG/config.json`` as Docker's CLI, else ``~/.docker/config.json``."""
    directory = os.environ.get("DOCKER_CONFIG")
    return Path(directory, "config.json") if directory else Path("~/.docker/config.json").expanduser()


@dataclass(frozen=True)
class CliRegistryAccess:
    """The CLI's registry options (image/service.RegistryAccess): saved credentials, Docker's TLS rules."""

    validate_certs: bool = True
    ca_cert: Path | None = None
    username: str | None = None
    password: str | None = None
    config_path: Path = field(default_factory=docker_config_path)
    insecure_registries: list[str] = field(default_factory=list)


def _add_pull(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", metavar="NAME[:TAG|@DIGEST]")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress, only the image's name")
    parser.add_argument("--platform", help="os/arch[/variant] to pick from a multi-platform image")


def _add_push(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", metavar="NAME[:TAG]")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress")


VERBS = (
    ("pull", (), ("pull",), "pull an image from a registry", _add_pull),
    ("push", (), ("push",), "push an image to a registry", _add_push),
)


def add_top_level(sub: Any, common: argparse.ArgumentParser) -> None:
    """``login`` and ``logout``: top-level only, as Docker's."""
    login_parser = sub.add_parser("login", parents=[common], help="save credentials for a registry")
    login_parser.add_argument("server", nargs="?", help="the registry host (default docker.io)")
    login_parser.add_argument("-u", "--username")
    login_parser.add_argument("-p", "--password", help="prefer --password-stdin: a flag shows in ps")
    login_parser.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    logout_parser = sub.add_parser("logout", parents=[common], help="remove the saved credentials of a registry")
    logout_parser.add_argument("server", nargs="?", help="the registry host (default docker.io)")


def _display(args: argparse.Namespace, verb: str) -> Any:
    from .progress import LayerDisplay

    if args.quiet or args.json:
        return None
    return LayerDisplay(sys.stderr, verb=verb)


# -- pull, push -------------------------------------------------------------------

def pull(engine: Engine, args: argparse.Namespace) -> dict[str, Any]:
    from ..image.manifest import Platform
    from ..image.pull import Puller
    from ..image.service import make_client

    ref = parse_reference(args.name, field="NAME")
    platform = Platform.parse(args.platform) if args.platform else None
    progress = _display(args, "pull")
    if progress is not None:
        sys.stderr.write(f"{ref.digest or ref.tag}: Pulling from {ref.repository}\n")
    puller = Puller(ImageStore(engine), make_client(ref.registry, CliRegistryAccess()), platform,
                    progress=progress)
    record, _changed = puller.pull(ref)
    digest = next((d.partition("@")[2] for d in record.repo_digests if d.startswith(f"{ref.name}@")), "")
    fresh = puller.stats.fetched > 0
    if args.json:
        return {"id": record.id, "name": str(ref), "digest": digest, "downloaded": fresh}
    if progress is not None:
        status = "Downloaded newer image for" if fresh else "Image is up to date for"
        sys.stderr.write(f"Digest: {digest}\nStatus: {status} {ref.familiar}\n")
    sys.stdout.write(f"{ref}\n")
    return {"_rc": 0}


def push(engine: Engine, args: argparse.Namespace) -> dict[str, Any]:
    from ..image.push import push_image
    from ..image.service import make_client

    store = ImageStore(engine)
    target = parse_reference(args.name, field="NAME")
    if target.digest:
        raise InvalidInput(f"cannot push to a digest ({args.name!r})", field="NAME", hint="give NAME[:TAG]")
    record = store.resolve(target.tagged)
    progress = _display(args, "push")
    if progress is not None:
        sys.stderr.write(f"The push refers to repository [{target.name}]\n")
    digest, stats = push_image(store, record, target, make_client(target.registry, CliRegistryAccess()),
                               progress=progress)
    if args.json:
        return {"digest": digest, "name": str(target), "uploaded": stats.uploaded, "mounted": stats.mounted,
                "skipped": stats.skipped}
    size = engine.blobs.size(record.manifest_digest)
    sys.stdout.write(f"{target.tag}: digest: {digest} size: {size}\n")
    return {"_rc": 0}


# -- login, logout ----------------------------------------------------------------

def login(engine: Engine | None, args: argparse.Namespace) -> dict[str, Any]:
    # absolute: ansible-test's pylint reads `..ansible` as Ansible itself (cli/main.py's info does the same)
    from ansible_collections.berth.engine.plugins.module_utils.ansible.image_models import LoginRequest
    from ansible_collections.berth.engine.plugins.module_utils.ansible.login_plan import plan_login

    username, password = _credentials(args)
    request = LoginRequest(registry=args.server or "docker.io", username=username, password=password,
                           reauthorize=True, config_path=docker_config_path())
    plan_login(request, may_contact=True).execute(None)   # verifies against the registry before saving
    if args.json:
        return {"registry": request.registry, "username": username, "logged_in": True}
    sys.stdout.write("Login Succeeded\n")
    return {"_rc": 0}


def _credentials(args: argparse.Namespace) -> tuple[str, str]:
    """The username and password from the flags, stdin, or a prompt on a terminal (never echoed or printed)."""
    username = args.username
    if args.password_stdin:
        if args.password is not None:
            raise InvalidInput("--password and --password-stdin are exclusive", field="--password-stdin",
                               hint="give one of them")
        if not username:
            raise InvalidInput("--password-stdin needs --username", field="--username", hint="pass -u NAME")
        password = sys.stdin.read().rstrip("\r\n")
    else:
        password = args.password
    if not username and sys.stdin.isatty():
        username = input("Username: ").strip()
    if password is None and sys.stdin.isatty():
        import getpass

        password = getpass.getpass("Password: ")
    if not username or not password:
        raise InvalidInput("a username and a password are needed", field="--username",
                           hint="pass -u NAME and --password-stdin (or -p)")
    return username, password


def logout(engine: Engine | None, args: argparse.Namespace) -> dict[str, Any]:
    from ansible_collections.berth.engine.plugins.module_utils.ansible.login_plan import normalise_registry

    from ..registry import credentials as creds

    registry = normalise_registry(args.server or "docker.io")
    removed = creds.remove(registry, docker_config_path())
    if args.json:
        return {"registry": registry, "removed": removed}
    if removed:
        sys.stdout.write(f"Removing login credentials for {registry}\n")
    else:
        sys.stdout.write(f"Not logged in to {registry}\n")
    return {"_rc": 0}


COMMANDS: Commands = {
    **{key: (pull, True) for key in ("image pull", "pull")},
    **{key: (push, False) for key in ("image push", "push")},
    "login": (login, False),    # type: ignore[dict-item]  (no engine state is touched)
    "logout": (logout, False),  # type: ignore[dict-item]
}
