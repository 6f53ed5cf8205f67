"""A simulated fleet of fresh Debian hosts, reached over real SSH.

Each host is a process tree in namespaces of its own: network (a veth to an
underlay bridge this harness makes, in an address range of its own with no
route out), mount (a private /run and /proc, and per-host dirs bound over
/opt, /var/lib/berth, /run/berth, /usr/local/bin, /etc/sysctl.d and /tmp),
UTS (its hostname) and PID (so that killing the host's init ends everything
the host ran: sshd, berth's agents and monitors, containers). The rest of
the machine's filesystem is the "fresh Debian host": /usr/bin/python3
without pydantic. The host's init is this file run by the host's own
python3 under ``unshare`` (never ``ip netns exec``, which remounts /sys and
hides the cgroup mounts the hosts' containers need).

``Fleet.play`` runs ``ansible-playbook`` over SSH with interpreter discovery
as it is and returns per-host recap counts and per-task results (the
``berth_fleet`` callback in tests/integration/fleet/callbacks).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
COLLECTIONS = REPO / ".build" / "collections"
CALLBACKS = REPO / "tests" / "integration" / "fleet" / "callbacks"
HOST_PYTHON = "/usr/bin/python3"
# Paths every host has of its own (bound from <fleet>/<host>/root/<path>).
# /root too: the machine's root has pyenv on its PATH (~/.bashrc), which a fresh host has not.
PRIVATE_DIRS = ("/opt", "/var/lib/berth", "/run/berth", "/usr/local/bin", "/etc/sysctl.d", "/root", "/tmp")
SSH_DIR_IN_HOST = "/run/fleet-ssh"
SSHD_CONFIG = f"""\
Port 22
HostKey {SSH_DIR_IN_HOST}/host_ed25519
AuthorizedKeysFile {SSH_DIR_IN_HOST}/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
UseDNS no
PrintMotd no
PidFile /run/sshd.pid
MaxSessions 64
MaxStartups 64:30:128
Subsystem sftp internal-sftp
"""


# --- inside a host: its init (stdlib only, run by the host's python3) ---------------------------


def host_init(spec: dict[str, Any]) -> None:
    """PID 1 of a host: make its private mounts and hostname, wait for the
    harness to wire its network (a line on stdin), start sshd, reap orphans
    (berth's daemons double-fork) until killed."""
    def run(*argv: str) -> None:
        subprocess.run(argv, check=True)

    run("mount", "-t", "tmpfs", "-o", "mode=755,nosuid,nodev", "tmpfs", "/run")
    for path in ("/run/sshd", "/run/lock", "/run/berth", SSH_DIR_IN_HOST):
        os.makedirs(path, exist_ok=True)
    os.chmod("/run/sshd", 0o755)
    run("mount", "--bind", spec["ssh_dir"], SSH_DIR_IN_HOST)
    for path in PRIVATE_DIRS:   # /tmp last: the sources live under the controller's /tmp
        run("mount", "--bind", spec["root"] + path, path)
    run("hostname", spec["name"])
    sys.stdin.readline()   # the harness has set up eth0 and lo
    sshd = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", f"{SSH_DIR_IN_HOST}/sshd_config",
                             "-o", f"ListenAddress={spec['address']}"], stdin=subprocess.DEVNULL)
    print(f"sshd {sshd.pid}", flush=True)
    while True:
        try:
            os.wait()
        except ChildProcessError:
            time.sleep(1)


# --- the controller side ----------------------------------------------------------------------


@dataclass
class FleetHost:
    name: str
    address: str
    root: Path                     # <fleet>/<name>/root: the host's private dirs at their paths
    link: str                      # the host end of its veth, on the underlay bridge
    unshare: subprocess.Popen[str] | None = None
    init_pid: int = 0

    def path(self, inside: str) -> Path:
        """Where the controller sees a path under one of the host's private dirs."""
        if not any(inside == d or inside.startswith(d + "/") for d in PRIVATE_DIRS):
            raise ValueError(f"{inside} is not under a host's private dirs {PRIVATE_DIRS}")
        return self.root / inside.lstrip("/")

    def run(self, *argv: str, check: bool = True, timeout: float = 60,
            input: str | None = None) -> subprocess.CompletedProcess[str]:
        """A command inside the host (all its namespaces), as its sshd's children run."""
        cmd = ["nsenter", "-t", str(self.init_pid), "-n", "-m", "-u", "-p", "--wd=/", "--", *argv]
        env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False, env=env,
                                input=input)
        if check and result.returncode != 0:
            raise AssertionError(f"{self.name}: {' '.join(argv)} failed ({result.returncode}):\n"
                                 f"{result.stdout}{result.stderr}")
        return result


