"""`python -m loader.generate --purchases N --out DIR`: a chain's worth of sales, in the seed's
format, for tests and benchmarks.

Realistic where it matters to the analytics: customers come back (a few very often, most
rarely: a Pareto-like draw), stores differ in size, baskets hold 1 to 6 products with the
staples most popular and an occasional repeated item, and sales spread over a long date range
with busier weekends. Same `--seed`, same files. Prices are the seed catalog's, so totals agree
with it.
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from loader.files import PRODUCTS, PURCHASES, SUPERMARKETS

CATALOG = {
    "milk": Decimal("1.5"), "bread": Decimal("2"), "eggs": Decimal("3"),
    "chicken": Decimal("6.5"), "apples": Decimal("0.8"), "toilet paper": Decimal("4"),
    "cereal": Decimal("3.5"), "cheese": Decimal("5"), "yogurt": Decimal("1.2"),
    "orange juice": Decimal("2.8"),
}  # fmt: skip
POPULARITY = [30, 28, 27, 6, 5, 6, 5, 5, 5, 5]
BOM = "\ufeff"


def _customers(rng: random.Random, count: int) -> list[str]:
    return [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(count)]


def _basket(rng: random.Random, names: list[str]) -> list[str]:
    size = rng.choices((1, 2, 3, 4, 5, 6), weights=(20, 30, 25, 15, 6, 4))[0]
    basket: list[str] = []
    while len(basket) < size:
        name = rng.choices(names, weights=POPULARITY)[0]
        if name not in basket:
            basket.append(name)
    if rng.random() < 0.05:  # two of something
        basket.append(basket[0])
    return basket


def generate(
    out: Path,
    purchases: int,
    stores: int = 3,
    days: int = 730,
    end: datetime = datetime(2026, 6, 30, tzinfo=UTC),
    seed: int = 1,
) -> None:
    """Write supermarkets.csv, products_list.csv and purchases.csv into `out`."""
    rng = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    store_ids = [f"SMKT{n:03d}" for n in range(1, stores + 1)]
    store_weights = [1 + n for n in range(stores)]
    names = list(CATALOG)
    customers = _customers(rng, max(1, purchases // 4))
    start = end - timedelta(days=days)
    with (out / SUPERMARKETS.name).open("w", newline="") as handle:
        handle.write("id\n" + "".join(f"{store}\n" for store in store_ids))
    with (out / PRODUCTS.name).open("w", newline="", encoding="utf-8") as handle:
        handle.write(BOM + "product_name,unit_price\n")
        handle.writelines(f"{name},{price}\n" for name, price in CATALOG.items())
    with (out / PURCHASES.name).open("w", newline="", encoding="utf-8") as handle:
        handle.write(BOM)
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["supermarket_id", "timestamp", "user_id", "items_list", "total_amount"])
        for _ in range(purchases):
            moment = start + timedelta(seconds=rng.random() * days * 86400)
            if moment.weekday() < 5 and rng.random() < 0.3:  # weekends are busier
                moment += timedelta(days=5 - moment.weekday())
                moment = min(moment, end)
            # Half the sales from a skewed draw (a few regulars come very often), half uniform.
            skew = rng.random() ** 1.5 if rng.random() < 0.5 else rng.random()
            customer = customers[int(skew * len(customers))]
            basket = _basket(rng, names)
            total = sum((CATALOG[name] for name in basket), Decimal(0))
            writer.writerow(
                [
                    rng.choices(store_ids, weights=store_weights)[0],
                    moment.replace(tzinfo=None).isoformat(timespec="microseconds"),
                    customer,
                    ",".join(basket),
                    str(total),
                ]
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m loader.generate", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--purchases", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--stores", type=int, default=3)
    parser.add_argument("--days", type=int, default=730, help="length of the date range")
    parser.add_argument("--seed", type=int, default=1)
    arguments = parser.parse_args(argv)
    started = time.perf_counter()
    generate(
        arguments.out, arguments.purchases, arguments.stores, arguments.days, seed=arguments.seed
    )
    print(
        f"wrote {arguments.purchases:,} purchases to {arguments.out} "
        f"in {time.perf_counter() - started:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
