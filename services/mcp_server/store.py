"""Goals and food entries per user and per local day, on SQLite or PostgreSQL (one code path).

Goals are kept one row per (user, nutrient, day it took effect): a partial update writes only the
nutrients it names, so two concurrent updates of different goals cannot undo each other, and the
goals of any day are the latest value of each nutrient set on or before it. Food entries are
insert-only rows, so concurrent logs for one user never lose an entry.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from services.mcp_server.identity import UserKey
from services.mcp_server.nutrients import Goals, Nutrients

metadata = sa.MetaData()

goal_values = sa.Table(
    "goal_values",
    metadata,
    sa.Column("tenant_id", sa.String(200), primary_key=True),
    sa.Column("user_id", sa.String(200), primary_key=True),
    sa.Column("nutrient", sa.String(32), primary_key=True),
    sa.Column("effective_date", sa.Date, primary_key=True),
    sa.Column("value", sa.Float, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

food_entries = sa.Table(
    "food_entries",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("tenant_id", sa.String(200), nullable=False),
    sa.Column("user_id", sa.String(200), nullable=False),
    sa.Column("local_date", sa.Date, nullable=False),
    sa.Column("logged_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("meal", sa.String(16)),
    sa.Column("food", sa.String(100), nullable=False),
    sa.Column("description", sa.String(300), nullable=False),
    sa.Column("quantity", sa.Float, nullable=False),
    sa.Column("unit", sa.String(16), nullable=False),
    sa.Column("grams", sa.Float, nullable=False),
    *(sa.Column(name, sa.Float, nullable=False) for name in Nutrients.NAMES),
    # True when the nutrients are a model's estimate rather than the table's values.
    sa.Column("estimated", sa.Boolean, nullable=False, server_default=sa.false()),
    # The caller's idempotency key of the food_log call that wrote this entry, if it sent one.
    sa.Column("request_key", sa.String(200)),
    sa.Index("ix_food_entries_user_day", "tenant_id", "user_id", "local_date"),
    sa.Index("ix_food_entries_user_request", "tenant_id", "user_id", "request_key"),
)

# One row per idempotency key already logged: a retried call finds it and writes nothing.
logged_requests = sa.Table(
    "logged_requests",
    metadata,
    sa.Column("tenant_id", sa.String(200), primary_key=True),
    sa.Column("user_id", sa.String(200), primary_key=True),
    sa.Column("request_key", sa.String(200), primary_key=True),
    sa.Column("local_date", sa.Date, nullable=False),
    sa.Column("logged_at", sa.DateTime(timezone=True), nullable=False),
)


@dataclass(frozen=True, slots=True)
class FoodEntry:
    """One logged food, its nutrients already computed (rounded to one decimal)."""

    food: str
    description: str
    quantity: float
    unit: str
    grams: float
    nutrients: Nutrients
    meal: str | None = None
    estimated: bool = False
    id: int | None = None
    logged_at: dt.datetime | None = None


def async_database_url(url: str) -> str:
    """`DATABASE_URL` as users write it -> the async driver URL SQLAlchemy needs."""
    for prefix, driver in (
        ("postgresql://", "postgresql+asyncpg://"),
        ("postgres://", "postgresql+asyncpg://"),
        ("sqlite://", "sqlite+aiosqlite://"),
    ):
        if url.startswith(prefix):
            return driver + url[len(prefix) :]
    return url


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers run beside the writer; busy_timeout makes worker processes queue
    # for the write lock instead of failing with "database is locked".
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class NutritionStore:
    """Async access to the goals and the food diary."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    @classmethod
    async def open(cls, database_url: str) -> NutritionStore:
        """Connect and create the schema when missing (safe with several processes starting)."""
        store = cls.from_url(database_url)
        await store.create_schema()
        return store

    @classmethod
    def from_url(cls, database_url: str) -> NutritionStore:
        """A store for `database_url`; no I/O until first use (call create_schema at start)."""
        url = sa.make_url(async_database_url(database_url))
        if url.get_backend_name() == "sqlite":
            if url.database and url.database != ":memory:":
                Path(url.database).parent.mkdir(parents=True, exist_ok=True)
            engine = create_async_engine(url, connect_args={"timeout": 15})
            event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        else:
            engine = create_async_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)
        return cls(engine)

    async def create_schema(self, attempts: int = 3) -> None:
        for attempt in range(attempts):
            try:
                async with self.engine.begin() as conn:
                    await conn.run_sync(metadata.create_all)
                return
            except DBAPIError:
                # Another process created the same table between our check and our CREATE.
                if attempt == attempts - 1:
                    raise

    async def close(self) -> None:
        await self.engine.dispose()

    def _upsert(self) -> Any:
        insert = postgresql.insert if self.engine.dialect.name == "postgresql" else sqlite.insert
        return insert(goal_values)

    async def set_goals(self, user: UserKey, day: dt.date, goals: Goals, now: dt.datetime) -> Goals:
        """Record the goals `goals` sets, effective from `day`; return all goals for `day`."""
        rows = [
            {
                "tenant_id": user.tenant_id,
                "user_id": user.user_id,
                "nutrient": nutrient,
                "effective_date": day,
                "value": value,
                "updated_at": now,
            }
            for nutrient, value in goals.as_dict().items()
            if value is not None
        ]
        if rows:
            statement = self._upsert()
            statement = statement.on_conflict_do_update(
                index_elements=["tenant_id", "user_id", "nutrient", "effective_date"],
                set_={
                    "value": statement.excluded.value,
                    "updated_at": statement.excluded.updated_at,
                },
            )
            async with self.engine.begin() as conn:
                await conn.execute(statement, rows)
        return await self.goals_on(user, day)

    async def goals_on(self, user: UserKey, day: dt.date) -> Goals:
        """Each nutrient's latest goal set on or before `day`."""
        query = (
            sa.select(goal_values.c.nutrient, goal_values.c.value)
            .where(
                goal_values.c.tenant_id == user.tenant_id,
                goal_values.c.user_id == user.user_id,
                goal_values.c.effective_date <= day,
            )
            .order_by(goal_values.c.effective_date)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        latest = {row.nutrient: float(row.value) for row in rows}  # later dates overwrite
        return Goals(**{k: v for k, v in latest.items() if k in Nutrients.NAMES})

    async def add_entries(
        self,
        user: UserKey,
        day: dt.date,
        entries: list[FoodEntry],
        now: dt.datetime,
        request_key: str | None = None,
    ) -> bool:
        """Append `entries` to the user's diary for `day`, all or none.

        With a `request_key` already used by this user nothing is written and False comes back:
        a retried call (a Temporal activity retry, a client resend) never logs a meal twice.
        """
        rows = [
            {
                "tenant_id": user.tenant_id,
                "user_id": user.user_id,
                "local_date": day,
                "logged_at": now,
                "meal": entry.meal,
                "food": entry.food,
                "description": entry.description[:300],
                "quantity": entry.quantity,
                "unit": entry.unit,
                "grams": entry.grams,
                **entry.nutrients.as_dict(),
                "request_key": request_key,
                "estimated": entry.estimated,
            }
            for entry in entries
        ]
        key = {"tenant_id": user.tenant_id, "user_id": user.user_id, "request_key": request_key}
        try:
            async with self.engine.begin() as conn:
                if request_key is not None:
                    await conn.execute(
                        logged_requests.insert(), {**key, "local_date": day, "logged_at": now}
                    )
                if rows:
                    await conn.execute(food_entries.insert(), rows)
        except IntegrityError:
            if request_key is None:
                raise
            return False
        return True

    async def request_day(self, user: UserKey, request_key: str) -> dt.date | None:
        """The day a food_log call with this idempotency key wrote to, if it ran already."""
        query = sa.select(logged_requests.c.local_date).where(
            logged_requests.c.tenant_id == user.tenant_id,
            logged_requests.c.user_id == user.user_id,
            logged_requests.c.request_key == request_key,
        )
        async with self.engine.connect() as conn:
            day: dt.date | None = (await conn.execute(query)).scalar_one_or_none()
        return day

    async def entries_on(
        self, user: UserKey, day: dt.date, request_key: str | None = None
    ) -> list[FoodEntry]:
        """The user's diary for `day` in the order it was logged (only one call's, by key)."""
        query = (
            sa.select(food_entries)
            .where(
                food_entries.c.tenant_id == user.tenant_id,
                food_entries.c.user_id == user.user_id,
                food_entries.c.local_date == day,
            )
            .order_by(food_entries.c.id)
        )
        if request_key is not None:
            query = query.where(food_entries.c.request_key == request_key)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [
            FoodEntry(
                id=row.id,
                food=row.food,
                description=row.description,
                quantity=row.quantity,
                unit=row.unit,
                grams=row.grams,
                meal=row.meal,
                estimated=bool(row.estimated),
                logged_at=row.logged_at,
                nutrients=Nutrients(*(float(getattr(row, name)) for name in Nutrients.NAMES)),
            )
            for row in rows
        ]
