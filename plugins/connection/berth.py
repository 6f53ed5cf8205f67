# Copyright: berth developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# The berth.engine.berth connection: commands through `berth exec` (the module on stdin when pipelining),
# files through `berth cp` as tar streams (never on a command line, never whole in memory), so the container
# needs nothing but a shell: raw works on busybox, full modules on an image with Python.

from __future__ import annotations

DOCUMENTATION = r"""
name: berth
author:
  - berth developers (@berth)
short_description: Run tasks in berth containers
description:
  - Run commands in, and put or fetch files to and from, an existing running berth container
    on the controller, as C(community.docker.docker) does for Docker containers.
  - Uses the C(berth) command line - C(berth exec) for commands (with pipelining when the become method
    allows it), C(berth cp) with tar streams for files.
  - The container needs a POSIX shell; C(ansible.builtin.raw) needs nothing else, other modules need Python
    in the container (set C(ansible_python_interpreter) to its path).
version_added: 0.1.0
options:
  remote_addr:
    description:
      - The name or ID of the container to run in.
    type: str
    default: inventory_hostname
    vars:
      - name: inventory_hostname
      - name: ansible_host
      - name: ansible_berth_host
  remote_user:
    description:
      - The user to run as inside the container, a name from the container's C(/etc/passwd) or C(UID[:GID]).
      - When not set, the container's own user (its C(user) option or the image's C(USER)).
      - Files put into the container belong to this user.
    type: str
    vars:
      - name: ansible_user
      - name: ansible_berth_user
    ini:
      - section: defaults
        key: remote_user
    env:
      - name: ANSIBLE_REMOTE_USER
    cli:
      - name: user
    keyword:
      - name: remote_user
  berth_executable:
    description:
      - The C(berth) command, found on C(PATH) unless a path is given.
      - A command line split as a shell would, so C(/usr/bin/python3 /opt/berth/bin/berth) works too.
    type: str
    default: berth
    vars:
      - name: ansible_berth_executable
    env:
      - name: ANSIBLE_BERTH_EXECUTABLE
    ini:
      - section: berth_connection
        key: executable
  state_root:
    description:
      - The engine's state directory (C(berth --state-root)); the engine's default when not set.
    type: path
    vars:
      - name: ansible_berth_state_root
    env:
      - name: ANSIBLE_BERTH_STATE_ROOT
    ini:
      - section: berth_connection
        key: state_root
  run_root:
    description:
      - The engine's runtime directory (C(berth --run-root)); the engine's default when not set.
    type: path
    vars:
      - name: ansible_berth_run_root
    env:
      - name: ANSIBLE_BERTH_RUN_ROOT
    ini:
      - section: berth_connection
        key: run_root
  extra_env:
    description:
      - More environment variables for every command run in the container (C(berth exec -e)).
    type: dict
    default: {}
    vars:
      - name: ansible_berth_extra_env
  working_dir:
    description:
      - The directory commands run in; the container's working directory when not set.
    type: str
    vars:
      - name: ansible_berth_working_dir
notes:
  - The connection runs C(berth) on the controller, which must be the berth host (berth is daemonless; to reach
    containers on another host, run the play there or delegate to it).
  - C(become) works as with C(community.docker.docker) - the become plugin wraps the command inside the
    container (C(su) is in busybox and Debian; C(sudo) only where the image has it). Become methods that ask
    for a password are not supported.
seealso:
  - module: berth.engine.container_exec
  - module: berth.engine.container_copy_into
"""

EXAMPLES = r"""
- name: Configure what runs inside a container
  hosts: web1
  connection: berth.engine.berth
  vars:
    ansible_python_interpreter: /usr/bin/python3
  tasks:
    - name: Write a config file inside the container
      ansible.builtin.copy:
        content: "listen 8080\n"
        dest: /etc/app.conf
        mode: "0644"

- name: A minimal image without Python
  hosts: box
  connection: berth.engine.berth
  gather_facts: false
  vars:
    ansible_berth_state_root: /srv/berth/state
  tasks:
    - name: Run a command with the raw module
      ansible.builtin.raw: echo hello > /tmp/hello
"""

