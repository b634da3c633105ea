"""What a cassette must never hold, and the vcrpy hooks that keep it out.

Nothing here knows what a secret looks like: header names, query parameter names, the marker
and the redaction of literal values and key-shaped strings all come from
:mod:`veo3_adapter._secrets`. This module only says where in a recorded exchange to apply them:

- request headers that carry credentials are dropped by name, by vcrpy's own header filter;
- response headers that carry credentials (the live API echoes ``X-Goog-Api-Key`` on its
  download redirect, ``Set-Cookie``) are dropped by name;
- credential query parameters (``key``, ``access_token``) become the marker; user info is
  dropped from URLs;
- every other header value, URL (query values decoded first) and body goes through
  ``redact`` / ``redact_bytes``, which also find the key base64-encoded, percent-encoded or
  ``\\u``-escaped, and bearer tokens;
- Google Cloud project and bucket names become placeholders
  (:class:`~veo3_adapter._placeholders.CloudNames`), so a Vertex AI recording tells nobody
  whose project it was;
- when the cassette is saved, the query of a URL off the API's origins (a signed download
  URL) is blanked;
- vcrpy's own log records (it logs each raw response before any hook runs) are scrubbed the
  same way while a cassette is open (:func:`scrubbed_vcr_logs`).
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

import httpx

from veo3_adapter._http import Origin
from veo3_adapter._placeholders import CloudNames
from veo3_adapter._secrets import (
    MARKER,
    SECRET_QUERY_PARAMS,
    SECRET_REQUEST_HEADERS,
    SECRET_RESPONSE_HEADERS,
    Secret,
    env_secrets,
    redact,
    redact_bytes,
)

__all__ = ["Scrubber", "redact_foreign_query", "scrub_report", "scrubbed_vcr_logs"]

_VCR_LOGGERS = ("vcr.cassette", "vcr.matchers", "vcr.request", "vcr.stubs", "vcr.stubs.httpx_stubs")
"""vcrpy's module loggers that name requests or responses (a logger filter is not inherited)."""


