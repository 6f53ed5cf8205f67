#!/usr/bin/python
# Copyright: berth developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: container
short_description: Converge a container (created, started, stopped or absent) from an image
version_added: 0.1.0
description:
  - Creates, recreates, updates, starts, stops and removes containers run by berth's own OCI runtime and watched by
    berth's per-host monitor (which keeps their output as JSON-lines logs and applies restart policies), with no
    daemon.
  - The options a task gives are compared with the container's actual configuration (the spec it was made with,
    whoever made it - a playbook or C(berth run)), both sides merged with the image's defaults, so a value that
    comes from the image is never reported as drift and a change made outside the playbook is seen. An option left
    out is not compared. Each option's default comparison is given below; O(comparisons) overrides it per task.
  - A changed option either updates the container in place (restart policy, stop signal and timeout, networks,
    resource limits) or recreates it; a new image ID behind the same name recreates it.
  - Check mode plans over a read-only view of the engine - it cannot pull, write or start anything - and returns
    the same RV(actions) the real run takes; diff mode shows the stated options and the state before and after.
  - Option names follow community.docker where the meaning is the same. Networks, volumes and resource limits arrive
    with their own issues.
extends_documentation_fragment:
  - berth.engine.engine
  - berth.engine.attributes
  - berth.engine.attributes.converge
