"""A tenant's sessions from Temporal's visibility store, newest first, a page at a time.

Temporal's SQL visibility stores (the dev server's SQLite, Compose's PostgreSQL) refuse ORDER BY:
they list open runs by StartTime, then closed ones by CloseTime. Neither is a session's age, since
continue-as-new starts a new run. So a page is chosen by CREATED_ATTRIBUTE, which the gateway
sets when it starts the session and continue-as-new keeps:

1. the first `size + 1` sessions in the server's order (before the cursor) were all created at or
   after the oldest of them, so that many at least were created from then to the cursor (open
   sessions mostly come newest first, so usually exactly those);
2. every session created from then to the cursor is listed, sorted and cut to `size`; the one
   left over says there is a next page. A window of more than WINDOW_ROWS sessions (an old
   session that continued as new lately, many ended ones) is first narrowed by bisecting its
   start on the server's counts, to one that holds `size + 1` to WINDOW_ROWS sessions.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from temporalio.client import Client, WorkflowExecution, WorkflowExecutionStatus

from services.common.sessions import (
    AGENT_MEMO,
    CREATED_ATTRIBUTE,
    SESSION_WORKFLOW,
    TENANT_ATTRIBUTE,
    TITLE_MEMO,
    USER_ATTRIBUTE,
)

log = logging.getLogger(__name__)

WINDOW_ROWS = 1000
MAX_PAGE = 1000  # the server's frontend.visibilityMaxPageSize default
# Sessions "created" further ahead than this (a skewed clock) may be left out of a narrowed page.
CLOCK_SKEW = timedelta(days=1)
# Time bounds in queries are widened by this much and applied exactly here: the SQLite store
# keeps a Datetime attribute as text rounded to the millisecond and compares it with the query's
# text, so times less than a millisecond apart (or equal) compare either way.
SLACK = timedelta(seconds=1)
DEFAULT_AGENT = "nutrisense"


@dataclass(frozen=True)
class Cursor:
    """Where a page ends: the last session it showed (creation time, then id, both descending)."""

    created_at: datetime
    session_id: str

    def token(self) -> str:
        raw = json.dumps({"t": self.created_at.isoformat(), "s": self.session_id})
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def from_token(cls, token: str) -> Cursor:
        """The cursor of a `next_page_token`; ValueError for anything this gateway did not make."""
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            fields = json.loads(raw)
            created_at = datetime.fromisoformat(fields["t"])
            session_id = fields["s"]
        except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError):
            raise ValueError("not a page token of this API") from None
        if not isinstance(session_id, str) or created_at.tzinfo is None:
            raise ValueError("not a page token of this API")
        return cls(created_at, session_id)


@dataclass(frozen=True)
class SessionSummary:
    session_id: str
    agent: str
    user_id: str | None
    created_at: datetime
    active: bool
    title: str | None

    @property
    def order(self) -> tuple[datetime, str]:
        return self.created_at, self.session_id


@dataclass(frozen=True)
class SessionPage:
    sessions: list[SessionSummary]
    next_cursor: Cursor | None


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _literal(value: str) -> str:
    # Tenant ids (settings.py) and user ids (ids.SESSION_ID_PATTERN) never hold either.
    if "'" in value or "\\" in value:
        raise ValueError(f"{value!r} cannot be put in a visibility query")
    return f"'{value}'"


def base_query(tenant_id: str, user_id: str | None) -> str:
    """The tenant's (and user's) sessions, one row each: a continued run is the same session."""
    query = (
        f"WorkflowType = {_literal(SESSION_WORKFLOW)} AND {TENANT_ATTRIBUTE.name} = "
        f"{_literal(tenant_id)} AND ExecutionStatus != 'ContinuedAsNew'"
    )
    if user_id is not None:
        query += f" AND {USER_ATTRIBUTE.name} = {_literal(user_id)}"
    return query


async def newest_sessions(
    client: Client, tenant_id: str, user_id: str | None, size: int, cursor: Cursor | None
) -> SessionPage:
    query = base_query(tenant_id, user_id)
    if cursor is not None:
        query += f" AND {CREATED_ATTRIBUTE.name} <= '{rfc3339(cursor.created_at + SLACK)}'"
    head = await _listed(client, query, size + 1, cursor)
    if len(head) <= size:  # all there is
        return _page(head, size)
    most = max(WINDOW_ROWS, size + 1)
    lower = min(s.created_at for s in head)
    window = await _listed(client, _since(query, lower), most + 1, cursor)
    if len(window) > most:
        lower = await _narrowed(client, query, size, most, lower, cursor)
        window = await _listed(client, _since(query, lower), most + 1, cursor)
    return _page(window, size)


def _since(query: str, moment: datetime) -> str:
    """Sessions created at `moment` or later, and some a little older (SLACK)."""
    return f"{query} AND {CREATED_ATTRIBUTE.name} >= '{rfc3339(moment - SLACK)}'"


async def _narrowed(
    client: Client, query: str, size: int, most: int, low: datetime, cursor: Cursor | None
) -> datetime:
    """A time from which `size + 1` to `most` sessions of `query` after `cursor` were created,
    by bisection on the server's counts: from `low` there are more than `most`."""
    high, newer = datetime.now(UTC) + CLOCK_SKEW, 0
    if cursor is not None:
        # What the counts include but a page leaves out: the cursor's session and any created
        # after it within SLACK.
        high = cursor.created_at
        near = await _listed(client, _since(query, cursor.created_at), most + 1, None)
        newer = sum(1 for s in near if s.order >= _key(cursor))
    while high - low > timedelta(microseconds=1):
        middle = low + (high - low) / 2
        count = (await client.count_workflows(_since(query, middle))).count - newer
        if count > most:
            low = middle
        elif count <= size:
            high = middle
        else:
            return middle
    log.warning("over %d sessions created at %s: the page may miss some", most, low)
    return low


