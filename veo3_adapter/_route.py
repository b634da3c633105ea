"""Where a download's requests go: the API origin or its gateway, every redirect by hand.

The SDK's own client follows redirects with ``x-goog-api-key`` still attached, whatever host
the redirect names. Here the key goes only to the API's origin (``base_url``'s) and is dropped
for good the moment a redirect leaves it.

Behind a gateway (``base_url`` not the default origin), a files-download URL on the default
origin, in the operation or in a redirect, is fetched through the gateway, as the SDK
rebuilds it from the file id: nothing is sent to the default origin.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from ._http import Origin, parse_url, redact_url
from ._secrets import API_KEY_HEADER, Secret, redact
from .errors import TRANSIENT_STATUS, DownloadError, UnsafeURLError
from .models import DEFAULT_BASE_URL
from .retry import retry_after_seconds

__all__ = ["DEFAULT_ORIGIN", "Job", "Retryable", "Route"]

logger = logging.getLogger("veo3_adapter.download")

DEFAULT_ORIGIN = Origin.of(httpx.URL(DEFAULT_BASE_URL))
# The paths the SDK builds from a file id (files.download) and the live API redirects to.
_FILES_DOWNLOAD_RE = re.compile(r"/(?:download/)?v1(?:alpha|beta)?/files/[A-Za-z0-9_-]+:download")
_ERROR_BODY_LIMIT = 2048


class Retryable(Exception):
    """One attempt failed in a way that another attempt may not."""

    def __init__(
        self,
        reason: str,
        *,
        status_code: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status_code = status_code
        self.retry_after = retry_after


@dataclass(frozen=True)
class Job:
    """What one download is about, for its messages and its deadline.

    ``secret`` (the key, hidden by its ``repr``) is redacted from every message
    :meth:`error` makes: a server may echo the key anywhere, a redirect's path included.
    """

    what: str  # "operation models/m/operations/x", or "video"
    operation_name: str
    deadline: float
    secret: Secret | None = None

    def error(self, kind: type[DownloadError], message: str) -> DownloadError:
        return kind(self.scrub(message), operation_name=self.operation_name)

    def scrub(self, text: str) -> str:
        return redact(text, (self.secret,))


class Route:
    """Opens a download on the API origin: checks the URI, follows redirects, keeps the key."""

    def __init__(
        self,
        client: httpx.Client,
        api_key: Secret,
        api_origin: Origin,
        *,
        max_redirects: int,
        api_base_path: str = "",
        credential_header: str = API_KEY_HEADER,
        files_gateway: bool = True,
    ) -> None:
        self._client = client
        self._key = api_key
        self._header = credential_header
        self._origin = api_origin
        self._gateway = files_gateway and api_origin != DEFAULT_ORIGIN
        self._base_path = api_base_path.rstrip("/")
        self._max_redirects = max_redirects

    def start(self, uri: str, job: Job) -> httpx.URL:
        """The URL to fetch ``uri`` from; ``UnsafeURLError`` (nothing sent) if there is none."""
        what = job.what
        url = self._parse(
            uri,
            job,
            lambda shown, why: (
                f"video URI of {what} ({shown}) is not a valid URL: {why}; "
                "refused (nothing was sent)"
            ),
        )
        if url.userinfo:
            raise job.error(
                UnsafeURLError,
                f"video URI of {what} carries user info; refusing to send the key there",
            )
        if "key" in url.params:
            raise job.error(
                UnsafeURLError,
                f"video URI of {what} carries a 'key' query parameter; keys go in headers only",
            )
        routed = url if Origin.of(url) == self._origin else self._through_gateway(url)
        if routed is None:
            raise job.error(
                UnsafeURLError,
                f"video URI of {what} is on {Origin.of(url)}, not the API origin "
                f"{self._origin}; refusing to send the key there (nothing was sent)",
            )
        return routed

    def open(
        self, url: httpx.URL, headers: dict[str, str], job: Job, before_hop: Callable[[], None]
    ) -> httpx.Response:
        """The streamed 200 or 206 answer for ``url``, redirects followed.

        ``before_hop`` runs before every request (the deadline check). A transient status or
        a connection failure raises ``Retryable``; any other status ``DownloadError``.
        """
        send_key = True
        current = url
        for _hop in range(self._max_redirects + 1):
            before_hop()
            # The key goes into the request's headers only here, never into a local of ours.
            request = self._client.build_request(
                "GET",
                current,
                headers={**headers, self._header: self._key.reveal()} if send_key else headers,
            )
            try:
                response = self._client.send(request, stream=True, follow_redirects=False)
            except httpx.TransportError as exc:
                raise Retryable(
                    f"could not reach {self.show(current)} ({type(exc).__name__})"
                ) from exc
            except (httpx.InvalidURL, UnicodeError) as exc:
                # httpx resolves a redirect's Location inside send(), before we see it, and a
                # malformed A-label ("xn--abc-") fails there with an IDNA (Unicode) error.
                raise job.error(
                    UnsafeURLError,
                    f"download of {job.what} was redirected by {self.show(current)} to an "
                    f"invalid URL ({type(exc).__name__}: {self._scrub(exc)}); refused, "
                    "nothing sent there",
                ) from None
            if response.is_redirect:
                location = response.headers.get("location", "")
                response.close()
                current = self._next_hop(current, location, job)
                if Origin.of(current) != self._origin:
                    send_key = False  # and never again, even if a later hop comes back
                continue
            if response.status_code in (200, 206):
                return response
            self._raise_for_status(response, current, job)
        raise job.error(
            DownloadError,
            f"download of {job.what} was redirected more than {self._max_redirects} times",
        )

    def _through_gateway(self, url: httpx.URL) -> httpx.URL | None:
        """A files-download URL on the default origin, rebuilt on the gateway; else None."""
        if not (self._gateway and Origin.of(url) == DEFAULT_ORIGIN):
            return None
        if not _FILES_DOWNLOAD_RE.fullmatch(url.path):
            return None
        query = url.query.decode("ascii")
        routed = httpx.URL(
            f"{self._origin}{self._base_path}{url.path}" + (f"?{query}" if query else "")
        )
        logger.debug("fetching %s through the gateway %s", self.show(url), self._origin)
        return routed

    def _next_hop(self, current: httpx.URL, location: str, job: Job) -> httpx.URL:
        what = job.what
        target = self._parse(
            location,
            job,
            lambda shown, why: (
                f"download of {what} was redirected to an invalid URL ({shown}: {why}); refused"
            ),
            base=current,
        )
        if target.scheme not in ("http", "https"):
            raise job.error(
                UnsafeURLError,
                f"download of {what} was redirected to a {target.scheme!r} URL; refused",
            )
        if current.scheme == "https" and target.scheme != "https":
            raise job.error(
                UnsafeURLError,
                f"download of {what} was redirected from https to {self.show(target)}; "
                "refusing to downgrade",
            )
        if target.userinfo:
            raise job.error(
                UnsafeURLError,
                f"download of {what} was redirected to a URL with user info; refused",
            )
        return self._through_gateway(target) or target

    def _parse(
        self,
        text: str,
        job: Job,
        refusal: Callable[[str, str], str],
        base: httpx.URL | None = None,
    ) -> httpx.URL:
        """``text`` as a URL (resolved against ``base``), or ``UnsafeURLError`` saying
        ``refusal(text as shown, why it is invalid)``."""
        try:
            return parse_url(text, base=base)
        except (httpx.InvalidURL, TypeError) as exc:
            raise job.error(UnsafeURLError, refusal(self.show(text), self._scrub(exc))) from None

    def show(self, url: httpx.URL | str) -> str:
        """``url`` as a message may name it: no query, no user info, no key in its path."""
        return redact(redact_url(url), (self._key,))

    def _scrub(self, error: Exception) -> str:
        return redact(str(error), (self._key,))

    def _raise_for_status(self, response: httpx.Response, url: httpx.URL, job: Job) -> None:
        status = response.status_code
        try:
            snippet = _read_snippet(response, self._key)
        finally:
            response.close()
        reason = f"HTTP {status} from {self.show(url)}"
        if snippet:
            reason += f": {snippet}"
        reason = redact(reason, (self._key,))
        if status in TRANSIENT_STATUS:
            raise Retryable(
                reason,
                status_code=status,
                retry_after=retry_after_seconds(response.headers.get("retry-after")),
            )
        raise DownloadError(
            job.scrub(f"download of {job.what} failed: {reason}"),
            operation_name=job.operation_name,
            status_code=status,
        )


def _read_snippet(response: httpx.Response, secret: Secret) -> str:
    """The start of an error body, for the message; never the whole (it may be large).

    ``secret`` is redacted before the text is cut: a cut through it would leave a piece that
    a later ``replace`` no longer finds.
    """
    collected = b""
    try:
        for chunk in response.iter_bytes():
            collected += chunk
            if len(collected) >= _ERROR_BODY_LIMIT:
                break
    except httpx.HTTPError:
        pass
    text = redact(collected.decode("utf-8", "replace"), (secret,))
    return " ".join(text.split())[:300]
