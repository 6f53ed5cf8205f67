#!/usr/bin/python
# Copyright: berth developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: network
short_description: Converge a bridge or cross-host overlay network for containers - subnet, gateway, isolation
version_added: 0.1.0
description:
  - Creates, changes and removes a berth network without any container daemon. A network is a Linux bridge holding
    the gateway address, with nftables rules in berth's own table C(ip berth) (masquerade for traffic leaving the
    host, isolation from other berth networks) and an address pool from which containers get their addresses.
  - Follows M(community.docker.docker_network) where the meaning is the same. Like it, a change of O(ipam_config),
    O(internal) or O(mtu) recreates the network (a new ID and bridge); unlike it, O(labels) change in place, and a
    network with containers attached is only removed or recreated with O(force=true).
  - Without O(ipam_config) a free subnet is picked like Docker does (V(172.17.0.0/16) to V(172.31.0.0/16), then
    V(192.168.0.0/20) to V(192.168.240.0/20)), skipping the other berth networks' subnets and every route of the
    host. A picked subnet is kept on later runs and is never reported as a difference.
  - Check mode changes nothing; with C(--diff) a creation shows the whole network that would be made (the subnet that
    would be picked, the gateway, the bridge name). In check mode, containers named in O(connected) that do not exist
    yet are assumed to be made by an earlier task; an apply fails on them.
  - The default network V(bridge) is created on first use by containers, on bridge C(berth0) for the default state
    root (other state roots get a C(br-) bridge of their own); a task naming it configures it like any other network.
  - Enabling a network that is not O(internal) sets C(net.ipv4.ip_forward=1), as Docker does.
  - With O(driver=overlay) the network spans hosts over VXLAN, with no store and no manager - the inventory is the
    truth. Give every host the same O(ipam_config) subnet, O(overlay.peers) and O(name); each host gets a slice of
    the subnet (by its position in the sorted peers) on its own bridge, one VXLAN device, and per peer one route, one
    permanent neighbour and one forwarding entry, converged by set difference (a peer left out is removed). Changing
    the peers changes only those entries; containers stay up. VXLAN is accepted only from the listed peers on
    O(overlay.port), traffic between the slices keeps its addresses (no masquerade), published ports work as on a
    bridge network.
extends_documentation_fragment:
  - berth.engine.engine
  - berth.engine.attributes
  - berth.engine.attributes.converge
