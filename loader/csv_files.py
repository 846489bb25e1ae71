"""Reading and checking the chain's CSV files, before anything is written.

Every row is checked; every problem is collected with its file and line, so one run of the
loader tells the whole story of a bad file. Files may start with a UTF-8 BOM.
"""

from __future__ import annotations

import csv
import uuid
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

SUPERMARKETS_FILE = "supermarkets.csv"
PRODUCTS_FILE = "products_list.csv"
PURCHASES_FILE = "purchases.csv"

SUPERMARKET_COLUMNS = ["id"]
PRODUCT_COLUMNS = ["product_name", "unit_price"]
PURCHASE_COLUMNS = ["supermarket_id", "timestamp", "user_id", "items_list", "total_amount"]

# Makes a purchase's import key from its content, so a second load of the same row is a no-op.
IMPORT_KEY_NAMESPACE = uuid.UUID("5d0c3a4e-5b8f-4d0e-9a57-2f1c8f6f0b11")
MAX_ITEMS_PER_PURCHASE = 100


@dataclass(frozen=True)
class RowProblem:
    file: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"


@dataclass(frozen=True)
class PurchaseRow:
    """A checked purchase: who, where, when, what (name → quantity) and the recorded total."""

    line: int
    import_key: uuid.UUID
    supermarket_id: str
    customer_id: uuid.UUID
    purchased_at: datetime
    quantities: dict[str, int]
    total_amount: Decimal


@dataclass
class ChainData:
    """Everything read from the data folder, with what was wrong in it."""

    supermarkets: list[str] = field(default_factory=list)
    prices: dict[str, Decimal] = field(default_factory=dict)
    purchases: list[PurchaseRow] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    warnings: list[RowProblem] = field(default_factory=list)


def _rows(
    path: Path, columns: list[str], problems: list[RowProblem]
) -> list[tuple[int, dict[str, str]]]:
    """The file's rows with their line numbers, or a problem if its header is not `columns`."""
    if not path.is_file():
        problems.append(RowProblem(path.name, 0, "file not found"))
        return []
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None or [name.strip() for name in header] != columns:
            problems.append(
                RowProblem(
                    path.name,
                    1,
                    f"header must be {','.join(columns)}, found "
                    f"{','.join(header or []) or 'nothing'}",
                )
            )
            return []
        rows = []
        for values in reader:
            line = reader.line_num
            if not values or values == [""]:
                continue
            if len(values) != len(columns):
                problems.append(
                    RowProblem(
                        path.name, line, f"expected {len(columns)} fields, found {len(values)}"
                    )
                )
                continue
            rows.append(
                (line, dict(zip(columns, (value.strip() for value in values), strict=True)))
            )
        return rows


def parse_money(text: str, *, positive: bool) -> Decimal:
    """A price or total: a plain decimal with at most two places; raises ValueError."""
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{text!r} is not a number") from None
    if not amount.is_finite():
        raise ValueError(f"{text!r} is not a number")
    if amount.as_tuple().exponent < -2:  # type: ignore[operator]
        raise ValueError(f"{text!r} has more than two decimal places")
    if amount < 0 or (positive and amount == 0):
        raise ValueError(f"{text!r} must be {'greater than zero' if positive else 'zero or more'}")
    if amount >= Decimal("10000000000"):
        raise ValueError(f"{text!r} is too large")
    return amount


