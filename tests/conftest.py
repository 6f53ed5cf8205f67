"""Make the collection importable as ``ansible_collections.berth.engine``.

scripts/bootstrap.sh creates .build/collections/ansible_collections/berth/engine
as a symlink to the repository; when pytest runs without it (an IDE, a direct
call), the same link is created here.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
COLLECTIONS = REPO / ".build" / "collections"
_link = COLLECTIONS / "ansible_collections" / "berth" / "engine"
if not _link.exists():
    _link.parent.mkdir(parents=True, exist_ok=True)
    _link.symlink_to(REPO)
if str(COLLECTIONS) not in sys.path:
    sys.path.insert(0, str(COLLECTIONS))
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # for tests.support helpers
