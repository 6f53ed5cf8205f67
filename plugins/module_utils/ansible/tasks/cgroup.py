"""The cgroup module's task and its model."""

from __future__ import annotations

from typing import Any, Literal

from ...cgroups.factory import open_manager
from ...cgroups.service import CgroupRequest
from ..cgroup_plan import ReadOnlyCgroup, cgroup_report, plan_cgroup
from ..glue import validate_params
from ..models import EngineOptions, StrictModel
from ..pydantic_compat import model_validator


class DeviceRateOptions(StrictModel):
    path: str
    rate: str


class ResourceOptions(StrictModel):
    memory: str | None = None
    memory_reservation: str | None = None
    memory_swap: str | None = None
    memory_swappiness: int | None = None
    cpus: str | None = None
    cpu_shares: int | None = None
    cpu_period: int | None = None
    cpu_quota: int | None = None
    cpuset_cpus: str | None = None
    cpuset_mems: str | None = None
    pids_limit: int | None = None
    blkio_weight: int | None = None
    device_read_bps: list[DeviceRateOptions] = []
    device_write_bps: list[DeviceRateOptions] = []
    device_read_iops: list[DeviceRateOptions] = []
    device_write_iops: list[DeviceRateOptions] = []


class CgroupOptions(StrictModel):
    engine: EngineOptions = EngineOptions()
    path: str
    state: Literal["present", "absent"] = "present"
    resources: ResourceOptions = ResourceOptions()
    processes: list[int] = []
    absent_processes: Literal["refuse", "kill", "move"] = "refuse"

    @model_validator(mode="after")
    def _checked(self) -> CgroupOptions:
        self.request()  # InvalidInput naming the option
        return self

    def request(self) -> CgroupRequest:
        return CgroupRequest(self.path, self.state, self.resources.model_dump(), self.processes,
                             self.absent_processes)


def cgroup(params: dict[str, Any], check_mode: bool, _diff: bool) -> dict[str, Any]:
    # A cgroup lives in the kernel, not in the engine's store: the plan reads it through a
    # read-only manager, and only an apply hands the steps the writable one.
    request = validate_params(CgroupOptions, params).request()
    manager = open_manager(request.path)
    plan = plan_cgroup(ReadOnlyCgroup(manager), request)
    if not check_mode:
        plan.execute(manager)
    return plan.result(**cgroup_report(ReadOnlyCgroup(manager), plan))


TASKS = {"cgroup": cgroup}
MODELS = {"cgroup": CgroupOptions}