@dataclass
class FleetResult:
    returncode: int
    output: str
    recap: dict[str, dict[str, int]]          # host -> ok/changed/failed/unreachable/skipped
    tasks: list[dict[str, Any]] = field(default_factory=list)   # per host per task (callback berth_fleet)
    wall: float = 0.0
    cpu: float = 0.0                          # user+sys of ansible-playbook and everything it waited for

    def changed(self, host: str | None = None) -> int:
        return sum(r["changed"] for h, r in self.recap.items() if host in (None, h))

    def failed(self, host: str | None = None) -> int:
        return sum(r["failed"] + r["unreachable"] for h, r in self.recap.items() if host in (None, h))

    def failures(self) -> list[dict[str, Any]]:
        return [t for t in self.tasks if t["status"] in ("failed", "unreachable")]

    def changed_tasks(self, host: str | None = None) -> list[dict[str, Any]]:
        return [t for t in self.tasks if t["changed"] and host in (None, t["host"])]

    def summary(self) -> str:
        """What a failing assertion should show: the failed tasks' messages, then the output's tail."""
        lines = [f"{t['host']}: {t['task']} ({t['action']}): {t.get('msg', '')}"[:1500] for t in self.failures()]
        return "\n".join([*lines, "--- output tail ---", self.output[-5000:]])


