"""Pull and push through basic auth over TLS, the bearer-token flow, login,
and the errors a person gets for bad credentials or an untrusted certificate."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

from ansible_collections.berth.engine.plugins.module_utils.engine import Engine
from ansible_collections.berth.engine.plugins.module_utils.image.store import ImageStore
from tests.support.images import push, run
from tests.support.playbook import assert_converges, run_playbook, write_playbook
from tests.support.tls import make_test_ca


def _defaults(tmp_path: Path, **extra: Any) -> dict[str, Any]:
    return {"group/berth.engine.all": {"state_root": str(tmp_path / "state"), "run_root": str(tmp_path / "run"),
                                       **extra}}


def test_basic_auth_over_tls_with_a_given_ca(tmp_path: Path, registry_tls_auth: Any, busybox_image: Any) -> None:
    reg = registry_tls_auth
    push(busybox_image, reg, "secure/busybox", "1")
    name = f"{reg.host}/secure/busybox:1"
    creds = {"username": reg.username, "password": reg.password, "ca_cert": str(reg.ca_path)}
    play = write_playbook(tmp_path, [{"berth.engine.image": {"name": name, **creds}}],
                          module_defaults=_defaults(tmp_path))
    results = assert_converges(play)
    assert reg.password not in "".join(r.output for r in results)  # no_log keeps it out of the output
    assert ImageStore(Engine.open(tmp_path / "state", tmp_path / "run")).resolve(name).id == \
        busybox_image.config_digest


def test_wrong_password_and_untrusted_cert_are_clear_errors(
        tmp_path: Path, registry_tls_auth: Any, busybox_image: Any) -> None:
    reg = registry_tls_auth
    push(busybox_image, reg, "secure/errors", "1")
    name = f"{reg.host}/secure/errors:1"
    play = write_playbook(tmp_path, [
        {"berth.engine.image": {"name": name, "username": reg.username, "password": "wrong",
                                "ca_cert": str(reg.ca_path)}, "register": "bad_password", "ignore_errors": True},
        # a CA is given, so verification is strict even on loopback: another CA's cert must be refused
        {"berth.engine.image": {"name": name, "username": reg.username, "password": reg.password,
                                "ca_cert": str(make_test_ca(tmp_path / "other-ca").ca_cert)},
         "register": "bad_cert", "ignore_errors": True},
    ], module_defaults=_defaults(tmp_path))
    result = run_playbook(play)
    failures = [json.loads(line.split("=> ", 1)[1]) for line in result.output.splitlines()
                if line.startswith("fatal:") and "=> {" in line]
    assert len(failures) == 2, result.output
    password, cert = (f["msg"] for f in failures)
    assert "credentials" in password.lower() or "401" in password, password
    assert "certificate" in cert.lower() and "ca_cert" in cert, cert
    engine = Engine.open(tmp_path / "state", tmp_path / "run")
    assert ImageStore(engine).list() == [] and engine.blobs.list() == []


def test_login_saves_credentials_that_pull_then_uses(tmp_path: Path, registry_auth: Any, busybox_image: Any) -> None:
    reg = registry_auth
    push(busybox_image, reg, "private/busybox", "1")
    config = tmp_path / "docker-config.json"
    play = write_playbook(tmp_path, [
        {"berth.engine.login": {"registry": reg.host, "username": reg.username, "password": reg.password,
                                "config_path": str(config)}},
        {"berth.engine.image": {"name": f"{reg.host}/private/busybox:1", "config_path": str(config)}},
    ], module_defaults=_defaults(tmp_path))
    results = assert_converges(play)
    assert reg.password not in "".join(r.output for r in results)
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert reg.host in json.loads(config.read_text())["auths"]
    # skopeo reads the same file: the format is Docker's
    run("skopeo", "inspect", "--tls-verify=false", "--authfile", config, f"docker://{reg.host}/private/busybox:1")


def test_token_flow_pull_and_push(tmp_path: Path, registry_token: Any, busybox_image: Any) -> None:
    reg = registry_token
    push(busybox_image, reg, "tok/busybox", "1")
    src, dst = f"{reg.host}/tok/busybox:1", f"{reg.host}/tok/copy:2"
    creds = {"username": reg.username, "password": reg.password}
    play = write_playbook(tmp_path, [   # one task: check mode plans the pull, the tag and the push
        {"berth.engine.image": {"name": src, "repository": dst, "push": True, **creds}},
    ], module_defaults=_defaults(tmp_path))
    assert_converges(play)
    issuer = reg.extras[0]
    # the registry's challenge names the actions in no fixed order (push,pull or pull,push)
    scopes = {(scope.rpartition(":")[0], frozenset(scope.rpartition(":")[2].split(",")))
              for grant in issuer.issued for scope in grant["scopes"]}
    assert ("repository:tok/copy", frozenset({"pull", "push"})) in scopes
    digest = run("skopeo", "inspect", "--tls-verify=false", "--creds", f"{reg.username}:{reg.password}",
                 "--format", "{{.Digest}}", f"docker://{dst}").stdout.strip()
    assert digest == busybox_image.manifest_digest
