"""Remove every network of a test's state root (the default one included),
so no bridge or nft element outlives the test."""

from __future__ import annotations

from ansible_collections.berth.engine.plugins.module_utils.engine import Engine


def drop_networks(engine: Engine) -> list[str]:
    from ansible_collections.berth.engine.plugins.module_utils.ansible.network_models import NetworkRequest
    from ansible_collections.berth.engine.plugins.module_utils.ansible.network_plan import converge_network
    from ansible_collections.berth.engine.plugins.module_utils.network.service import NetworkService

    service = NetworkService(engine)
    removed = []
    for record in service.store.list():
        converge_network(service, NetworkRequest(name=record["name"], state="absent", force=True))
        removed.append(record["name"])
    return removed
