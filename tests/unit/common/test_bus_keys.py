"""A session's bus key and the Redis names made from it, pinned: a rolling upgrade must find the
logs, channels and once keys the previous version wrote, on a plain Redis and on a cluster."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster

from services.common.bus import EventBus, channel_name, once_key, stream_key
from services.common.sessions import BusKey

KEY = BusKey("acme", "ses_0123abcd")


def test_the_names_on_a_plain_redis() -> None:
    assert str(KEY) == "acme/ses_0123abcd"
    assert stream_key(KEY) == "da:events:acme/ses_0123abcd"
    assert channel_name(KEY) == "da:events:acme/ses_0123abcd"
    assert once_key(KEY, "run-1:3") == "da:once:acme/ses_0123abcd:run-1:3"


def test_the_names_on_a_cluster_share_one_hash_tag() -> None:
    assert stream_key(KEY, cluster=True) == "da:events:{acme/ses_0123abcd}"
    assert channel_name(KEY, cluster=True) == "da:events:{acme/ses_0123abcd}"
    assert once_key(KEY, "run-1:3", cluster=True) == "da:once:{acme/ses_0123abcd}:run-1:3"


async def test_the_bus_names_by_the_kind_of_redis_it_is_given() -> None:
    # Neither client connects until it sends a command.
    plain = EventBus(Redis(host="127.0.0.1", port=1))
    assert plain.stream_key(KEY) == plain.channel(KEY) == "da:events:acme/ses_0123abcd"
    cluster = EventBus(RedisCluster(host="127.0.0.1", port=1))
    assert cluster.stream_key(KEY) == cluster.channel(KEY) == "da:events:{acme/ses_0123abcd}"


def test_a_key_is_its_text_and_back() -> None:
    assert BusKey.parse("acme/ses_0123abcd") == KEY
    assert BusKey.parse(str(KEY)) == KEY


@pytest.mark.parametrize("text", ["", "acme", "acme/", "/ses_1", "a/b/c"])
def test_text_that_is_not_a_key_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a bus key"):
        BusKey.parse(text)