@dataclass(frozen=True)
class Scrubber:
    """Removes secrets from vcrpy requests and responses.

    ``secrets`` are the key values known up front (values too short to be a key are left to
    the by-name rules), held as :class:`~veo3_adapter._secrets.Secret` so no ``repr`` shows
    them (``pytest -l``, debuggers); ``api_base`` is the origin the key belongs to, and
    ``own_bases`` other origins of the same service (Cloud Storage beside Vertex AI): the
    query of any other origin's URL is blanked when the cassette is saved. ``names`` knows
    the real project and bucket names to replace. Plug it into vcrpy with :meth:`vcr_options`.
    """

    secrets: tuple[str | Secret, ...] = field(default=(), repr=False)
    api_base: str = ""
    own_bases: tuple[str, ...] = ()
    names: CloudNames = field(default_factory=CloudNames, repr=False)

    def __post_init__(self) -> None:
        held = tuple(s if isinstance(s, Secret) else Secret(s) for s in self.secrets if s)
        object.__setattr__(self, "secrets", held)

    def vcr_options(self) -> dict[str, Any]:
        """Keyword arguments for ``vcr.VCR``: vcrpy drops the credential request headers
        (``filter_headers``, case-insensitive), then the hooks below scrub the rest."""
        return {
            "filter_headers": sorted(SECRET_REQUEST_HEADERS),
            "before_record_request": self.request,
            "before_record_response": self.response,
            "before_save_interaction": self.interaction,
        }

    def text(self, value: str) -> str:
        return self.names.text(redact(value, self.secrets))

    def data(self, value: bytes) -> bytes:
        return self.names.data(redact_bytes(value, self.secrets))

    def url(self, uri: str) -> str:
        """``uri`` without user info, credential query values or secrets."""
        try:
            parts = urlsplit(uri)
        except ValueError:  # an unbalanced "[" in the host, for one: keep no query at all
            return _blank_query(self.text(uri))
        # Decoded values are redacted before they are encoded again: "+" and "/" of a
        # base64 value come back as %2B and %2F, which no longer show the key's base64 form.
        query = [
            (self.text(k), MARKER if k.lower() in SECRET_QUERY_PARAMS else self.text(v))
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
        ]
        netloc = parts.netloc.rsplit("@", 1)[-1]  # user info never belongs in a cassette
        path = parts.path
        decoded = unquote(path)
        # A secret written percent-encoded in the path (names are never encoded there, and
        # decoding would turn an object name's %2F into more path segments).
        if redact(decoded, self.secrets) != decoded:
            path = quote(self.text(decoded), safe="/:@!$&'()*+,;=~")
        rebuilt = urlunsplit(
            (parts.scheme, netloc, path, urlencode(query, safe=":/"), parts.fragment)
        )
        return self.text(rebuilt)

    def request(self, request: Any) -> Any:
        """The ``before_record_request`` hook: a scrubbed copy of a ``vcr.request.Request``.

        vcrpy runs it on what it records, on what it loads, and on every request it matches,
        so a replayed request is compared in the same scrubbed form it was stored in.
        """
        clean = copy.copy(request)
        clean.headers = {
            name: self.text(str(value))
            for name, value in request.headers.items()
            # Already gone through filter_headers; kept for a Scrubber used on its own.
            if name.lower() not in SECRET_REQUEST_HEADERS
        }
        clean.uri = self.url(request.uri)
        body = request.body
        if isinstance(body, bytes):
            clean.body = self.data(body)
        elif isinstance(body, str):
            clean.body = self.text(body)
        return clean

    def response(self, response: dict[str, Any]) -> dict[str, Any]:
        """The ``before_record_response`` hook: scrub a vcrpy response dict in place (vcrpy
        hands it a deep copy). Credential headers, echoed ones included, go by name."""
        headers = response.get("headers", {})
        response["headers"] = {
            self.text(name): [
                self.url(str(v)) if name.lower() == "location" else self.text(str(v))
                for v in values
            ]
            for name, values in headers.items()
            if name.lower() not in SECRET_RESPONSE_HEADERS
        }
        _keep_chunked_framing(response["headers"])
        body = response.get("body", {})
        if isinstance(body.get("string"), bytes):
            body["string"] = self.data(body["string"])
        elif isinstance(body.get("string"), str):
            body["string"] = self.text(body["string"])
        return response

    def interaction(self, request: Any, response: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        """The ``before_save_interaction`` hook (on copies): blank foreign queries.

        Only on the way to disk, so matching compares requests as they were sent; a replay
        follows the blanked ``Location`` and sends the blanked URL it was saved with.
        """
        request.uri = self._foreign_query(request.uri)
        for name, values in response.get("headers", {}).items():
            if name.lower() == "location":
                response["headers"][name] = [self._foreign_query(v) for v in values]
        return request, response

    def _foreign_query(self, uri: str) -> str:
        if any(_same_origin(uri, base) for base in self.own_bases if base):
            return uri
        return redact_foreign_query(uri, self.api_base)


def _keep_chunked_framing(headers: dict[str, list[str]]) -> None:
    """vcrpy adds ``Content-Length`` to a chunked answer it buffered; the server sent none,
    and a cassette keeps the answer as the server framed it."""
    names = {name.lower(): name for name in headers}
    chunked = any(
        "chunked" in v.lower() for v in headers.get(names.get("transfer-encoding", ""), [])
    )
    if chunked and "content-length" in names:
        del headers[names["content-length"]]


class _LogScrubber(logging.Filter):
    """Rewrites a vcrpy log record through the scrubber.

    ``Cassette.append`` logs "Appending request %s and response %s" at INFO with the response
    as received, before ``before_record_response`` runs: a key the server echoed in a
    response header would reach every handler listening at INFO.
    """

    def __init__(self, scrubber: Scrubber) -> None:
        super().__init__()
        self._scrubber = scrubber

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(self._clean(arg) for arg in record.args)
        record.msg = self._scrubber.text(record.getMessage())
        record.args = ()
        return True

    def _clean(self, value: object) -> object:
        if isinstance(value, dict) and "headers" in value:  # a vcrpy response dict
            return self._scrubber.response(copy.deepcopy(value))
        if hasattr(value, "uri") and hasattr(value, "headers"):  # a vcrpy Request
            return self._scrubber.request(value)
        return value


@contextlib.contextmanager
def scrubbed_vcr_logs(scrubber: Scrubber) -> Iterator[None]:
    """While open, vcrpy's log records hold what a cassette may hold, and no more."""
    log_filter = _LogScrubber(scrubber)
    loggers = [logging.getLogger(name) for name in _VCR_LOGGERS]
    for logger in loggers:
        logger.addFilter(log_filter)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeFilter(log_filter)


def redact_foreign_query(uri: str, api_base: str) -> str:
    """Blank every query value of a URL that is not on the API's origin.

    The download redirect may name a signed URL on another host: its query is a short-lived
    credential for the video. Both the recorded ``Location`` and the recorded request get the
    same treatment, so a replay follows the redacted ``Location`` and still matches. A URL
    that cannot be parsed (a hostile or malformed host) counts as foreign.
    """
    if not api_base or "?" not in uri:
        return uri
    if _same_origin(uri, api_base):
        return uri
    try:
        parts = urlsplit(uri)
    except ValueError:
        return _blank_query(uri)
    if not parts.query:
        return uri
    query = [(k, MARKER) for k, _v in parse_qsl(parts.query, keep_blank_values=True)]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


def _same_origin(uri: str, api_base: str) -> bool:
    try:
        return Origin.of(httpx.URL(uri)) == Origin.of(httpx.URL(api_base))
    except (httpx.InvalidURL, TypeError, ValueError):  # idna and Unicode errors included
        return False


def _blank_query(uri: str) -> str:
    """For a URL too broken to parse: whatever follows ``?`` becomes one marker."""
    head, question, rest = uri.partition("?")
    _query, hash_mark, fragment = rest.partition("#")
    return f"{head}{question}{MARKER if question else ''}{hash_mark}{fragment}"


# -- pytest's reports ------------------------------------------------------------------------


def scrub_report(report: Any) -> None:
    """Redact a pytest report in place: its failure (every line, ``-l``'s locals included)
    and its captured output, of every key in the environment and every key shape.

    pytest's failure representations are dataclasses of strings, lists and tuples; they are
    walked generically so a new field or a ``--tb`` style is covered as well.
    """
    secrets = tuple(Secret(s) for s in env_secrets())
    if report.longrepr is not None:
        report.longrepr = _scrubbed(report.longrepr, secrets, set())
    report.sections = [(title, redact(text, secrets)) for title, text in report.sections]


def _scrubbed(value: Any, secrets: tuple[Secret, ...], seen: set[int]) -> Any:
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, list | tuple):
        items = [_scrubbed(v, secrets, seen) for v in value]
        return items if isinstance(value, list) else tuple(items)
    if dataclasses.is_dataclass(value) and not isinstance(value, type) and id(value) not in seen:
        seen.add(id(value))
        for field_ in dataclasses.fields(value):
            current = getattr(value, field_.name)
            object.__setattr__(value, field_.name, _scrubbed(current, secrets, seen))
    return value