options:
  name:
    description: The network's name (V(host) and V(none) are reserved).
    type: str
    required: true
    aliases: [network_name]
  state:
    description: V(present) creates or converges the network; V(absent) removes it with its bridge and firewall rules.
    type: str
    choices: [present, absent]
    default: present
  driver:
    description: The network driver - V(bridge) (this host only) or V(overlay) (across hosts, see O(overlay)).
    type: str
    choices: [bridge, overlay]
    default: bridge
  overlay:
    description:
      - The overlay's hosts, for O(driver=overlay) (required there). O(ipam_config) must give the subnet of the
        whole overlay (the same on every host), without a gateway or iprange.
    type: dict
    suboptions:
      local_address:
        description: This host's underlay address (an address of one of its interfaces); VXLAN leaves from it.
        type: str
        required: true
      peers:
        description: Every host's underlay address (this host's may be listed; it is added anyway).
        type: list
        elements: str
        default: []
      vni:
        description: The VXLAN network identifier (1-16777215). Default derived from O(name), equal on every host.
        type: int
      port:
        description: The VXLAN UDP port. Default V(4789) (IANA's; Linux's own default, 8472, is never assumed).
        type: int
      host_subnet:
        description:
          - This host's slice of the subnet. Default the slice at this host's position in the sorted peers (V(/24)
            slices of a V(/20) or wider subnet, else subnet prefix + 4). Pin it on a host when the peers listed
            before it may change. Other hosts learn a pinned slice only from O(overlay.slices).
        type: str
      slices:
        description: Pinned slices of any peers (underlay address to slice), the same on every host.
        type: dict
      mtu:
        description: The overlay's MTU (bridge, VXLAN device, containers). Default the underlay interface's minus 50.
        type: int
  encrypted:
    description: Encrypt the overlay. Refused - it needs IPsec ESP (C(CONFIG_INET_ESP), C(CONFIG_XFRM)) or WireGuard in
      the kernel.
    type: bool
    default: false
  driver_options:
    description:
      - Driver options as in C(docker network create -o). Only V(com.docker.network.driver.mtu) is accepted (the same
        as O(mtu)).
    type: dict
    default: {}
  ipam_config:
    description:
      - The network's addressing, at most one IPv4 entry. Left out, a free subnet is picked (see above).
      - Stated, the whole entry is compared with the network's (an entry without O(ipam_config[].gateway) means the
        first host address); a difference recreates the network.
    type: list
    elements: dict
    default: []
    suboptions:
      subnet:
        description: The subnet in CIDR form, such as V(10.10.0.0/24). It must not overlap another berth network or
          a route of the host.
        type: str
        required: true
      gateway:
        description: The bridge's address inside O(ipam_config[].subnet). Default the first host address (V(.1)).
        type: str
      iprange:
        description:
          - Containers' dynamic addresses come from this range inside the subnet (static addresses may be anywhere in
            the subnet, as with Docker).
        type: str
      aux_addresses:
        description: Addresses (name to address) inside the subnet that are never given to a container.
        type: dict
  internal:
    description: Restrict the network to its containers and the host - no masquerade, no forwarding to other
      interfaces.
    type: bool
    default: false
  labels:
    description: Labels; compared strictly (a label left out is removed) and changed in place.
    type: dict
    default: {}
  mtu:
    description: The bridge's MTU (68-65535). Left out, the kernel's default.
    type: int
  force:
    description:
      - Remove (O(state=absent)) or recreate a network that containers are attached to, disconnecting them first
        (a recreated network gets them reconnected, with their aliases and static addresses). Without it, that fails
        naming the containers. An unchanged network is never recreated.
    type: bool
    default: false
  connected:
    description:
      - Names of containers that must be connected to the network. Running containers are connected in place (a new
        C(ethN) appears), without a restart; stopped ones get the network at their next start.
      - Unless O(appends=true), containers connected to the network but not listed are disconnected.
    type: list
    elements: str
  appends:
    description: Only connect the O(connected) containers; leave other connected containers alone.
    type: bool
    default: false
attributes:
  diff_mode:
    details: A creation's diff shows the whole network that would be made (the picked subnet, the gateway, the bridge).
notes:
  - IPv4 only.
  - On an overlay network, RV(network.subnet) and RV(network.gateway) are this host's slice and its gateway;
    RV(network.overlay) holds the whole subnet, the peers and every slice.
author:
  - berth developers (@berth)
"""

EXAMPLES = r"""
- name: A network with a subnet of our choosing
  berth.engine.network:
    name: backend
    ipam_config:
      - subnet: 10.10.0.0/24
        iprange: 10.10.0.128/25
    labels:
      app: shop

- name: A network with a picked subnet, not routed off the host
  berth.engine.network:
    name: private
    internal: true

- name: Remove it, disconnecting any containers still attached
  berth.engine.network:
    name: backend
    state: absent
    force: true

- name: An overlay network across the hosts of a group
  berth.engine.network:
    name: shop
    driver: overlay
    ipam_config: [{subnet: 10.240.0.0/16}]
    overlay:
      local_address: "{{ berth_underlay }}"
      peers: "{{ groups['shop_hosts'] | map('extract', hostvars, 'berth_underlay') | list }}"

- name: Exactly these containers on the network (others are disconnected, live)
  berth.engine.network:
    name: backend
    connected: [api, worker]
