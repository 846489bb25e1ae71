"""What a cash register process holds for its life, in one typed container."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import asyncpg
from fastapi import Depends
from starlette.requests import HTTPConnection, Request

from cash_register.batcher import PurchaseBatcher
from cash_register.closings import automatic_close
from cash_register.key_expiry import key_expiry
from cash_register.loyalty import LoyaltyCards
from cash_register.price_list import PriceLists
from cash_register.settings import CashRegisterSettings
from cash_register.upload_admission import UploadAdmission
from db.access_keys import AccessKeys, keys_last_used
from db.catalog import CatalogWatcher
from db.chores import PeriodicChore
from db.durability import DurabilityWatch
from db.partitions import month_keeper
from db.sales_fold import SalesFolder
from db.screen_sessions import ScreenSessions
from db.settings import DatabaseSettings
from httpkit.app import Part
from httpkit.observing import Ready, pool_in_use, ready_when
from telemetry.metrics import instruments


@dataclass(frozen=True)
class CashRegister:
    """The pool, the catalog, the group commit and the chores of one worker process."""

    settings: CashRegisterSettings
    pool: asyncpg.Pool
    catalog: CatalogWatcher
    keys: AccessKeys
    sessions: ScreenSessions
    batcher: PurchaseBatcher
    uploads: UploadAdmission
    cards: LoyaltyCards
    price_lists: PriceLists
    durability: DurabilityWatch
    folder: SalesFolder
    chores: tuple[PeriodicChore, ...]

    @classmethod
    def build(
        cls,
        database: DatabaseSettings,
        own: CashRegisterSettings,
        pool: asyncpg.Pool,
        cards: LoyaltyCards,
    ) -> CashRegister:
        keys = AccessKeys(database, pool)
        return cls(
            settings=own,
            pool=pool,
            catalog=CatalogWatcher(database, pool),
            keys=keys,
            sessions=ScreenSessions(pool),
            batcher=PurchaseBatcher(pool, own.batch_limits()),
            uploads=UploadAdmission(
                pool, own.till_upload_items_per_second, own.upload_claim_seconds
            ),
            cards=cards,
            price_lists=PriceLists(),
            durability=DurabilityWatch(
                pool, own.sale_copies_expected, own.durability_check_every_seconds
            ),
            folder=SalesFolder(
                pool, own.sales_fold_every_seconds, instruments().sales_fold.observe
            ),
            chores=(
                pool_in_use(pool),
                keys_last_used(keys, database.keys_last_used_every_seconds),
                month_keeper(pool, own.month_keeper_every_hours * 3600),
                key_expiry(
                    pool,
                    own.idempotency_key_ttl_hours * 3600,
                    own.idempotency_key_expiry_every_seconds,
                ),
                automatic_close(pool, own.till_auto_close_at, own.till_auto_close_every_seconds),
            ),
        )

    async def readiness(self) -> Ready:
        """Why this worker should get no traffic now (empty: ready)."""
        return Ready(
            await ready_when(
                self.pool, {"catalog": self.catalog, "keys": self.keys}, self.batcher.closing
            ),
            self.durability.facts(),
        )

    def parts(self) -> tuple[Part, ...]:
        """In start order; they stop in reverse, so the batcher commits what it has taken
        while the catalog and the pool are still there, and the folder counts it after."""
        return (
            self.catalog, self.keys, self.durability, self.folder, *self.chores, self.batcher
        )  # fmt: skip


async def readiness(request: Request) -> Ready:
    """/readyz of the cash register: not ready until its lifespan has built it."""
    held = getattr(request.app.state, "cash_register", None)
    return await held.readiness() if isinstance(held, CashRegister) else Ready(["starting"])


def cash_register_of(connection: HTTPConnection) -> CashRegister:
    """The running process's `CashRegister` (set by the lifespan)."""
    held = connection.app.state.cash_register
    assert isinstance(held, CashRegister)
    return held


Held = Annotated[CashRegister, Depends(cash_register_of)]
