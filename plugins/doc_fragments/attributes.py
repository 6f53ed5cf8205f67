# Copyright: berth developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # The attributes every berth module documents. A module extends this
    # fragment and one of the variants below (CONVERGE for the modules that
    # plan and apply, INFO for those that only read), then adds its own
    # details, which Ansible merges over these.
    DOCUMENTATION = r"""
attributes:
  check_mode:
    description:
      - Whether the module runs in check mode and predicts its result without changing the host.
  diff_mode:
    description:
      - Whether the module returns what changed (or would change, in check mode) as a before/after diff with C(--diff).
  platform:
    description: The target systems the module can manage.
    support: full
    platforms: posix
    details: Linux hosts only (namespaces, cgroups, overlayfs, netlink, nftables).
  action_group:
    description: Use C(group/berth.engine.all) in C(module_defaults) to set options shared by every berth module once.
    support: full
    membership:
      - berth.engine.all
"""

    CONVERGE = r"""
attributes:
  check_mode:
    support: full
    details:
      - The task is planned over a read-only view of the engine, whose stores and kernel calls refuse every write, and
        the plan is returned without executing it; RV(actions) lists the steps an apply run on the same state takes.
  diff_mode:
    support: full
    details: The diff is the plan's before and after.
"""

    INFO = r"""
attributes:
  check_mode:
    support: full
    details: The module reads through a read-only view of the engine in every mode, so it changes nothing.
  diff_mode:
    support: N/A
    details: This module never changes anything.
"""