def _page(sessions: list[SessionSummary], size: int) -> SessionPage:
    ordered = sorted(sessions, key=lambda s: s.order, reverse=True)
    page = ordered[:size]
    more = len(ordered) > size
    return SessionPage(page, Cursor(page[-1].created_at, page[-1].session_id) if more else None)


async def _listed(
    client: Client, query: str, want: int, cursor: Cursor | None
) -> list[SessionSummary]:
    """At least `want` sessions of `query` after `cursor` when there are that many, else all.

    Sessions created at the cursor's very time are in the query's answer and dropped here, so
    when that leaves too few, more are asked for.
    """
    limit = want
    while True:
        found: dict[str, SessionSummary] = {}
        fetched = 0
        pages = min(limit, MAX_PAGE)
        async for execution in client.list_workflows(query, limit=limit, page_size=pages):
            fetched += 1
            summary = await _summary(execution)
            if summary is None or (cursor is not None and summary.order >= _key(cursor)):
                continue
            # A run that has just continued as new may briefly show beside its successor.
            found.setdefault(summary.session_id, summary)
        if len(found) >= want or fetched < limit:
            return list(found.values())
        limit *= 2


def _key(cursor: Cursor) -> tuple[datetime, str]:
    return cursor.created_at, cursor.session_id


async def _summary(execution: WorkflowExecution) -> SessionSummary | None:
    attributes = execution.typed_search_attributes
    created_at = attributes.get(CREATED_ATTRIBUTE)
    if created_at is None:  # not started by this gateway: it cannot be ordered
        return None
    memo = await execution.memo()
    agent, title = memo.get(AGENT_MEMO), memo.get(TITLE_MEMO)
    return SessionSummary(
        session_id=execution.id.rsplit("/", 1)[-1],
        agent=agent if isinstance(agent, str) else DEFAULT_AGENT,
        user_id=attributes.get(USER_ATTRIBUTE),
        created_at=created_at,
        active=execution.status == WorkflowExecutionStatus.RUNNING,
        title=title if isinstance(title, str) else None,
    )
