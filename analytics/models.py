"""The answers the analytics give."""

from __future__ import annotations

from uuid import UUID

from pydantic import BaseModel


class UniqueCustomers(BaseModel):
    unique_customers: int


class LoyalCustomer(BaseModel):
    user_id: UUID
    purchases: int


class LoyalCustomers(BaseModel):
    min_purchases: int
    count: int
    limit: int
    offset: int
    customers: list[LoyalCustomer]


class RankedProduct(BaseModel):
    rank: int
    product: str
    units_sold: int


class TopProducts(BaseModel):
    products: list[RankedProduct]
