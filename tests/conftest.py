"""Shared fixtures: real servers the tests start themselves (never ones already running)."""

from __future__ import annotations

pytest_plugins = [
    "fixtures.kafka_broker",
    "fixtures.redis_server",
    "fixtures.detector",
    "fixtures.postgres_server",
    "fixtures.smtp_server",
    "fixtures.http_receiver",
    "fixtures.browser",
]