def parse_timestamp(text: str) -> datetime:
    """ISO 8601; a time without a zone is taken as UTC. Raises ValueError."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"timestamp {text!r} is not an ISO 8601 date and time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_items(text: str) -> dict[str, int]:
    """`"milk,bread,milk"` → `{"milk": 2, "bread": 1}`; raises ValueError on an empty basket."""
    names = [name.strip() for name in text.split(",")]
    if any(not name for name in names):
        raise ValueError("items_list is empty or has an empty product name")
    if len(names) > MAX_ITEMS_PER_PURCHASE:
        raise ValueError(f"{len(names)} items; at most {MAX_ITEMS_PER_PURCHASE} per purchase")
    return dict(Counter(names))


def read_supermarkets(data_dir: Path, data: ChainData) -> None:
    seen: set[str] = set()
    for line, row in _rows(data_dir / SUPERMARKETS_FILE, SUPERMARKET_COLUMNS, data.problems):
        store = row["id"]
        if not store or len(store) > 32 or not all(c.isalnum() or c in "-_" for c in store):
            data.problems.append(
                RowProblem(SUPERMARKETS_FILE, line, f"bad supermarket id {store!r}")
            )
        elif store in seen:
            data.problems.append(
                RowProblem(SUPERMARKETS_FILE, line, f"duplicate supermarket {store!r}")
            )
        else:
            seen.add(store)
            data.supermarkets.append(store)


def read_products(data_dir: Path, data: ChainData) -> None:
    for line, row in _rows(data_dir / PRODUCTS_FILE, PRODUCT_COLUMNS, data.problems):
        name = row["product_name"]
        if not name or len(name) > 100:
            data.problems.append(RowProblem(PRODUCTS_FILE, line, f"bad product name {name!r}"))
        elif name in data.prices:
            data.problems.append(RowProblem(PRODUCTS_FILE, line, f"duplicate product {name!r}"))
        else:
            try:
                data.prices[name] = parse_money(row["unit_price"], positive=True)
            except ValueError as error:
                data.problems.append(RowProblem(PRODUCTS_FILE, line, f"unit_price {error}"))


def read_purchases(
    data_dir: Path, data: ChainData, known_stores: Collection[str], known_products: Collection[str]
) -> None:
    occurrences: Counter[tuple[str, ...]] = Counter()
    for line, row in _rows(data_dir / PURCHASES_FILE, PURCHASE_COLUMNS, data.problems):
        try:
            purchase = _purchase(line, row, known_stores, known_products, occurrences)
        except ValueError as error:
            data.problems.append(RowProblem(PURCHASES_FILE, line, str(error)))
            continue
        data.purchases.append(purchase)
        expected = sum(
            data.prices[name] * count
            for name, count in purchase.quantities.items()
            if name in data.prices
        )
        if expected != purchase.total_amount:
            data.warnings.append(
                RowProblem(
                    PURCHASES_FILE,
                    line,
                    f"total_amount {purchase.total_amount} differs from today's catalog "
                    f"({expected}); kept as recorded",
                )
            )


def _purchase(
    line: int,
    row: dict[str, str],
    known_stores: Collection[str],
    known_products: Collection[str],
    occurrences: Counter[tuple[str, ...]],
) -> PurchaseRow:
    store = row["supermarket_id"]
    if store not in known_stores:
        raise ValueError(f"unknown supermarket {store!r}")
    moment = parse_timestamp(row["timestamp"])
    try:
        customer = uuid.UUID(row["user_id"])
    except ValueError:
        raise ValueError(f"user_id {row['user_id']!r} is not a UUID") from None
    quantities = parse_items(row["items_list"])
    unknown = [name for name in quantities if name not in known_products]
    if unknown:
        raise ValueError(
            "unknown product"
            + ("s " if len(unknown) > 1 else " ")
            + ", ".join(repr(name) for name in unknown)
        )
    try:
        total = parse_money(row["total_amount"], positive=False)
    except ValueError as error:
        raise ValueError(f"total_amount {error}") from None
    # The key is the row's meaning, not its spelling; identical rows are told apart by count.
    content = (
        store,
        moment.isoformat(),
        str(customer),
        ",".join(f"{name}*{count}" for name, count in sorted(quantities.items())),
        str(total),
    )
    occurrences[content] += 1
    key = uuid.uuid5(IMPORT_KEY_NAMESPACE, "|".join(content) + f"|{occurrences[content]}")
    return PurchaseRow(line, key, store, customer, moment, quantities, total)


def read_chain_data(
    data_dir: Path,
    stores_in_database: Collection[str] = (),
    products_in_database: Collection[str] = (),
) -> ChainData:
    """Read and check the three files; purchases may name what the database already has."""
    data = ChainData()
    read_supermarkets(data_dir, data)
    read_products(data_dir, data)
    read_purchases(
        data_dir,
        data,
        {*data.supermarkets, *stores_in_database},
        {*data.prices, *products_in_database},
    )
    file_order = [SUPERMARKETS_FILE, PRODUCTS_FILE, PURCHASES_FILE]
    data.problems.sort(key=lambda problem: (file_order.index(problem.file), problem.line))
    return data