import io
import os
import shlex
import shutil
import subprocess
import tarfile
from typing import Any

from ansible.errors import AnsibleConnectionFailure, AnsibleError, AnsibleFileNotFound
from ansible.module_utils.common.text.converters import to_bytes, to_native, to_text
from ansible.plugins.connection import ConnectionBase
from ansible.utils.display import Display

display = Display()
ENGINE_ERROR = (b"berth: not_found:", b"berth: invalid_state:", b"berth: invalid_input:", b"berth: conflict:",
                b"berth: error:")
CHUNK = 1 << 20


class Connection(ConnectionBase):
    """``berth exec`` / ``berth cp`` against one container."""

    transport = "berth.engine.berth"
    has_pipelining = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._ids: tuple[int, int] | None = None   # the remote user's uid and gid, once asked

    # -- the berth command ---------------------------------------------------------------
    def _berth(self) -> list[str]:
        argv = shlex.split(self.get_option("berth_executable") or "berth")
        if len(argv) == 1 and "/" not in argv[0]:
            found = shutil.which(argv[0])
            if found is None:
                raise AnsibleConnectionFailure(f"berth connection: {argv[0]!r} is not on PATH (set "
                                               "ansible_berth_executable to the berth command)")
            argv = [found]
        for option, flag in (("state_root", "--state-root"), ("run_root", "--run-root")):
            value = self.get_option(option)
            if value:
                argv += [flag, value]
        return argv

    @property
    def container(self) -> str:
        addr = self.get_option("remote_addr")
        if not addr or addr == "inventory_hostname":
            addr = self._play_context.remote_addr
        return to_native(addr)

    def _connect(self) -> Connection:
        if not self._connected:
            display.vvv(f"ESTABLISH BERTH CONNECTION FOR USER: {self.get_option('remote_user') or '(default)'}",
                        host=self.container)
            self._connected = True
        return self

    def _run(self, argv: list[str], in_data: bytes | None = None) -> tuple[int, bytes, bytes]:
        display.vvv(f"EXEC {shlex.join(argv)}", host=self.container)
        try:
            done = subprocess.run(argv, input=in_data or b"", capture_output=True, check=False)
        except OSError as err:
            raise AnsibleConnectionFailure(f"berth connection: cannot run {argv[0]}: {to_native(err)}") from None
        self._refuse_engine_error(done.returncode, done.stderr)
        return done.returncode, done.stdout, done.stderr

    def _refuse_engine_error(self, rc: int, stderr: bytes) -> None:
        """berth's own failures (no such container, not running) make the host unreachable, not a task failure."""
        if rc in (1, 125) and stderr.startswith(ENGINE_ERROR):
            raise AnsibleConnectionFailure(f"berth connection to container {self.container}: "
                                           f"{to_text(stderr.strip(), errors='surrogate_or_replace')}")

    # -- commands ---------------------------------------------------------------------
    def exec_command(self, cmd: str, in_data: bytes | None = None, sudoable: bool = False) -> tuple[int, bytes, bytes]:
        super().exec_command(cmd, in_data=in_data, sudoable=sudoable)
        if sudoable and self.become and self.become.expect_prompt():
            raise AnsibleError(f"berth connection: become method {self.become.name} asks for a password, "
                               "which this connection cannot answer; use become without a password")
        shell = self._play_context.executable or "/bin/sh"
        return self._run([*self._berth(), "exec", *self._exec_options(interactive=in_data is not None),
                          self.container, shell, "-c", cmd], in_data)

    def _exec_options(self, *, interactive: bool) -> list[str]:
        options = ["-i"] if interactive else []
        user = self.get_option("remote_user")
        if user:
            options += ["-u", to_native(user)]
        for key, value in (self.get_option("extra_env") or {}).items():
            options += ["-e", f"{to_native(key)}={to_native(value)}"]
        if self.get_option("working_dir"):
            options += ["-w", to_native(self.get_option("working_dir"))]
        return options

    # -- files ------------------------------------------------------------------------
    def _remote_path(self, path: str) -> str:
        """Ansible's remote paths, absolute inside the container (a relative one from its /)."""
        path = to_native(path)
        return path if path.startswith("/") else "/" + path

    def _owner(self) -> tuple[int, int]:
        """The uid and gid put files get: the remote user's (asked once, through exec)."""
        user = self.get_option("remote_user")
        if not user or to_native(user) in ("root", "0", "0:0"):
            return 0, 0
        if self._ids is None:
            rc, out, err = self._run([*self._berth(), "exec", *self._exec_options(interactive=False),
                                      self.container, "/bin/sh", "-c", "id -u; id -g"])
            numbers = out.split()
            if rc != 0 or len(numbers) != 2 or not all(n.isdigit() for n in numbers):
                raise AnsibleError(f"berth connection: cannot find the ids of user {user} in container "
                                   f"{self.container}: {to_text(err.strip())}")
            self._ids = (int(numbers[0]), int(numbers[1]))
        return self._ids

    def put_file(self, in_path: str, out_path: str) -> None:
        super().put_file(in_path, out_path)
        display.vvv(f"PUT {in_path} TO {out_path}", host=self.container)
        local = to_bytes(in_path, errors="surrogate_or_strict")
        if not os.path.isfile(local):
            raise AnsibleFileNotFound(f"file or module does not exist: {to_native(in_path)}")
        remote = self._remote_path(out_path)
        parent, name = os.path.split(remote)
        uid, gid = self._owner()
        argv = [*self._berth(), "cp", "-a", "-", f"{self.container}:{parent or '/'}"]
        display.vvv(f"EXEC {shlex.join(argv)}", host=self.container)
        process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            with open(local, "rb") as source, tarfile.open(fileobj=process.stdin, mode="w|",
                                                           format=tarfile.PAX_FORMAT) as tar:
                info = tarfile.TarInfo(name)
                st = os.fstat(source.fileno())
                info.size, info.mode, info.mtime = st.st_size, st.st_mode & 0o7777, st.st_mtime
                info.uid, info.gid = uid, gid
                tar.addfile(info, source)
        except BrokenPipeError:
            pass   # berth refused the copy: its stderr says why
        finally:
            if process.stdin is not None:
                process.stdin.close()
            stderr = process.stderr.read() if process.stderr is not None else b""
            process.wait()
        if process.returncode != 0:
            raise AnsibleError(f"berth connection: failed to put {in_path} to {remote} in container "
                               f"{self.container}: {to_text(stderr.strip())}")

    def fetch_file(self, in_path: str, out_path: str) -> None:
        super().fetch_file(in_path, out_path)
        display.vvv(f"FETCH {in_path} TO {out_path}", host=self.container)
        remote = self._remote_path(in_path)
        argv = [*self._berth(), "cp", "-L", f"{self.container}:{remote}", "-"]
        display.vvv(f"EXEC {shlex.join(argv)}", host=self.container)
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            fetched = self._extract_one(process.stdout, to_bytes(out_path, errors="surrogate_or_strict"))
        finally:
            if process.stdout is not None:
                process.stdout.close()
            stderr = process.stderr.read() if process.stderr is not None else b""
            process.wait()
        if process.returncode != 0 or not fetched:
            raise AnsibleError(f"berth connection: failed to fetch {remote} from container {self.container}: "
                               f"{to_text(stderr.strip()) or 'it is not a regular file'}")

    @staticmethod
    def _extract_one(stream: io.BufferedIOBase | None, out_path: bytes) -> bool:
        """The first member of the tar stream written to ``out_path`` when it is a regular file."""
        if stream is None:
            return False
        try:
            with tarfile.open(fileobj=stream, mode="r|") as tar:
                member = tar.next()
                if member is None or not member.isfile():
                    return False
                content = tar.extractfile(member)
                with open(out_path, "wb") as target:
                    while chunk := content.read(CHUNK):   # type: ignore[union-attr]
                        target.write(chunk)
                return True
        except tarfile.TarError:
            return False

    def close(self) -> None:
        self._connected = False

    def reset(self) -> None:
        self.close()