"""

RETURN = r"""
network:
  description: The network's facts (null when absent; in check mode, the network that would be made).
  returned: always
  type: dict
  contains:
    id:
      description: The network's ID (64 hex digits).
      type: str
    name:
      description: Its name.
      type: str
    driver:
      description: V(bridge).
      type: str
    bridge:
      description: The bridge interface on the host, such as C(br-0123456789ab) (C(berth0) for the default network).
      type: str
    subnet:
      description: The subnet, such as V(10.10.0.0/24).
      type: str
    gateway:
      description: The bridge's address.
      type: str
    ip_range:
      description: The range dynamic addresses come from (null for the whole subnet).
      type: str
    aux_addresses:
      description: Reserved addresses by name.
      type: dict
    internal:
      description: Whether the network is internal.
      type: bool
    labels:
      description: Labels.
      type: dict
    mtu:
      description: The bridge's MTU (null for the kernel's default).
      type: int
    created:
      description: When the network was created (RFC 3339, UTC).
      type: str
    default:
      description: Whether this is the default network V(bridge).
      type: bool
    options:
      description: The options as the task that made the network stated them.
      type: dict
    overlay:
      description:
        - Overlay networks only - C(subnet) (the whole overlay), C(vni), C(port), C(local_address), C(mtu), C(peers)
          (sorted, this host included), C(host_subnet) (this host's slice), C(slices) (every peer's slice) and
          C(device) (the VXLAN device).
      type: dict
      returned: when O(driver=overlay)
    containers:
      description: Containers attached, with their addresses (null while not running).
      type: list
      elements: dict
    bridge_present:
      description: Whether the bridge exists on the host.
      type: bool
  sample:
    id: 3f0c5b0e8f0e4d2c9a6b7c1d2e3f40516273849a5b6c7d8e9f0a1b2c3d4e5f60
    name: backend
    driver: bridge
    bridge: br-3f0c5b0e8f0e
    subnet: 10.10.0.0/24
    gateway: 10.10.0.1
    ip_range: 10.10.0.128/25
    aux_addresses: {}
    internal: false
    labels: {app: shop}
    mtu: null
    default: false
    containers: [{id: 9a8b..., name: web, ipv4_address: 10.10.0.128}]
    bridge_present: true
actions:
  description:
    - What was done (or would be, in check mode), one entry per step of the task's plan, in order. A check run lists
      the same steps an apply run on the same state takes.
  returned: always
  type: list
  elements: str
  sample: ["created network backend (bridge br-3f0c5b0e8f0e, subnet 10.10.0.0/24, gateway 10.10.0.1)", "connect api"]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.berth.engine.plugins.module_utils.ansible.argspecs import argument_spec
from ansible_collections.berth.engine.plugins.module_utils.ansible.remote import run

IPAM_ENTRY = {"subnet": {"type": "str", "required": True}, "gateway": {"type": "str"}, "iprange": {"type": "str"},
              "aux_addresses": {"type": "dict"}}
OVERLAY = {"local_address": {"type": "str", "required": True},
           "peers": {"type": "list", "elements": "str", "default": []}, "vni": {"type": "int"},
           "port": {"type": "int"}, "host_subnet": {"type": "str"}, "mtu": {"type": "int"}, "slices": {"type": "dict"}}
ARGS = argument_spec(
    name={"type": "str", "required": True, "aliases": ["network_name"]},
    state={"type": "str", "default": "present", "choices": ["present", "absent"]},
    driver={"type": "str", "default": "bridge", "choices": ["bridge", "overlay"]},
    driver_options={"type": "dict", "default": {}},
    ipam_config={"type": "list", "elements": "dict", "default": [], "options": IPAM_ENTRY},
    internal={"type": "bool", "default": False},
    labels={"type": "dict", "default": {}},
    mtu={"type": "int"},
    force={"type": "bool", "default": False},
    connected={"type": "list", "elements": "str"},
    appends={"type": "bool", "default": False},
    overlay={"type": "dict", "options": OVERLAY},
    encrypted={"type": "bool", "default": False})


# What AnsibleModule checks beyond the spec; plugins/action/berth.py checks the same on the controller
RULES: dict = {}


def main() -> None:
    module = AnsibleModule(argument_spec=ARGS, supports_check_mode=True, **RULES)
    run(module, "network")


if __name__ == "__main__":
    main()
