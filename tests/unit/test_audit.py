"""veo3_adapter.audit: finds credentials in every form a recording can hold them, streaming.

Keys, tokens and private keys are made at run time; none is written in this file.
"""

from __future__ import annotations

import base64
import codecs
import gzip
import secrets
import tracemalloc
import urllib.parse
from pathlib import Path

import pytest
import yaml
from _kit.keys import make_token

from veo3_adapter.audit import AuditLimits, Finding, audit_file, audit_paths

KEY = "a Google API key (AIza...)"
TOKEN = "an OAuth access token (ya29.)"
PEM = "a PEM private key"


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def whats(path: Path, limits: AuditLimits | None = None) -> list[str]:
    return [f.what for f in audit_paths([path], *([limits] if limits else []))]


def pem_header(kind: str = "") -> str:
    return f"-----BEGIN {kind}PRIVATE KEY-----"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("uri: https://h/v1beta/files/x:download?alt=media&key=abc\n", ["a key= query parameter"]),
        ("uri: https://h/f?key=abc\n", ["a key= query parameter"]),
        ("uri: https://h/f?alt=media&amp;KEY=abc\n", ["a key= query parameter"]),
        ("uri: https://h/f?key=REDACTED\n", []),
        ("uri: https://h/f?monkey=1\n", []),
        ("uri: https://h/f?access_token=abc\n", ["an access_token= query parameter"]),
        ("uri: https://h/f?a=1&access_token=REDACTED\n", []),
        ("x-goog-api-key: abc123\n", ["an unredacted x-goog-api-key header"]),
        ("  Authorization: Bearer ya29.x\n", ["an unredacted authorization header"]),
        ("    x-goog-api-key:\n    - abc123\n", ["an unredacted x-goog-api-key header"]),
        ("      Set-Cookie:\n      - NID=1\n", ["an unredacted set-cookie header"]),
        ("proxy-authorization: Basic dXNlcg==\n", ["an unredacted proxy-authorization header"]),
        ("x-goog-api-key: REDACTED\n", []),
        ("'x-goog-api-key': 'REDACTED'\n", []),
        ("    x-goog-api-key:\n    - REDACTED\n", []),
        ("x-goog-api-key:\nnext: line\n", []),
        ("x-goog-api-key:", []),
        ("content-type: application/json\n", []),
        ("body: the x-goog-api-key: header is sent\n", []),  # not a header line
    ],
)
def test_findings_in_text(tmp_path: Path, text: str, expected: list[str]) -> None:
    path = write(tmp_path / "c.yaml", text)
    assert whats(path) == expected


def test_generated_key_found_anywhere_even_in_binary(tmp_path: Path, api_key: str) -> None:
    text = write(tmp_path / "a" / "cassette.yaml", f"ok\nbody: 'echo {api_key}'\n")
    binary = write(tmp_path / "a" / "bodies" / "x.bin", b"\x00\xff" + api_key.encode() + b"\x00")
    write(tmp_path / "a" / "clean.yaml", "nothing here\n")
    findings = audit_paths([tmp_path / "a"])
    # Text is named by line, binary data by byte offset.
    assert findings == [Finding(binary, 0, KEY, offset=2), Finding(text, 2, KEY)]
    assert str(findings[0]) == f"{binary}:byte 2: {KEY}"
    assert str(findings[1]) == f"{text}:2: {KEY}"
    assert audit_paths([tmp_path / "a" / "clean.yaml"]) == []


def test_a_missing_path_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="missing"):
        audit_paths([tmp_path / "missing"])


# -- every form of a credential --------------------------------------------------------------


def _escaped(text: str, positions: range) -> str:
    return "".join(f"\\u{ord(c):04x}" if i in positions else c for i, c in enumerate(text))


def _percent(text: str, positions: range, hex_format: str = "02X") -> str:
    return "".join(f"%{ord(c):{hex_format}}" if i in positions else c for i, c in enumerate(text))


