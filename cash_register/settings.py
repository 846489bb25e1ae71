"""The cash register's own settings: group commit, keys, offline sales and chores."""

from __future__ import annotations

from datetime import time, timedelta
from decimal import Decimal
from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from cash_register.batcher import BatchLimits


class CashRegisterSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    purchase_batch_max_size: int = Field(default=200, ge=1, le=1000)
    purchase_batch_max_wait_ms: float = Field(default=0, ge=0, le=100)
    # Batches committing at once per worker. Two keep batches large at moderate load (2,000/s:
    # p99 11 ms, against 32 ms with four, whose small batches cost PostgreSQL more CPU per sale).
    purchase_batches_in_flight: int = Field(default=2, ge=1, le=64)
    # Lines in one batch of offline sales: small, so a backlog's batch holds its slot and the
    # aggregates' rows it updates briefly, and live sales wait little behind it.
    offline_batch_max_lines: int = Field(default=100, ge=1, le=100_000)
    # After each batch of offline sales, the offline queue rests this many times as long as
    # the batch took: a backlog has at most 1/(1 + rest) of the database's time (its WAL
    # flushes above all, which every live sale's commit waits for), the live sales the rest.
    # Nine: a tenth. With three, a till uploading flat out stored twice as fast but its sales'
    # aftermath (their folding into the rollups, their WAL) pushed the other tills' live p99
    # to 5-8x its quiet figure (`make bench`, uploads section); with nine it stays within 2x.
    offline_batch_rest: float = Field(default=9, ge=0, le=100)
    # Items one till's offline uploads may carry per second, per worker process (an upload of
    # up to 100,000 items passes at once on a full budget, the next when it has refilled; 0: no
    # limit). Uploads are paid for by the work they carry, not counted as requests.
    till_upload_items_per_second: float = Field(default=10_000, ge=0)
    # How long a till's claim to its one upload in progress lasts if its worker dies mid-way.
    upload_claim_seconds: float = Field(default=60, gt=0, le=3600)
    idempotency_key_ttl_hours: float = Field(default=24, gt=0)
    idempotency_key_expiry_every_seconds: float = Field(default=600, ge=1)
    offline_max_age_days: int = Field(default=30, ge=1, le=366)
    # How far in the future an offline sale's time may be (the till's clock runs fast).
    offline_clock_skew_seconds: float = Field(default=300, ge=0, le=86_400)
    # How often the coming months' partitions are created where missing (also at start).
    month_keeper_every_hours: float = Field(default=12, gt=0, le=24 * 7)
    # Requests per second one till may send, per worker process (bursts to twice that); 0: no
    # limit. An offline upload is one request.
    till_requests_per_second: float = Field(default=10, ge=0)

    # Copies of each sale the chain runs with: 2 with a synchronous standby (the cluster
    # topologies), 1 with one database. Below it, /readyz warns and sales_on_one_copy is 1.
    sale_copies_expected: int = Field(default=1, ge=1, le=2)
    durability_check_every_seconds: float = Field(default=5, ge=0.1, le=3600)

    # How old a sale may be and still be refunded, in days.
    refund_window_days: int = Field(default=90, ge=1, le=3660)
    # A refund whose total is above this (in CURRENCY) needs an owner's Approval-Key; 0: every
    # refund needs one.
    refund_approval_above: Decimal = Field(default=Decimal("50.00"), ge=0)

    # A till's period left open is closed by the service at this store-local time of day
    # (every store in its own zone), once, however many cash registers run; checked every
    # TILL_AUTO_CLOSE_EVERY_SECONDS.
    till_auto_close_at: time = Field(default=time(4, 0))
    till_auto_close_every_seconds: float = Field(default=60, ge=0.1, le=3600)

    # How often this worker counts the sales waiting for the rollups (every cash register
    # stores a sale and queues it; a fold counts the queue). The owners' questions fold first,
    # so this bounds how much a question may have to fold, not how late a sale counts.
    sales_fold_every_seconds: float = Field(default=0.25, ge=0.01, le=60)

    def batch_limits(self) -> BatchLimits:
        return BatchLimits(
            max_size=self.purchase_batch_max_size,
            max_wait_seconds=self.purchase_batch_max_wait_ms / 1000,
            max_in_flight=self.purchase_batches_in_flight,
            max_offline_lines=self.offline_batch_max_lines,
            offline_rest=self.offline_batch_rest,
        )

    @property
    def offline_max_age(self) -> timedelta:
        return timedelta(days=self.offline_max_age_days)

    @property
    def offline_clock_skew(self) -> timedelta:
        return timedelta(seconds=self.offline_clock_skew_seconds)


@lru_cache
def cash_register_settings() -> CashRegisterSettings:
    return CashRegisterSettings()
