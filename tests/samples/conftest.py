"""Fixtures for the several-videos tests: a clean Google environment, no real sleep, and the
real Vertex AI adapter on respx with offline credentials (all from ``_kit.vertex_fixtures``).

Nothing here reaches the network or waits for real: respx answers every request made through
``http_client`` (an unmatched one fails the test) and credentials refresh offline.
"""

from __future__ import annotations

from _kit.vertex_fixtures import clean_google_environment, creds, make_vertex, token

__all__ = ["clean_google_environment", "creds", "make_vertex", "token"]
