"""The detector as a service: Amazon Fraud Detector's wire protocol and a REST API.

    app = create_app(Engine.open(home), Settings.load())   # any ASGI server runs it

``boto3.client("frauddetector", endpoint_url=...)`` works unchanged against ``POST /``;
``/v1/...`` is a plain JSON API documented at ``/openapi.json``.
"""

from __future__ import annotations

from fraudstream.api.app import create_app
from fraudstream.api.settings import Settings, SettingsError

__all__ = ["Settings", "SettingsError", "create_app"]
