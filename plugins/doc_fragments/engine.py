# Copyright: berth developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # Options every berth module takes; set them once with module_defaults
    # and the group/berth.engine.all action group.
    DOCUMENTATION = r"""
options:
  state_root:
    description:
      - The engine's persistent state directory (images, layers, containers, volumes, metadata).
      - Every berth module and the C(berth) CLI take it, so several independent engines can share a host.
    type: path
    default: /var/lib/berth
  run_root:
    description:
      - The engine's runtime directory for state that must not survive a reboot (pids, sockets, runtime state).
    type: path
    default: /run/berth
requirements:
  - python >= 3.11 on the managed host
  - pydantic >= 2 on the managed host
"""