@pytest.mark.parametrize(
    ("form", "expected"),
    [
        (lambda k: k, KEY),
        (lambda k: _escaped(k, range(1)), f"{KEY} (\\u-escaped)"),  # \u0041Iza...
        (lambda k: _escaped(k, range(39)), f"{KEY} (\\u-escaped)"),
        (lambda k: _escaped(k, range(3, 9)), f"{KEY} (\\u-escaped)"),
        (lambda k: _escaped(k, range(39)).upper().replace("\\U", "\\u"), f"{KEY} (\\u-escaped)"),
        (lambda k: "".join(f"\\x{ord(c):02x}" for c in k), f"{KEY} (\\x-escaped)"),
        (lambda k: _percent(k, range(39)), f"{KEY} (percent-encoded)"),
        (lambda k: _percent(k, range(0, 39, 2), "02x"), f"{KEY} (percent-encoded)"),
        (lambda k: urllib.parse.quote(f"https://h/?key={k}", safe=""), KEY),
        (lambda k: base64.b64encode(k.encode()).decode(), f"{KEY} (base64-encoded)"),
        (lambda k: base64.b64encode(b"x" + k.encode()).decode(), f"{KEY} (base64-encoded)"),
        (lambda k: base64.b64encode(b"xy" + k.encode()).decode(), f"{KEY} (base64-encoded)"),
        (
            lambda k: base64.urlsafe_b64encode(b'{"k":"' + k.encode() + b'"}').decode(),
            f"{KEY} (base64-encoded)",
        ),
        (lambda k: "Authorization: Basic " + base64.b64encode(f"u:{k}".encode()).decode(), None),
    ],
    ids=lambda v: "" if callable(v) else None,
)
def test_a_key_is_found_in_every_encoding(
    tmp_path: Path, api_key: str, form: object, expected: str | None
) -> None:
    assert callable(form)
    written = form(api_key)
    if expected is None:  # a header line: found, and so is the key inside its value
        path = write(tmp_path / "headers.txt", f"{written}\n")
        assert whats(path) == ["an unredacted authorization header", f"{KEY} (base64-encoded)"]
        return
    path = write(tmp_path / "body.json", f'{{"data": "{written}"}}\n')
    assert whats(path) == [expected]


def test_tokens_and_private_keys_are_found(tmp_path: Path) -> None:
    token = make_token()
    text = (
        f"Bearer {token}\n"
        f'{{"private_key": "{pem_header()}\\nMIIEv\\n-----END PRIVATE KEY-----\\n"}}\n'
        f"{pem_header('RSA ')}\n"
        f"{pem_header('OPENSSH ')}\n"
        f"{pem_header('ENCRYPTED ')}\n"
        f"{base64.b64encode(pem_header('EC ').encode()).decode()}\n"
        f"{_percent(token, range(5))}\n"
        "-----BEGIN PUBLIC KEY-----\n"
        "-----BEGIN CERTIFICATE-----\n"
    )
    path = write(tmp_path / "key.json", text)
    assert [(f.line, f.what) for f in audit_paths([path])] == [
        (1, TOKEN),
        (2, PEM),
        (3, PEM),
        (4, PEM),
        (5, PEM),
        (6, f"{PEM} (base64-encoded)"),
        (7, f"{TOKEN} (percent-encoded)"),
    ]


def test_key_shaped_runs_inside_base64_text_are_chance_not_keys(
    tmp_path: Path, api_key: str
) -> None:
    # A video sent inline as base64 holds something key-shaped every ~50 MB by chance: a
    # key glued into a longer run of letters is not reported, a delimited one is.
    glued = base64.b64encode(secrets.token_bytes(3000)).decode()
    path = write(tmp_path / "video.json", f'{{"b64": "{glued[:99]}{api_key}{glued[99:]}"}}\n')
    assert whats(path) == []
    write(path, f'{{"b64": "{glued}", "k": "{api_key}"}}\n')
    assert whats(path) == [KEY]


# -- encoded files and scalars ---------------------------------------------------------------


def _vcrpy_cassette(body: bytes) -> str:
    """A cassette as vcrpy writes a response body that is not UTF-8: a ``!!binary`` scalar."""
    interactions = [
        {
            "request": {"body": "", "method": "GET", "uri": "https://h/v"},
            "response": {"body": {"string": body}, "headers": {"a": ["b"]}},
        }
        for _ in range(2)
    ]
    return yaml.dump({"interactions": interactions, "version": 1})


