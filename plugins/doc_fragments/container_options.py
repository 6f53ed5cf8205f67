# Copyright: berth developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # The container module's options that configure the container (one row each of the option table,
    # plugins/module_utils/containers/options.py, whose comparison and effect each description states:
    # tests/unit/ansible/test_container_docs.py). They live here so the module stays readable; the
    # module keeps the options of the task itself (name, state, image, pull, comparisons, ...).
    DOCUMENTATION = r"""
options:
  command:
    description:
      - Command (and arguments) replacing the image's CMD; a string is split like a shell would.
      - See O(command_handling) for how a list and an empty value are read.
      - Compared C(strict) by default (see O(comparisons)); a change recreates the container.
    type: raw
  entrypoint:
    description:
      - Replaces the image's ENTRYPOINT (and, as in Docker, drops the image's CMD unless O(command) is given).
      - See O(command_handling) for how a list and an empty value are read.
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
      - "Ports published on the host, in Docker's syntax: V(8080:80), V(127.0.0.1:8080:80), V(127.0.0.1::80)
        (a free host port), V(80), ranges V(8000-8010:80-90), V(53:53/udp)."
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
"""
