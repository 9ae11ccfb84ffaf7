"""API keys: `Authorization: Bearer <key>`, each key belonging to one tenant."""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Mapping
from dataclasses import dataclass

from services.gateway.problems import Problem
from services.gateway.settings import DEV_API_KEY

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Principal:
    tenant_id: str
    # A digest prefix: names the key in Redis and logs without revealing it.
    key_id: str


def key_id(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:16]


class ApiKeys:
    """Checks a presented key against every configured key in constant time."""

    def __init__(self, keys: Mapping[str, str]) -> None:
        # Digests have one length, so compare_digest's time does not depend on the key's length.
        self._entries = [
            (hashlib.sha256(key.encode()).digest(), Principal(tenant, key_id(key)))
            for key, tenant in keys.items()
        ]
        self.has_dev_key = DEV_API_KEY in keys
        self._dev_tenant = keys.get(DEV_API_KEY)

    def warn_if_dev_key(self) -> None:
        if self.has_dev_key:
            # The key itself is public (README), but keys are never logged: name it by role.
            log.warning(
                "GATEWAY_API_KEYS holds the documented dev key (tenant %s): "
                "for local use only, never expose this gateway",
                self._dev_tenant,
            )

    def check(self, presented: str) -> Principal | None:
        digest = hashlib.sha256(presented.encode()).digest()
        found: Principal | None = None
        for expected, principal in self._entries:  # no early exit: same work for every key
            if hmac.compare_digest(digest, expected):
                found = principal
        return found

    def authenticate(self, authorization: str | None) -> Principal:
        """The principal for an `Authorization` header value, or a 401 problem."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise unauthorized("Send `Authorization: Bearer <api key>`.")
        principal = self.check(token.strip())
        if principal is None:
            raise unauthorized("The API key is not valid.")
        return principal


def unauthorized(detail: str) -> Problem:
    return Problem(
        401, "unauthorized", detail, headers={"WWW-Authenticate": 'Bearer realm="durable-agents"'}
    )