def test_binary_yaml_bodies_are_decoded(tmp_path: Path, api_key: str) -> None:
    plain = _vcrpy_cassette(b"\xff\x00" + api_key.encode() + b"\x00" * 200)
    path = write(tmp_path / "c.yaml", plain)
    tag_lines = [n for n, line in enumerate(plain.splitlines(), 1) if "!!binary" in line]
    assert len(tag_lines) == 2 and api_key not in plain
    expected = f"{KEY} in a !!binary body (decoded byte 2)"
    found = [(f.line, f.what) for f in audit_paths([path])]
    # Reported on the tag's line; the base64 text below it may be found as such too (when
    # the key's characters are not split across two of its lines).
    assert [f for f in found if "!!binary" in f[1]] == [(n, expected) for n in tag_lines]
    assert {what for _line, what in found} <= {expected, f"{KEY} (base64-encoded)"}

    inline = write(
        tmp_path / "i.yaml", f"a: !!binary {base64.b64encode(api_key.encode()).decode()}\n"
    )
    # Decoded, the key is found; the base64 text itself is a candidate found too.
    assert whats(inline) == [
        f"{KEY} in a !!binary body (decoded line 1)",
        f"{KEY} (base64-encoded)",
    ]


def test_gzip_and_utf16_inside_binary_yaml_bodies(tmp_path: Path, api_key: str) -> None:
    zipped = gzip.compress(b'{\n"echo": "' + api_key.encode() + b'"}')
    utf16 = codecs.BOM_UTF16_LE + f"hello\n{api_key}".encode("utf-16-le")
    path = write(tmp_path / "c.yaml", _vcrpy_cassette(zipped) + _vcrpy_cassette(utf16))
    assert set(whats(path)) == {
        f"{KEY} in gzip-compressed data in a !!binary body (decoded line 2)",
        f"{KEY} in UTF-16 text in a !!binary body (decoded line 2)",
    }


def test_gzip_body_files_are_decompressed_member_by_member(tmp_path: Path, api_key: str) -> None:
    data = gzip.compress(b"one\ntwo " + api_key.encode() + b"\n") + gzip.compress(
        b"three " + api_key.encode()
    )
    path = write(tmp_path / "bodies" / "sha256-x.json", data)
    assert [str(f) for f in audit_paths([path])] == [
        f"{path}:2: {KEY} in gzip-compressed data",
        f"{path}:3: {KEY} in gzip-compressed data",
    ]
    binary = write(tmp_path / "b.bin", gzip.compress(b"\x00" * 10 + api_key.encode() + b"\x00"))
    assert [str(f) for f in audit_paths([binary])] == [
        f"{binary}:byte 10: {KEY} in gzip-compressed data"
    ]


def test_gzip_is_decompressed_only_up_to_the_limit(tmp_path: Path, api_key: str) -> None:
    bomb = write(tmp_path / "bomb.gz", gzip.compress(b"\x00" * 500_000 + api_key.encode()))
    limits = AuditLimits(chunk=4096, overlap=1024, max_inflated=100_000)
    [finding] = audit_paths([bomb], limits)
    assert finding.what == (
        "gzip-compressed data larger than 100000 bytes decompressed: the rest was not searched"
    )
    assert whats(bomb) == [f"{KEY} in gzip-compressed data"]
    write(bomb, gzip.compress(b"clean") + b"not gzip at all")  # corrupt tail: no crash
    assert whats(bomb) == []


@pytest.mark.parametrize(
    "encode",
    [
        lambda t: codecs.BOM_UTF16_LE + t.encode("utf-16-le"),
        lambda t: codecs.BOM_UTF16_BE + t.encode("utf-16-be"),
        lambda t: t.encode("utf-16-le"),  # no byte order mark
        lambda t: t.encode("utf-16-be"),
    ],
    ids=["le-bom", "be-bom", "le", "be"],
)
def test_utf16_files_are_decoded(tmp_path: Path, api_key: str, encode: object) -> None:
    assert callable(encode)
    path = write(tmp_path / "b.json", encode(f'{{\n"a": 1,\n"k": "{api_key}"}}\n'))
    assert [str(f) for f in audit_paths([path])] == [f"{path}:3: {KEY} in UTF-16 text"]


# -- streaming -------------------------------------------------------------------------------


@pytest.mark.parametrize("binary", [False, True], ids=["text", "binary"])
def test_every_finding_is_found_once_wherever_chunks_are_cut(
    tmp_path: Path, api_key: str, binary: bool
) -> None:
    """Chunks of 64 bytes overlapping by 256: every key, whatever its place relative to a
    chunk's edge, is found exactly once, at the right line or offset."""
    limits = AuditLimits(chunk=64, overlap=256)
    filler = b"\x00" if binary else b"."
    data = b""
    expected: list[tuple[int, int | None]] = []
    for gap in range(0, 140, 7):
        data += filler * gap + (b"" if binary else b"\n")
        line = data.count(b"\n") + 1
        expected.append((0, len(data)) if binary else (line, None))
        data += api_key.encode() + (filler if binary else b"\n")
    path = write(tmp_path / "f.bin", data)
    assert [(f.line, f.offset) for f in audit_file(path, limits)] == expected