class Fleet:
    """N hosts on one underlay; ``start`` and ``stop`` (or ``fleet()``)."""

    def __init__(self, directory: Path, count: int = 3, *, prefix: str = "fh", subnet_octet: int | None = None,
                 group: str = "shop_hosts", collections: Path | None = None) -> None:
        self.dir = directory
        # BERTH_FLEET_COLLECTIONS: a snapshot of the collection (debugging against a tree others edit)
        self.collections = collections or Path(os.environ.get("BERTH_FLEET_COLLECTIONS", COLLECTIONS))
        self.group = group
        token = str(os.getpid())[-6:]
        self.bridge = f"bfl{token}"
        octet = subnet_octet if subnet_octet is not None else 1 + os.getpid() % 250
        self.net = f"198.18.{octet}"
        self.gateway = f"{self.net}.254"     # the controller's address on the underlay
        self.hosts = [FleetHost(f"{prefix}{i}", f"{self.net}.{i}", directory / f"{prefix}{i}" / "root",
                                f"vfl{token}-{i}") for i in range(1, count + 1)]
        self.ssh_dir = directory / "ssh"
        self.inventory = directory / "inventory.yml"
        self.config = directory / "ansible.cfg"
        self._mountpoints = _shared_mountpoints()
        self.container_ids: set[str] = set()

    def host(self, name: str) -> FleetHost:
        return next(h for h in self.hosts if h.name == name)

    # --- start ---

    def start(self) -> Fleet:
        # imported here: this file also runs as a host's init, under the system python without pytest
        from tests.support.peers import require_peer

        require_peer("/usr/sbin/sshd", "ssh", "ssh-keygen", why="openssh-server and -client: the fleet's hosts")
        try:
            self._keys()
            self._underlay()
            # a bind needs a mount point on the controller: made once, shared with other workers' fleets
            self._mountpoints.acquire([Path(p) for p in PRIVATE_DIRS if not p.startswith("/run/")])
            for host in self.hosts:
                self._start_host(host)
            for host in self.hosts:
                _wait_port(host.address, 22, timeout=15)
            self._ansible_files()
        except BaseException:
            self.stop()
            raise
        return self

    def _keys(self) -> None:
        self.ssh_dir.mkdir(parents=True, exist_ok=True)
        self.ssh_dir.chmod(0o700)
        for key in ("host_ed25519", "client_ed25519"):
            if not (self.ssh_dir / key).exists():
                _run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"berth-fleet-{key}",
                     "-f", str(self.ssh_dir / key))
        (self.ssh_dir / "authorized_keys").write_text((self.ssh_dir / "client_ed25519.pub").read_text())
        (self.ssh_dir / "sshd_config").write_text(SSHD_CONFIG)
        host_key = (self.ssh_dir / "host_ed25519.pub").read_text().split()[:2]
        (self.dir / "known_hosts").write_text(
            "".join(f"{h.address} {' '.join(host_key)}\n" for h in self.hosts))

    def _underlay(self) -> None:
        _run("ip", "link", "add", self.bridge, "type", "bridge")
        _run("ip", "addr", "add", f"{self.gateway}/24", "dev", self.bridge)
        _run("ip", "link", "set", self.bridge, "up")

    def _start_host(self, host: FleetHost) -> None:
        for path in PRIVATE_DIRS:
            (host.root / path.lstrip("/")).mkdir(parents=True, exist_ok=True)
        (host.root / "tmp").chmod(0o1777)
        (host.root / "root").chmod(0o700)
        for dot in ("bashrc", "profile"):   # what Debian's base-files gives root
            shutil.copy(f"/usr/share/base-files/dot.{dot}", host.root / "root" / f".{dot}")
        spec = {"name": host.name, "address": host.address, "root": str(host.root), "ssh_dir": str(self.ssh_dir)}
        log = open(host.root.parent / "init.log", "w")   # noqa: SIM115 - the init keeps writing to it
        host.unshare = subprocess.Popen(
            ["unshare", "--net", "--mount", "--uts", "--pid", "--fork", "--mount-proc", "--propagation", "private",
             "--kill-child", HOST_PYTHON, __file__, "--host-init", json.dumps(spec)],
            stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT, text=True, start_new_session=True)
        log.close()
        host.init_pid = _child_of(host.unshare.pid)
        _run("ip", "link", "add", host.link, "type", "veth", "peer", "name", "eth0", "netns", str(host.init_pid))
        _run("ip", "link", "set", host.link, "master", self.bridge, "up")
        for argv in (["ip", "link", "set", "lo", "up"], ["ip", "addr", "add", f"{host.address}/24", "dev", "eth0"],
                     ["ip", "link", "set", "eth0", "up"]):
            _run("nsenter", "-t", str(host.init_pid), "-n", *argv)
        assert host.unshare.stdin is not None
        host.unshare.stdin.write("go\n")
        host.unshare.stdin.flush()

    def _ansible_files(self) -> None:
        hosts = {h.name: {"ansible_host": h.address, "berth_underlay": h.address} for h in self.hosts}
        inventory = {"all": {"vars": {"ansible_user": "root",
                                      "ansible_ssh_private_key_file": str(self.ssh_dir / "client_ed25519")},
                             "children": {self.group: {"hosts": hosts}}}}
        self.inventory.write_text(json.dumps(inventory, indent=1))   # JSON is YAML
        (self.dir / "cp").mkdir(exist_ok=True)
        self.config.write_text(f"""\
[defaults]
inventory = {self.inventory}
forks = 10
remote_tmp = /tmp/.ansible-remote
retry_files_enabled = False
nocolor = True
deprecation_warnings = False
callbacks_enabled = berth_fleet
callback_plugins = {CALLBACKS}
collections_path = {self.collections}

[ssh_connection]
pipelining = True
control_path_dir = {self.dir / "cp"}
ssh_args = -o ControlMaster=auto -o ControlPersist=120s -o UserKnownHostsFile={self.dir / "known_hosts"} \
-o StrictHostKeyChecking=yes -o IdentitiesOnly=yes -o ServerAliveInterval=5 -o ConnectTimeout=10
""")

    # --- playbooks ---

    def write_play(self, name: str, tasks: list[dict[str, Any]] | None = None, *, hosts: str | None = None,
                   roles: list[Any] | None = None, vars: dict[str, Any] | None = None,
                   gather_facts: bool = False, extra_plays: list[dict[str, Any]] | None = None,
                   **play: Any) -> Path:
        body: dict[str, Any] = {"name": name, "hosts": hosts or self.group, "gather_facts": gather_facts,
                                "vars": vars or {}, **play}
        if roles:
            body["roles"] = roles
        body["tasks"] = tasks or []
        path = self.dir / f"{name.replace(' ', '-')}.yml"
        path.write_text(json.dumps([body, *(extra_plays or [])], indent=1))
        return path

    def play(self, playbook: Path, *, check: bool = False, diff: bool = False, limit: str | None = None,
             extra_vars: dict[str, Any] | None = None, strategy: str | None = None,
             timeout: float = 600) -> FleetResult:
        cmd = [str(Path(sys.executable).parent / "ansible-playbook"), str(playbook)]
        cmd += ["--check"] * check + ["--diff"] * diff + (["--limit", limit] if limit else [])
        if extra_vars:
            cmd += ["-e", json.dumps(extra_vars)]
        log = self.dir / ".tasks.jsonl"
        log.unlink(missing_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}   # bootstrap's interpreter
        env.update(ANSIBLE_CONFIG=str(self.config), BERTH_FLEET_LOG=str(log))
        if strategy:
            env.update(ANSIBLE_STRATEGY=strategy, ANSIBLE_STRATEGY_PLUGINS=mitogen_strategy_dir())
        before, start = os.times(), time.monotonic()
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout, check=False,
                              cwd=self.dir)
        after = os.times()
        records = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
        recap = {host: {"failed" if k == "failures" else k: v for k, v in counts.items()}
                 for r in records if r.get("kind") == "stats" for host, counts in r["stats"].items()}
        return FleetResult(proc.returncode, proc.stdout + proc.stderr, recap,
                           [r for r in records if r.get("kind") == "task"], time.monotonic() - start,
                           (after.children_user - before.children_user)
                           + (after.children_system - before.children_system))

    # --- stop ---

    def stop(self) -> None:
        """End exactly what ``start`` made: the SSH masters, every process in each
        host's PID namespace, the container cgroups of what the hosts ran, the
        links, the bridge and the mount points made on the shared filesystem."""
        self._close_masters()
        for host in self.hosts:
            self.container_ids |= _container_ids(host)
            if host.init_pid:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(host.init_pid, signal.SIGKILL)   # the kernel ends the whole PID namespace
            if host.unshare is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    host.unshare.wait(timeout=10)
                if host.unshare.poll() is None:
                    host.unshare.kill()
                    host.unshare.wait(timeout=10)
            subprocess.run(["ip", "link", "del", host.link], capture_output=True, check=False)
        _remove_container_cgroups(self.container_ids)
        subprocess.run(["ip", "link", "del", self.bridge], capture_output=True, check=False)
        self._mountpoints.release()

    def _close_masters(self) -> None:
        control = self.dir / "cp"
        if not control.is_dir():
            return
        for sock in control.iterdir():
            subprocess.run(["ssh", "-o", f"ControlPath={sock}", "-O", "exit", "fleet"], capture_output=True,
                           check=False, timeout=10)
        for entry in Path("/proc").iterdir():   # a master whose socket is gone still has it on its command line
            if entry.name.isdigit():
                with contextlib.suppress(OSError):
                    if str(control).encode() in (entry / "cmdline").read_bytes() and b"ssh" in (
                            entry / "comm").read_bytes():
                        os.kill(int(entry.name), signal.SIGKILL)


