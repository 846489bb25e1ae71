"""The advisory locks of this system, each numbered once; SQL gets them as parameters."""

from __future__ import annotations

from enum import IntEnum


class AdvisoryLock(IntEnum):
    """Session or transaction advisory lock keys; no two uses share one."""

    MIGRATIONS = 7_210_001  # one migrator at a time (two containers starting)
    LOADER = 7_210_002  # one import at a time: two would both see a purchase as new
    PARTITIONS = 7_210_003  # one creator of a month's partitions at a time
    SALES_FOLD = 7_210_004  # one fold of the waiting sales at a time
