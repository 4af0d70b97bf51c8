"""The API rate limit is counted per token across workers: in Redis whenever REDIS_URL is set.

The other worker is a separate process with its own application, as a second gunicorn worker
is (two apps in one process would share the limiter singleton and hide the difference).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest

from tests.api.support import *  # noqa: F403  (fixtures)
from tests.conftest import ROOT

WORKER = """
import json, sys
from app import create_app
config, token, n = json.loads(sys.argv[1]), sys.argv[2], int(sys.argv[3])
client = create_app(config).test_client()
print(json.dumps([client.get("/api/v1/tickets", headers={"Authorization": "Bearer " + token}).status_code
                  for _ in range(n)]))
"""


@pytest.fixture
def other_worker(app_config: dict[str, Any]) -> Callable[..., list[int]]:
    def calls(token: str, n: int, **config: Any) -> list[int]:
        result = subprocess.run(
            [sys.executable, "-c", WORKER, json.dumps({**app_config, **config}), token, str(n)],
            cwd=ROOT, capture_output=True, text=True, timeout=120, env={**os.environ, "SECRET_KEY": "test-secret"},
        )
        assert result.returncode == 0, result.stderr[-2000:]
        return json.loads(result.stdout.strip().splitlines()[-1])

    return calls


@pytest.fixture
def shared_limit(app_config: dict[str, Any], redis_url: str) -> None:
    """Three calls a minute; REDIS_URL set, RATELIMIT_STORAGE_URI not (the usual production set-up)."""
    app_config["API_RATE_LIMIT"] = "3 per minute"
    app_config["REDIS_URL"] = redis_url


def test_two_workers_share_each_tokens_count_in_redis(shared_limit, app, world, api, make_token, other_worker):
    token = make_token(world.agent)
    assert [api.get("/api/v1/tickets", token).status_code for _ in range(2)] == [200, 200]
    assert other_worker(token, 2) == [200, 429]  # its first call is the token's third
    assert api.get("/api/v1/tickets", token).status_code == 429
    assert other_worker(make_token(world.agent2), 1) == [200]  # another token has its own count


def test_with_redis_unreachable_the_limit_is_counted_in_the_workers_memory(shared_limit, app, world, make_token, other_worker):
    token = make_token(world.agent)
    # a refused connection: no waiting, no 500; the limit still holds within the worker
    assert other_worker(token, 4, REDIS_URL="redis://127.0.0.1:1/0") == [200, 200, 200, 429]


@pytest.mark.parametrize(
    ("settings", "storage"),
    [
        ({}, "memory://"),
        ({"REDIS_URL": "redis://cache:6379/0"}, "redis://cache:6379/0"),
        ({"REDIS_URL": "redis://cache:6379/0", "RATELIMIT_STORAGE_URI": "redis://limits:6379/2"}, "redis://limits:6379/2"),
        ({"RATELIMIT_STORAGE_URI": "memcached://cache:11211"}, "memcached://cache:11211"),
    ],
)
def test_the_storage_is_the_explicit_one_else_redis_else_memory(settings: dict[str, Any], storage: str) -> None:
    from helpdesk.config import rate_limit_storage

    config = {"RATELIMIT_STORAGE_URI": None, "REDIS_URL": None, "REDIS_CONNECT_TIMEOUT": 0.5, **settings}
    rate_limit_storage(config)
    assert config["RATELIMIT_STORAGE_URI"] == storage
    if storage.startswith("redis"):
        assert config["RATELIMIT_STORAGE_OPTIONS"] == {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}
