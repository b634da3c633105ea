"""The clip download checks what it wrote: X-Goog-Hash, and a resume that never splices files.

The checksums here are computed with google-crc32c and hashlib directly, not with the code
under test, so a bug in the downloader's hashing cannot agree with itself.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import google_crc32c
import httpx
import pytest
import respx
from _kit.download import DownloaderFactory, assert_nothing_left
from _kit.emulator import emulator_wire
from _kit.runs import orchestrator_on
from _kit.sdk import run_gemini

from veo3_adapter import (
    DownloadError,
    ErrorCode,
    GeminiVeo3Adapter,
    IntegrityError,
    JobStatus,
    RetryPolicy,
)
from veo3_adapter.download import ClipDownloader
from veo3_adapter.emulator import Emulator, Scenario
from veo3_adapter.mp4 import iter_mp4

if TYPE_CHECKING:
    from _kit.clock import FakeClock, SleepRecorder
    from _kit.wire import Wire

FIRST = b"".join(iter_mp4(200_000, seed="first"))
SECOND = b"".join(iter_mp4(230_000, seed="second"))  # another file: another size and bytes
CUT = 120_000


def crc32c(data: bytes) -> str:
    return base64.b64encode(google_crc32c.Checksum(data).digest()).decode()


def md5(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()


class BrokenStream(httpx.SyncByteStream):
    """Sends ``data[:cut]`` and then loses the connection."""

    def __init__(self, data: bytes, cut: int) -> None:
        self.data = data
        self.cut = cut

    def __iter__(self) -> Iterator[bytes]:
        yield self.data[: self.cut]
        raise httpx.ReadError("connection reset by peer")


def answer(
    body: bytes,
    *,
    cut: int | None = None,
    hashes: Sequence[str] = (),
    ranges: bool = False,
    etag: str | None = None,
    length: int | None = None,
) -> httpx.Response:
    headers: list[tuple[str, str]] = [
        ("content-length", str(len(body) if length is None else length))
    ]
    headers += [("x-goog-hash", value) for value in hashes]
    if ranges:
        headers.append(("accept-ranges", "bytes"))
    if etag is not None:
        headers.append(("etag", etag))
    stream = BrokenStream(body, cut) if cut is not None else httpx.ByteStream(body)
    return httpx.Response(200, headers=headers, stream=stream)


def ranged(
    body: bytes, start: int, *, total: str | None = None, hashes: Sequence[str] = (), **extra: str
) -> httpx.Response:
    headers = [
        ("content-range", f"bytes {start}-{len(body) - 1}/{total or len(body)}"),
        ("content-length", str(len(body) - start)),
        *(("x-goog-hash", value) for value in hashes),
        *extra.items(),
    ]
    return httpx.Response(206, headers=headers, content=body[start:])


@pytest.fixture
def downloader(make_downloader: DownloaderFactory) -> ClipDownloader:
    return make_downloader()


OP = "models/veo-3.1-generate-001/operations/2ndklfg582ib"


# -- X-Goog-Hash -------------------------------------------------------------------------------

GOOD_HASHES = {
    "crc32c only": [f"crc32c={crc32c(FIRST)}"],
    "crc32c and md5, comma-separated": [f"crc32c={crc32c(FIRST)},md5={md5(FIRST)}"],
    "two headers": [f"crc32c={crc32c(FIRST)}", f"md5={md5(FIRST)}"],
    "md5 only, spaces": [f" md5 = {md5(FIRST)} "],
    "unknown algorithm ignored": [f"sha1=AAAA,crc32c={crc32c(FIRST)}"],
    "no header": [],
}


@pytest.mark.parametrize("hashes", GOOD_HASHES.values(), ids=GOOD_HASHES.keys())
def test_matching_checksums_pass(
    router: respx.MockRouter,
    wire: Wire,
    downloader: ClipDownloader,
    dest: Path,
    hashes: list[str],
) -> None:
    router.get(wire.file_url()).mock(return_value=answer(FIRST, hashes=hashes))
    assert downloader.download(wire.file_uri(), dest, operation_name=OP) == len(FIRST)
    assert dest.read_bytes() == FIRST


BAD_HASHES = {
    "crc32c": ([f"crc32c={crc32c(SECOND)}"], "crc32c", crc32c(SECOND)),
    "md5, crc32c right": ([f"crc32c={crc32c(FIRST)},md5={md5(SECOND)}"], "md5", md5(SECOND)),
    "two crc32c values": ([f"crc32c={crc32c(FIRST)}", f"crc32c={crc32c(SECOND)}"], "crc32c", ""),
}


@pytest.mark.parametrize("existing", [None, b"\0\0\0\x08ftypGOOD-OLD-CLIP"], ids=["new", "old"])
@pytest.mark.parametrize(("hashes", "algorithm", "wanted"), BAD_HASHES.values(), ids=BAD_HASHES)
def test_a_checksum_mismatch_fails_and_keeps_nothing(
    router: respx.MockRouter,
    wire: Wire,
    downloader: ClipDownloader,
    dest: Path,
    noop_sleep: SleepRecorder,
    hashes: list[str],
    algorithm: str,
    wanted: str,
    existing: bytes | None,
) -> None:
    if existing is not None:
        dest.parent.mkdir(parents=True)
        dest.write_bytes(existing)
    route = router.get(wire.file_url()).mock(return_value=answer(FIRST, hashes=hashes))
    with pytest.raises(IntegrityError) as info:
        downloader.download(wire.file_uri(), dest, operation_name=OP)
    error = info.value
    assert isinstance(error, DownloadError)
    assert error.operation_name == OP
    message = str(error)
    assert OP in message and algorithm in message
    actual = crc32c(FIRST) if algorithm == "crc32c" else md5(FIRST)
    assert f"got {actual}" in message
    assert wanted in message
    assert [m[0] for m in error.mismatches] == [algorithm]
    assert route.call_count == 1  # a mismatch is final, not retried
    assert noop_sleep.delays == []
    if existing is None:
        assert_nothing_left(dest)
    else:
        assert [p.name for p in dest.parent.iterdir()] == ["a.mp4"]
        assert dest.read_bytes() == existing


def test_a_malformed_hash_value_is_ignored_with_a_warning(
    router: respx.MockRouter,
    wire: Wire,
    downloader: ClipDownloader,
    dest: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    hashes = ["crc32c=not*base64", f"md5={md5(FIRST)[:8]}"]
    router.get(wire.file_url()).mock(return_value=answer(FIRST, hashes=hashes))
    downloader.download(wire.file_uri(), dest)
    assert dest.read_bytes() == FIRST
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warned == [
        "ignoring a malformed X-Goog-Hash crc32c value",
        "ignoring a malformed X-Goog-Hash md5 value",
    ]


def test_the_crc32c_implementation_is_noted_at_debug(
    router: respx.MockRouter,
    wire: Wire,
    downloader: ClipDownloader,
    dest: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    router.get(wire.file_url()).mock(return_value=answer(FIRST, hashes=[f"crc32c={crc32c(FIRST)}"]))
    with caplog.at_level(logging.DEBUG, logger="veo3_adapter.download"):
        downloader.download(wire.file_uri(), dest)
    implementation = google_crc32c.implementation
    assert f"crc32c by google-crc32c ({implementation} implementation)" in caplog.messages
    assert "download of video: crc32c verified" in caplog.messages


_FALLBACK = """
import logging, sys
sys.modules["google_crc32c.cext"] = None  # as if the C extension had not been built
logging.basicConfig(level=logging.DEBUG, stream=sys.stderr, format="%(message)s")
import io
from veo3_adapter._checksums import Digests, crc32c_implementation
digests = Digests()
digests.want(["crc32c"], io.BytesIO(), 0)
digests.update(b"123456789")
check_value = {"crc32c": frozenset([bytes.fromhex("e3069283")])}
print(crc32c_implementation(), digests.mismatches(check_value))
"""


def test_without_the_c_extension_the_pure_python_crc32c_is_used_quietly() -> None:
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", _FALLBACK],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["python", "[]"]  # the RFC 3720 check value matches
    assert "pure-Python implementation" in done.stderr
    assert "Warning" not in done.stderr


# -- resume carries the checksum on ------------------------------------------------------------


def _resumable(hashes: Sequence[str] = ()) -> httpx.Response:
    return answer(FIRST, cut=CUT, hashes=hashes, ranges=True, etag='"v1"')


def _read_back(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [m for m in caplog.messages if m.startswith("hashing the ")]


@pytest.mark.parametrize(
    ("first_hashes", "range_hashes", "read_back"),
    [
        ([f"crc32c={crc32c(FIRST)}"], [f"crc32c={crc32c(FIRST)}"], False),
        ([], [f"crc32c={crc32c(FIRST)},md5={md5(FIRST)}"], True),
        ([f"crc32c={crc32c(FIRST)}"], [], False),
    ],
    ids=["both answers", "only the 206: first part hashed from disk once", "only the 200"],
)
def test_a_resumed_download_is_verified_over_the_whole_file(
    router: respx.MockRouter,
    wire: Wire,
    downloader: ClipDownloader,
    dest: Path,
    caplog: pytest.LogCaptureFixture,
    first_hashes: list[str],
    range_hashes: list[str],
    read_back: bool,
) -> None:
    route = router.get(wire.file_url()).mock(
        side_effect=[_resumable(first_hashes), ranged(FIRST, CUT, hashes=range_hashes)]
    )
    with caplog.at_level(logging.DEBUG, logger="veo3_adapter.download"):
        downloader.download(wire.file_uri(), dest)
    assert dest.read_bytes() == FIRST
    assert route.calls[1].request.headers["range"] == f"bytes={CUT}-"
    assert _read_back(caplog) == (
        [f"hashing the {CUT} bytes already written for ['crc32c', 'md5']"] if read_back else []
    )
    assert any(m.endswith("verified") for m in caplog.messages)


@pytest.mark.parametrize(
    ("first_hashes", "range_hashes"),
    [
        ([], [f"crc32c={crc32c(SECOND)}"]),
        ([f"crc32c={crc32c(SECOND)}"], []),
    ],
    ids=["announced by the 206", "announced by the 200 only"],
)
def test_a_resumed_download_with_a_wrong_checksum_fails(
    router: respx.MockRouter,
    wire: Wire,
    downloader: ClipDownloader,
    dest: Path,
    first_hashes: list[str],
    range_hashes: list[str],
) -> None:
    router.get(wire.file_url()).mock(
        side_effect=[_resumable(first_hashes), ranged(FIRST, CUT, hashes=range_hashes)]
    )
    with pytest.raises(IntegrityError, match=f"expected {crc32c(SECOND)}, got {crc32c(FIRST)}"):
        downloader.download(wire.file_uri(), dest)
    assert_nothing_left(dest)


# -- never splice two files ---------------------------------------------------------------------
# The first answer is FIRST, broken off; every later answer is SECOND. Whatever happens, the
# file at dest is SECOND, byte for byte, or there is no file at all.


def _after_break(
    router: respx.MockRouter, wire: Wire, first: httpx.Response, *later: httpx.Response
) -> respx.Route:
    return router.get(wire.file_url()).mock(side_effect=[first, *later])


SPLICE_CASES: dict[str, tuple[dict[str, Any], list[httpx.Response]]] = {
    "no Accept-Ranges": ({"etag": '"v1"'}, [answer(SECOND)]),
    "no validator": ({"ranges": True}, [answer(SECOND)]),
    "weak ETag only": ({"ranges": True, "etag": 'W/"v1"'}, [answer(SECOND)]),
    "no Content-Length": ({"ranges": True, "etag": '"v1"', "length": -1}, [answer(SECOND)]),
    "206 for a file of another size": (
        {"ranges": True, "etag": '"v1"'},
        [ranged(SECOND, CUT), answer(SECOND)],
    ),
    "206 with an unknown size": (
        {"ranges": True, "etag": '"v1"'},
        [ranged(SECOND, CUT, total="*"), answer(SECOND)],
    ),
    "206 with another ETag": (
        {"ranges": True, "etag": '"v1"'},
        [ranged(FIRST[:CUT] + SECOND[CUT : len(FIRST)], CUT, etag='"v2"'), answer(SECOND)],
    ),
    "206 with another X-Goog-Hash": (
        {"ranges": True, "etag": '"v1"', "hashes": [f"crc32c={crc32c(FIRST)}"]},
        [
            ranged(FIRST, CUT, hashes=[f"crc32c={crc32c(SECOND)}"]),
            answer(SECOND, hashes=[f"crc32c={crc32c(SECOND)}"]),
        ],
    ),
}


@pytest.mark.parametrize(("first", "later"), SPLICE_CASES.values(), ids=SPLICE_CASES.keys())
def test_a_broken_download_never_splices_two_files(
    router: respx.MockRouter,
    wire: Wire,
    downloader: ClipDownloader,
    dest: Path,
    first: dict[str, Any],
    later: list[httpx.Response],
) -> None:
    options = dict(first)
    length = options.pop("length", None)
    broken = answer(FIRST, cut=CUT, **options)
    if length == -1:
        del broken.headers["content-length"]
    route = _after_break(router, wire, broken, *later)
    assert downloader.download(wire.file_uri(), dest) == len(SECOND)
    assert dest.read_bytes() == SECOND
    assert route.call_count == 1 + len(later)
    assert "range" not in route.calls[-1].request.headers  # the file started over from byte 0
    if len(later) == 1:
        assert "range" not in route.calls[1].request.headers


def test_a_changed_file_with_no_attempt_left_fails_cleanly(
    router: respx.MockRouter,
    wire: Wire,
    make_downloader: DownloaderFactory,
    dest: Path,
) -> None:
    downloader = make_downloader(retry=RetryPolicy(attempts=2, jitter=0.0))
    _after_break(router, wire, _resumable(), ranged(SECOND, CUT))
    with pytest.raises(DownloadError, match=r"the file changed between answers \(its size"):
        downloader.download(wire.file_uri(), dest)
    assert_nothing_left(dest)


# -- end to end: the orchestrator, the SDK, the emulator ----------------------------------------


class TamperedHash(httpx.BaseTransport):
    """The emulator, with every media answer's X-Goog-Hash replaced by ``value``."""

    def __init__(self, inner: httpx.BaseTransport, value: str) -> None:
        self.inner = inner
        self.value = value

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if "x-goog-hash" in response.headers:
            response.headers["x-goog-hash"] = self.value
        return response