def test_a_large_file_is_searched_in_flat_memory(tmp_path: Path, api_key: str) -> None:
    chunk = base64.b64encode(secrets.token_bytes(3 << 20))
    path = tmp_path / "sha256-big.json"
    with path.open("wb") as out:
        out.write(b'{"bytesBase64Encoded": "')
        for _ in range(6):  # 24 MiB of base64 on one line
            out.write(chunk)
        out.write(b'", "echo": "' + api_key.encode() + b'"}\n')
    tracemalloc.start()
    try:
        findings = audit_paths([path])
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [(f.line, f.what) for f in findings] == [(1, KEY)]
    assert peak < 12 * 1024 * 1024, peak  # a few chunks, not the 24 MiB file


def test_long_lines_and_lines_cut_by_chunks_keep_yaml_tags(tmp_path: Path, api_key: str) -> None:
    limits = AuditLimits(chunk=64, overlap=256)
    encoded = base64.encodebytes(b"\x00" * 5000 + api_key.encode()).decode()
    block = "".join(f"        {line}\n" for line in encoded.splitlines())
    text = "x" * 9000 + "\n" + "      string: !!binary |\n" + block + "    next: 1\n"
    path = write(tmp_path / "c.yaml", text)
    assert [(f.line, f.what) for f in audit_file(path, limits)] == [
        (2, f"{KEY} in a !!binary body (decoded byte 5000)")
    ]


# -- bearer tokens and Google Cloud names (Vertex AI recordings) -------------------------------

BEARER = "a bearer token (Bearer ...)"
PROJECT = "a Google Cloud project id (recordings keep veo3-project) in a recorded URL"
BUCKET = "a Cloud Storage bucket name (recordings keep veo3-bucket) in a recorded URL"


def test_bearer_tokens_are_found_anywhere(tmp_path: Path) -> None:
    opaque = secrets.token_urlsafe(32) + "1"
    text = (
        f'{{"headers": {{"Authorization": "Bearer {opaque}"}}}}\n'  # not a header line
        f"note: Bearer {make_token()}\n"  # an access token: found by its own shape
        "note: Bearer REDACTED\n"
        "note: Bearer tokens are sent to the storage origin only\n"
    )
    path = write(tmp_path / "c.yaml", text)
    assert [(f.line, f.what) for f in audit_paths([path])] == [(1, BEARER), (2, TOKEN)]


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        (
            "https://us-central1-aiplatform.googleapis.com/v1beta1/projects/veo3-project/"
            "locations/us-central1/publishers/google/models/m:predictLongRunning",
            [],
        ),
        (
            "https://us-central1-aiplatform.googleapis.com/v1beta1/projects/acme-prod-42/"
            "locations/us-central1/publishers/google/models/m:predictLongRunning",
            [PROJECT],
        ),
        (
            "https://us-central1-aiplatform.googleapis.com/v1beta1/projects/123456789012/"
            "locations/us-central1/publishers/google/models/m:fetchPredictOperation",
            [PROJECT],
        ),
        ("https://storage.googleapis.com/storage/v1/b/veo3-bucket/o/a%2Fb.mp4?alt=media", []),
        (
            "https://storage.googleapis.com/storage/v1/b/acme-renders/o/a%2Fb.mp4?alt=media",
            [BUCKET],
        ),
        ("https://generativelanguage.googleapis.com/v1beta/models/m:predictLongRunning", []),
    ],
)
def test_recorded_urls_name_no_real_project_or_bucket(
    tmp_path: Path, uri: str, expected: list[str]
) -> None:
    path = write(tmp_path / "c.yaml", f"- request:\n    method: POST\n    uri: {uri}\n")
    assert whats(path) == expected


def test_project_names_outside_recorded_urls_are_not_findings(tmp_path: Path) -> None:
    # jobs.json and logs of a Vertex AI run name its project, and rightly so.
    jobs = '{"operation_name": "projects/acme-prod-42/locations/l/x/operations/1",\n'
    jobs += ' "video_uri": "gs://acme-renders/r/1/sample_0.mp4"}\n'
    assert whats(write(tmp_path / "jobs.json", jobs)) == []