@contextlib.contextmanager
def fleet(directory: Path, count: int = 3, **options: Any) -> Iterator[Fleet]:
    started = Fleet(directory, count, **options).start()
    try:
        yield started
    finally:
        started.stop()


def mitogen_strategy_dir() -> str:
    import ansible_mitogen  # type: ignore[import-not-found,import-untyped]

    return str(Path(ansible_mitogen.__file__).parent / "plugins" / "strategy")


def busybox_tar(directory: Path) -> Path:
    """A busybox rootfs as a tar (what each host's /tmp gets a copy of), with the
    applets the fleet scenarios use (nc, nslookup, ping, ...)."""
    from tests.support.runtime import make_rootfs

    tar = directory / "busybox-rootfs.tar"
    if tar.exists():
        return tar
    rootfs = make_rootfs(directory / "busybox")
    for applet in ("nslookup", "ping", "seq", "timeout", "sh", "nc", "wc", "hostname", "ip", "dd", "md5sum", "cut"):
        link = rootfs / "bin" / applet
        if not link.is_symlink():
            link.symlink_to("busybox")
    _run("tar", "--create", "--file", str(tar), "--numeric-owner", "-C", str(rootfs), ".")
    shutil.rmtree(rootfs.parent)
    return tar


# --- helpers ---


def _run(*argv: str) -> None:
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({result.returncode}): {result.stderr.strip()}")


def _child_of(pid: int, timeout: float = 10) -> int:
    """The one child of ``unshare --fork`` (the host's init), once it runs in the new namespaces."""
    deadline = time.monotonic() + timeout
    children = Path(f"/proc/{pid}/task/{pid}/children")
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            found = children.read_text().split()
            if found:
                return int(found[0])
        time.sleep(0.01)
    raise RuntimeError(f"unshare {pid} started no host init")


def _shared_mountpoints() -> Any:
    # imported here: this file also runs as a host's init, where the tests package is not importable
    from tests.support.mountpoints import SharedMountpoints

    return SharedMountpoints()


def _wait_port(address: str, port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((address, port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _container_ids(host: FleetHost) -> set[str]:
    """The containers a host's engine has records of (their cgroups outlive a SIGKILLed host)."""
    from tests.support.leaks import OWNED_CONTAINER_IDS

    containers = host.root / "var/lib/berth" / "containers"
    ids = {p.name for p in containers.iterdir() if len(p.name) == 64} if containers.is_dir() else set()
    OWNED_CONTAINER_IDS.update(ids)
    return ids


def _remove_container_cgroups(ids: set[str], timeout: float = 10) -> None:
    """rmdir the (emptied) cgroups of the killed hosts' containers, deepest first."""
    from tests.support.leaks import container_cgroups

    deadline = time.monotonic() + timeout
    left = container_cgroups(ids)
    while left and time.monotonic() < deadline:
        for path in sorted(left, key=len, reverse=True):
            for dirpath, dirnames, _files in sorted(os.walk(path, topdown=False), key=lambda w: -len(w[0])):
                del dirnames
                with contextlib.suppress(OSError):
                    os.rmdir(dirpath)
        left = container_cgroups(ids)
        if left:
            time.sleep(0.2)


if __name__ == "__main__" and sys.argv[1:2] == ["--host-init"]:
    host_init(json.loads(sys.argv[2]))