def test_a_checksum_mismatch_is_download_failed_with_no_clip(
    api_key: str, noop_sleep: SleepRecorder, fake_clock: FakeClock, tmp_path: Path
) -> None:
    emulator = Emulator(api_key, default=Scenario(video_size=300_000), sleep=noop_sleep)
    wrong = f"crc32c={crc32c(b'another file')}"
    transport = TamperedHash(emulator.transport(), wrong)
    with httpx.Client(transport=transport, follow_redirects=False) as client:
        adapter = GeminiVeo3Adapter(
            api_key, base_url=emulator.api_base, http_client=client, sleep=noop_sleep
        )
        orchestrator = orchestrator_on(adapter, tmp_path, fake_clock)
        submit = emulator_wire(emulator, api_key)
        (job,) = run_gemini(orchestrator, {"a": "a lighthouse at dusk"}, submit)
    assert (job.status, job.error_message) == (JobStatus.FAILED, ErrorCode.DOWNLOAD_FAILED.value)
    assert "integrity check" in job.error_detail
    assert f"expected {crc32c(b'another file')}" in job.error_detail
    assert job.operation_name in job.error_detail
    assert not orchestrator.clip_path("a").exists()
    assert sorted(p.name for p in (tmp_path / "veo3").iterdir()) == [".veo3.lock", "jobs.json"]
    assert [r.status for r in emulator.requests if r.path.endswith(":download")] == [302, 200]


def test_an_unasked_206_holding_the_whole_file_is_the_file(
    router: respx.MockRouter, wire: Wire, downloader: ClipDownloader, dest: Path
) -> None:
    route = router.get(wire.file_url()).mock(
        return_value=ranged(FIRST, 0, hashes=[f"crc32c={crc32c(FIRST)}"])
    )
    assert downloader.download(wire.file_uri(), dest) == len(FIRST)
    assert dest.read_bytes() == FIRST
    assert route.call_count == 1


def test_an_unasked_partial_206_is_not_taken_for_the_file(
    router: respx.MockRouter, wire: Wire, downloader: ClipDownloader, dest: Path
) -> None:
    part = httpx.Response(
        206, headers={"content-range": f"bytes 0-999/{len(FIRST)}"}, content=FIRST[:1000]
    )
    route = router.get(wire.file_url()).mock(side_effect=[part, answer(SECOND)])
    downloader.download(wire.file_uri(), dest)
    assert dest.read_bytes() == SECOND
    assert ["range" in c.request.headers for c in route.calls] == [False, False]