options:
  name:
    description: Container name (unique on the host), 1-128 characters from C([a-zA-Z0-9_.-]).
    type: str
    required: true
  state:
    description:
      - V(present) the container exists (created if missing; a running container is left running, a stopped one stopped).
      - V(started) it exists and runs; V(stopped) it exists and does not run; V(absent) it is removed (force).
      - V(healthy) as V(started), then waits (up to O(healthy_timeout)) until its healthcheck passes.
    type: str
    choices: [present, started, stopped, absent, healthy]
    default: started
  image:
    description: The image, by reference (V(docker.io/library/busybox:1.36)) or ID. Required unless O(state=absent).
    type: str
  pull:
    description:
      - V(missing) pulls the image when it is not in the store; V(never) fails then; V(always) pulls every run.
      - As in community.docker, V(true) means V(always) and V(false) means V(missing).
    type: raw
    default: missing
  command:
    description:
      - Command (and arguments) replacing the image's CMD; a string is split like a shell would.
      - Compared C(strict) by default (see O(comparisons)); a change recreates the container.
    type: raw
  entrypoint:
    description:
      - Replaces the image's ENTRYPOINT (and, as in Docker, drops the image's CMD unless O(command) is given).
      - Compared C(strict) by default (see O(comparisons)); a change recreates the container.
    type: list
    elements: str
  env:
    description:
      - Environment variables; values must be strings (quote V("true")).
      - Compared C(strict) by default (see O(comparisons)); a change recreates the container.
    type: dict
  env_file:
    description: A file of C(KEY=value) lines, read on the controller's target and compared by content; O(env) wins.
    type: path
  user:
    description:
      - V(name), V(uid), V(name:group) or V(uid:gid), resolved against the image's /etc/passwd and /etc/group.
      - Compared C(strict) by default (see O(comparisons)); a change recreates the container.
    type: str
  working_dir:
    description:
      - Absolute working directory.
      - Compared C(strict) by default (see O(comparisons)); a change recreates the container.
    type: str
  hostname:
    description:
      - Hostname inside the container (default the first 12 characters of its ID).
      - Compared C(strict) by default (see O(comparisons)); a change recreates the container.
    type: str
  read_only:
    description:
      - Mount the container's root read-only.
      - Compared C(strict) by default (see O(comparisons)); a change recreates the container.
    type: bool
  capabilities:
    description:
      - Capabilities added to Docker's default set, such as V(NET_ADMIN); V(ALL) for every one.
      - Compared C(strict) by default (see O(comparisons)); a change recreates the container.
    type: list
    elements: str
  cap_drop:
    description:
      - Capabilities removed from the default set; V(ALL) drops every one.
      - Compared C(strict) by default (see O(comparisons)); a change recreates the container.
    type: list
    elements: str
  labels:
    description:
      - Labels (OCI annotations).
      - Compared C(strict) by default (see O(comparisons)); a change recreates the container.
    type: dict
  restart_policy:
    description:
      - When the monitor restarts the container after it exits (with backoff). Updated in place.
      - Compared C(strict) by default (see O(comparisons)); a change is applied in place.
    type: str
    choices: ["no", on-failure, always, unless-stopped]
  restart_retries:
    description:
      - Retries for V(on-failure) (0 = unlimited). Updated in place.
      - Compared C(strict) by default (see O(comparisons)); a change is applied in place.
    type: int
  stop_signal:
    description:
      - Signal a stop sends first (default V(SIGTERM)). Updated in place.
      - Compared C(strict) by default (see O(comparisons)); a change is applied in place.
    type: str
  stop_timeout:
    description:
      - Seconds a stop waits before SIGKILL (default 10). Updated in place.
      - Compared C(strict) by default (see O(comparisons)); a change is applied in place.
    type: int
  auto_remove:
    description:
      - Remove the container when it exits. Not with a restart policy.
      - Compared C(strict) by default (see O(comparisons)); a change recreates the container.
    type: bool
  log_options:
    description:
      - The log's C(max_size) (such as V(10m)) and C(max_file); unset ones are O(log_driver)'s defaults.
      - Compared C(strict) by default (see O(comparisons)); a change recreates the container.
    type: dict
  healthcheck:
    description:
      - C(test) (a list V([CMD, prog, arg]), V([CMD-SHELL, cmd]), a shell string, or V([NONE]) to disable the image's
        HEALTHCHECK), C(interval), C(timeout), C(start_period) (durations such as V(30s), V(1m30s)) and C(retries).
      - Without it the image's HEALTHCHECK applies. The monitor runs the probe inside the container and keeps the
        status (starting, healthy, unhealthy) and the last five results in the container's state.
      - Compared C(strict) by default (see O(comparisons)); a change recreates the container.
    type: dict
  tmpfs:
    description:
      - tmpfs mounts, V(/path) or V(/path:size=64m,mode=1777) (noexec, nosuid, nodev unless given).
      - Compared C(strict) by default (see O(comparisons)); a change recreates the container.
    type: list
    elements: str
  volumes:
    description:
      - Mounts in Docker's short syntax. V(name:/path[:ro]) mounts the named volume (created on first use);
        V(/host/path:/path[:ro,rshared]) bind-mounts a host file or directory (a missing host directory is created,
        as C(docker run -v) does); V(/path) mounts a new anonymous volume.
      - Options after the second colon, comma-separated, are V(ro), V(rw), V(nocopy) (volumes) and a propagation
        (binds) V(private), V(rprivate) (the default), V(shared), V(rshared), V(slave) or V(rslave). Shared and
        slave propagation need the host mount holding the source to be shared.
      - An empty volume mounted over a directory with content in the image receives that content first (Docker's
        copy-up), unless V(nocopy).
      - The image's C(VOLUME) paths not covered here or in O(mounts) get anonymous volumes.
      - Compared C(strict) by default (see O(comparisons)); a change recreates the container.
    type: list
    elements: str
  mounts:
    description:
      - Mounts in the long syntax (as community.docker's C(mounts)). Each container path may appear once across
        O(volumes), O(mounts) and O(tmpfs).
      - Compared C(strict) by default (see O(comparisons)); a change recreates the container.
    type: list
    elements: dict
    suboptions:
      target:
        description: The path inside the container.
        type: str
        required: true
      source:
        description:
          - The volume's name (V(volume); left out for an anonymous volume) or the host path (V(bind), which must
            exist, as this syntax never creates it).
        type: str
      type:
        description: What to mount.
        type: str
        choices: [volume, bind, tmpfs]
        default: volume
      read_only:
        description: Mount read-only (writes fail with EROFS).
        type: bool
      propagation:
        description: Bind propagation (V(rprivate) when left out).
        type: str
        choices: [private, rprivate, shared, rshared, slave, rslave]
      no_copy:
        description: Do not copy the image's content into an empty volume.
        type: bool
      tmpfs_size:
        description: Size limit of a tmpfs mount, such as V(64m) (enforced by the kernel).
        type: str
      tmpfs_mode:
        description: Octal mode of a tmpfs mount's root, such as V('1777').
        type: str
      labels:
        description: Labels of a volume created by this mount.
        type: dict
      volume_driver:
        description: Driver of a volume created by this mount (only V(local)).
        type: str
      volume_options:
        description: Driver options of a volume created by this mount (see M(berth.engine.volume)).
        type: dict
  network_mode:
    description:
      - V(bridge) (the default network, made on first use), V(host) (the host's network namespace), V(none) (only
        loopback), V(container:<name>) (another running container's namespace), or a network's name.
      - Left out with O(networks) given, the first of O(networks) (and the default network is not attached, as in
        community.docker).
      - Compared C(strict) by default (see O(comparisons)); a change recreates the container.
    type: str
  networks:
    description:
      - Networks to attach (a veth C(eth0), C(eth1), ... per network; the default route goes through the first
        non-internal one). Changing this list connects and disconnects a running container in place.
      - On user-defined networks containers reach each other by name and alias (a hosts file per container, rewritten
        as members come and go); on the default network V(bridge) they do not, as with Docker.
      - Compared C(strict) by default (see O(comparisons)); a change is applied in place.
    type: list
    elements: dict
    suboptions:
      name:
        description: The network (made with M(berth.engine.network)).
        type: str
        required: true
      ipv4_address:
        description: A static address in the network's subnet (the network needs a stated subnet).
        type: str
      aliases:
        description: More names the container answers to on this network.
        type: list
        elements: str
  published_ports:
    description:
      - "Ports published on the host, in Docker's syntax: V(8080:80), V(127.0.0.1:8080:80), V(127.0.0.1::80) (a free host
        port), V(80), ranges V(8000-8010:80-90), V(53:53/udp)."
      - A published port answers on the host's 127.0.0.1, on its addresses, from other containers and from outside.
        The host ports in use are in the container's C(state.ports). A host port already taken fails the start.
      - Compared C(strict) by default (see O(comparisons)); a change recreates the container.
    type: list
    elements: str
    aliases: [ports]
  publish_all_ports:
    description:
      - Publish every port the image EXPOSEs on a free host port.
      - Compared C(strict) by default (see O(comparisons)); a change recreates the container.
    type: bool
  keep_volumes:
    description:
      - When the container is removed or recreated, keep its anonymous volumes (V(false) removes them, like
        C(docker rm -v)). Named volumes are never removed with a container.
    type: bool
    default: true
  ulimits:
    description:
      - Resource limits as V(name:soft[:hard]), such as V(nofile:1024:2048) (capped at the host's hard limit).
      - Compared C(strict) by default (see O(comparisons)); a change recreates the container.
    type: list
    elements: str
  sysctls:
    description:
      - Namespaced kernel parameters, such as C(net.ipv4.ip_unprivileged_port_start).
      - Compared C(strict) by default (see O(comparisons)); a change recreates the container.
    type: dict
  devices:
    description:
      - Host devices, V(/dev/host[:/dev/container[:rwm]]).
      - Compared C(strict) by default (see O(comparisons)); a change recreates the container.
    type: list
    elements: str
  privileged:
    description:
      - Every capability, nothing masked or read-only in /proc, /sys writable, every device allowed by the device
        cgroup (host devices are not bound in; name them in O(devices)).
      - Compared C(strict) by default (see O(comparisons)); a change recreates the container.
    type: bool
  cgroup_parent:
    description:
      - The cgroup the container's own cgroup (C(berth-<id>)) is made under, such as a budget converged with
        M(berth.engine.cgroup) (V(berth-demo)). Default the hierarchy's root.
      - Compared C(strict) by default (see O(comparisons)); a change recreates the container.
    type: str
  init:
    description:
      - Run an init as the container's process 1 that reaps zombies and forwards signals (Docker's C(--init)) -
        the host's static tini (Debian's package C(tini), installed by the P(berth.engine.host#role) role),
        bind-mounted read-only at C(/sbin/docker-init), with the command after it. Without tini on the host the
        task fails, in check mode too.
      - Compared C(strict) by default (see O(comparisons)); a change recreates the container.
    type: bool
  etc_hosts:
    description:
      - Extra lines of the container's C(/etc/hosts), host name to IP address (Docker's C(--add-host)); several
        addresses of one host separated by commas. V(host-gateway) is the gateway of the container's first
        network (with O(network_mode=host), the host's loopback V(127.0.0.1)); not with O(network_mode=none).
      - Kept on every rewrite of the hosts file (when peers on its networks come and go).
      - Compared C(strict) by default (see O(comparisons)); a change recreates the container.
    type: dict
  dns_servers:
    description:
      - Nameservers (IP addresses) replacing the host's in the container's C(/etc/resolv.conf).
      - berth resolves container names through C(/etc/hosts) on local networks, so on user-defined networks too
        these are the container's nameservers as given (Docker keeps its embedded C(127.0.0.11) there and
        forwards to them). On an overlay network its resolver stays the first nameserver (it knows the names on
        the other hosts, and forwards other names to the host's nameservers); these follow it.
      - Compared C(strict) by default (see O(comparisons)); a change recreates the container.
    type: list
    elements: str
  dns_search_domains:
    description:
      - Search domains replacing the host's C(search) line in C(/etc/resolv.conf); V(.) alone means none.
      - Compared C(strict) by default (see O(comparisons)); a change recreates the container.
    type: list
    elements: str
  dns_opts:
    description:
      - Resolver options (such as V(ndots:2), V(timeout:1)) replacing the host's C(options) line in
        C(/etc/resolv.conf).
      - Compared C(strict) by default (see O(comparisons)); a change recreates the container.
    type: list
    elements: str
  log_driver:
    description:
      - V(json-file) (the default) keeps the output as JSON lines, rotated as O(log_options) say. V(local) keeps
        the same files with Docker's local driver defaults (C(max_size) 20m, C(max_file) 5) unless
        O(log_options) say otherwise. V(none) keeps nothing - reading the logs (C(berth logs), the logs of
        M(berth.engine.container_info)) then fails with "configured logging driver does not support reading",
        and O(log_options) do not apply.
      - Compared C(strict) by default (see O(comparisons)); a change recreates the container.
    type: str
    choices: [json-file, local, none]
  oom_score_adj:
    description:
      - The container process's OOM score adjustment (-1000 to 1000).
      - Compared C(strict) by default (see O(comparisons)); a change recreates the container.
    type: int
  paused:
    description: Freeze (V(true)) or thaw every process of the running container (cgroup freezer), in place.
    type: bool
  memory:
    description:
      - Memory limit, such as V(512m) (Docker units). Updated in place, like C(docker update). A container the
        kernel kills for exceeding it is reported with C(oom_killed) and exit code 137.
      - Compared C(strict) by default (see O(comparisons)); a change is applied in place.
    type: str
  memory_reservation:
    description:
      - Soft memory limit, such as V(256m). Updated in place.
      - Compared C(strict) by default (see O(comparisons)); a change is applied in place.
    type: str
  memory_swap:
    description:
      - Memory plus swap, such as V(1g); V(-1) unlimited. Updated in place.
      - Compared C(strict) by default (see O(comparisons)); a change is applied in place.
    type: str
  memory_swappiness:
    description:
      - Swappiness 0-100 (cgroup v1). Updated in place.
      - Compared C(strict) by default (see O(comparisons)); a change is applied in place.
    type: int
  cpus:
    description:
      - CPUs the container may use, such as V(1.5). Updated in place.
      - Compared C(strict) by default (see O(comparisons)); a change is applied in place.
    type: float
  cpu_shares:
    description:
      - Relative CPU weight (cgroup v2 weight by the documented conversion). Updated in place.
      - Compared C(strict) by default (see O(comparisons)); a change is applied in place.
    type: int
  cpu_period:
    description:
      - CFS period in microseconds. Updated in place.
      - Compared C(strict) by default (see O(comparisons)); a change is applied in place.
    type: int
  cpu_quota:
    description:
      - CFS quota in microseconds per period. Updated in place.
      - Compared C(strict) by default (see O(comparisons)); a change is applied in place.
    type: int
  cpuset_cpus:
    description:
      - CPUs allowed, such as V(0-1). Updated in place.
      - Compared C(strict) by default (see O(comparisons)); a change is applied in place.
    type: str
  cpuset_mems:
    description:
      - Memory nodes allowed, such as V(0). Updated in place.
      - Compared C(strict) by default (see O(comparisons)); a change is applied in place.
    type: str
  pids_limit:
    description:
      - Maximum number of processes. Updated in place.
      - Compared C(strict) by default (see O(comparisons)); a change is applied in place.
    type: int
  blkio_weight:
    description:
      - Block IO weight (10-1000). Updated in place.
      - Compared C(strict) by default (see O(comparisons)); a change is applied in place.
    type: int
  device_read_bps:
    description:
      - Per-device read bps limits, like C(docker --device-read-bps). Updated in place.
      - Compared C(strict) by default (see O(comparisons)); a change is applied in place.
    type: list
    elements: dict
    suboptions:
      path:
        description: The block device, such as V(/dev/sda).
        type: str
        required: true
      rate:
        description: The limit - bytes with Docker units for bps (such as V(10m)), a count for iops.
        type: str
        required: true
  device_write_bps:
    description:
      - Per-device write bps limits, like C(docker --device-write-bps). Updated in place.
      - Compared C(strict) by default (see O(comparisons)); a change is applied in place.
    type: list
    elements: dict
    suboptions:
      path:
        description: The block device, such as V(/dev/sda).
        type: str
        required: true
      rate:
        description: The limit - bytes with Docker units for bps (such as V(10m)), a count for iops.
        type: str
        required: true
  device_read_iops:
    description:
      - Per-device read iops limits, like C(docker --device-read-iops). Updated in place.
      - Compared C(strict) by default (see O(comparisons)); a change is applied in place.
    type: list
    elements: dict
    suboptions:
      path:
        description: The block device, such as V(/dev/sda).
        type: str
        required: true
      rate:
        description: The limit - bytes with Docker units for bps (such as V(10m)), a count for iops.
        type: str
        required: true
  device_write_iops:
    description:
      - Per-device write iops limits, like C(docker --device-write-iops). Updated in place.
      - Compared C(strict) by default (see O(comparisons)); a change is applied in place.
    type: list
    elements: dict
    suboptions:
      path:
        description: The block device, such as V(/dev/sda).
        type: str
        required: true
      rate:
        description: The limit - bytes with Docker units for bps (such as V(10m)), a count for iops.
        type: str
        required: true
  healthy_wait_timeout:
    description: Seconds O(state=healthy) waits for the healthcheck to pass (community.docker's name).
    type: float
    default: 300
    aliases: [healthy_timeout]
  comparisons:
    description:
      - Per option, how the task's value is compared with the container's - V(strict) (default), V(ignore), or
        V(allow_more_present) (for O(env), O(labels), O(log_options), O(capabilities), O(cap_drop)- extra items
        in the container are fine).
    type: dict
  recreate:
    description: Recreate the container even when nothing differs.
    type: bool
    default: false
  restart:
    description: Restart a running container (with O(state=started)).
    type: bool
    default: false
notes:
  - The per-host monitor is started with the C(berth) CLI (installed by the P(berth.engine.host#role) role, or named
    by the E(BERTH_CLI) environment variable); it exits once no container needs watching.
author:
  - berth developers (@berth)
"""

EXAMPLES = r"""
- name: A web server that restarts when it fails
  berth.engine.container:
    name: web
    image: registry.example.com/team/web:1.4
    command: ["httpd", "-f", "-p", "8080"]
    env:
      MODE: production
    restart_policy: on-failure
    restart_retries: 5
    log_options:
      max_size: 10m
      max_file: 3

- name: A worker under tini, with its own names and nameservers, and no log kept
  berth.engine.container:
    name: worker
    image: registry.example.com/team/worker:3
    init: true
    etc_hosts:
      db.internal: 192.0.2.10
      host.internal: host-gateway
    dns_servers: [192.0.2.53]
    dns_search_domains: [corp.example.com]
    dns_opts: ["ndots:2"]
    log_driver: none

- name: On two user-defined networks, with aliases and a fixed address (the network needs a stated subnet)
  berth.engine.container:
    name: api
    image: registry.example.com/team/api:2.3
    networks:
      - name: backend
        ipv4_address: 172.28.0.10
        aliases: [api.backend, db-client]
      - name: frontend
        aliases: [api]

- name: Ports published on the host (all addresses, loopback only, and UDP)
  berth.engine.container:
    name: edge
    image: docker.io/library/nginx:1.27
    published_ports:
      - "8080:80"
      - "127.0.0.1:8443:443"
      - "127.0.0.1:5353:53/udp"

- name: A named volume, a read-only bind mount and a size-limited tmpfs
  berth.engine.container:
    name: db
    image: docker.io/library/postgres:16
    volumes:
      - pgdata:/var/lib/postgresql/data
      - /srv/db/conf:/etc/postgresql/conf.d:ro
    mounts:
      - type: tmpfs
        target: /run/postgresql
        tmpfs_size: 64m
      - type: bind
        source: /srv/db/backups
        target: /backups
        read_only: true

- name: Started, then waited for until its healthcheck passes
  berth.engine.container:
    name: web
    image: registry.example.com/team/web:1.4
    state: healthy
    healthcheck:
      test: [CMD-SHELL, "wget -q -O /dev/null http://127.0.0.1:8080/health || exit 1"]
      interval: 10s
      timeout: 3s
      start_period: 30s
      retries: 3

- name: Environment from a file on the host, with one value overridden
  berth.engine.container:
    name: worker
    image: registry.example.com/team/worker:3
    env_file: /etc/worker/worker.env
    env:
      LOG_LEVEL: debug
      WORKERS: "4"

- name: Overriding the image's entrypoint and command
  berth.engine.container:
    name: migrate
    image: registry.example.com/team/api:2.3
    entrypoint: [/usr/local/bin/manage]
    command: [migrate, --no-input]
    restart_policy: "no"
    state: started

- name: Resource limits, changed in place on a running container (like docker update)
  berth.engine.container:
    name: worker
    image: registry.example.com/team/worker:3
    memory: 512m
    memory_reservation: 256m
    cpu_shares: 512
    pids_limit: 200
    ulimits: ["nofile:1024:2048"]

- name: Tolerating labels and environment variables added by others (extra ones are not drift)
  berth.engine.container:
    name: web
    image: registry.example.com/team/web:1.4
    env:
      MODE: production
    labels:
      team: web
    comparisons:
      env: allow_more_present
      labels: allow_more_present
      stop_timeout: ignore
    restart_policy: unless-stopped

- name: Stopped, but kept
  berth.engine.container:
    name: batch
    image: registry.example.com/team/batch:2
    state: stopped

- name: Gone
  berth.engine.container:
    name: web
    state: absent
"""

RETURN = r"""
container:
  description: The container's record (inspect-like) after the task; in check mode the record as it is now (empty
    when the container does not exist yet).
  returned: always
  type: dict
  contains:
    id: {description: Container ID (64 hex digits)., type: str}
    name: {description: Container name., type: str}
    image_id: {description: ID of the image it was created from., type: str}
    spec:
      description: The container spec it was made (and last updated in place) with; V(null) and empty values mean
        the image's default.
      type: dict
    stated: {description: The options the task that made or last updated it stated., type: list, elements: str}
    state:
      description: status (created, running, restarting, exited), paused, pid, exit_code, started_at, finished_at,
        oom_killed, restart_count, health.
      type: dict
  sample:
    id: 4c1f0c3a9e1e4b0c8a2f6d5e7b9a0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b
    name: web
    image_id: sha256:2f6d5e7b9a0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b4c1f0c3a9e1e4b0c8a
    spec: {image: "docker.io/library/nginx:1.27", env: {MODE: prod}, restart_policy: always}
    stated: [env, restart_policy]
    state: {status: running, paused: false, pid: 4242, restart_count: 0}
actions:
  description: What was (or in check mode would be) done, in order, such as C(create), C(start), C(update restart_policy).
  returned: always
  type: list
  elements: str
  sample: [pull docker.io/library/nginx:1.27, create volume data, create, start]
differences:
  description: Each stated option whose effective value (image defaults merged) differs - option, before, after,
    and whether it updates in place or recreates.
  returned: always
  type: list
  elements: dict
  sample: [{option: restart_policy, before: "no", after: always, update: in_place}]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.berth.engine.plugins.module_utils.ansible.argspecs import (
    CONTAINER_REQUIRED_IF,
    argument_spec,
    container_argument_spec,
)
from ansible_collections.berth.engine.plugins.module_utils.ansible.remote import run

ARGS = argument_spec(**container_argument_spec())


def main() -> None:
    module = AnsibleModule(argument_spec=ARGS, required_if=CONTAINER_REQUIRED_IF, supports_check_mode=True)
    run(module, "container")


if __name__ == "__main__":
    main()
