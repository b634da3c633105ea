"""The emulator's Vertex AI and Cloud Storage routes, byte by byte (no SDK in between)."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from typing import Any

import google_crc32c
import httpx
import pytest
from _kit.keys import make_api_key, make_token
from _kit.vertex import PROJECT, done_inline

from veo3_adapter.emulator import Emulator, Scenario
from veo3_adapter.emulator._vertex import EXPRESS_PROJECT
from veo3_adapter.mp4 import sample_clip

MODEL = "veo-3.1-generate-001"
SCOPE = f"projects/{PROJECT}/locations/us-central1/publishers/google/models/{MODEL}"


class Vertex:
    """Raw calls on the in-process emulator with a token, a key, or nothing."""

    def __init__(self, emulator: Emulator, http: httpx.Client, token: str, key: str) -> None:
        self.emulator = emulator
        self.http = http
        self.token = token
        self.key = key

    def url(self, path: str) -> str:
        return f"{self.emulator.api_base}{path}"

    def auth(self, how: str) -> dict[str, str]:
        if how == "token":
            return {"authorization": f"Bearer {self.token}"}
        if how == "key":
            return {"x-goog-api-key": self.key}
        if how == "wrong-token":
            return {"authorization": f"Bearer {make_token()}"}
        return {}

    def submit(self, how: str = "token", scope: str = SCOPE, **parameters: Any) -> httpx.Response:
        body: dict[str, Any] = {"instances": [{"prompt": "a cat"}]}
        if parameters:
            body["parameters"] = parameters
        return self.http.post(
            self.url(f"/v1beta1/{scope}:predictLongRunning"), json=body, headers=self.auth(how)
        )

    def fetch(self, name: str, how: str = "token", scope: str = SCOPE) -> httpx.Response:
        return self.http.post(
            self.url(f"/v1beta1/{scope}:fetchPredictOperation"),
            json={"operationName": name},
            headers=self.auth(how),
        )

    def finish(self, **parameters: Any) -> dict[str, Any]:
        name = self.submit(**parameters).json()["name"]
        for _ in range(5):
            answer: dict[str, Any] = self.fetch(name).json()
            if answer.get("done"):
                return answer
        raise AssertionError(f"{name} never finished")


@pytest.fixture
def vertex(token: str) -> Iterator[Vertex]:
    key = make_api_key()
    emulator = Emulator(key, token=token, seed=3)
    with httpx.Client(transport=emulator.transport(), follow_redirects=False) as http:
        yield Vertex(emulator, http, token, key)


@pytest.mark.parametrize(
    ("how", "status", "reason"),
    [
        ("token", 200, ""),
        ("key", 200, ""),
        ("none", 401, "CREDENTIALS_MISSING"),
        ("wrong-token", 401, "ACCESS_TOKEN_TYPE_UNSUPPORTED"),
    ],
)
def test_the_regional_route_wants_the_token_or_the_key(
    vertex: Vertex, how: str, status: int, reason: str
) -> None:
    response = vertex.submit(how)
    assert response.status_code == status, response.text
    if status == 200:
        name = response.json()["name"]
        assert name.startswith(f"{SCOPE}/operations/") and len(name.rsplit("/", 1)[1]) == 36
    else:
        assert response.json()["error"]["details"][0]["reason"] == reason


def test_express_mode_wants_the_key_and_names_operations_under_its_project(
    vertex: Vertex,
) -> None:
    express = f"publishers/google/models/{MODEL}"
    assert vertex.submit("token", scope=express).status_code == 401
    name = vertex.submit("key", scope=express).json()["name"]
    assert name.startswith(f"projects/{EXPRESS_PROJECT}/locations/us-central1/{express}/")
    regional = name.split("/operations/")[0]
    assert vertex.fetch(name, "key", scope=regional).status_code == 200


def test_a_poll_must_name_an_operation_of_the_model_in_its_url(vertex: Vertex) -> None:
    name = vertex.submit().json()["name"]
    other = SCOPE.replace(MODEL, "veo-3.1-fast-generate-001")
    assert vertex.fetch(name, scope=other).status_code == 400
    assert vertex.fetch(name.replace(name[-8:], "00000000")).status_code == 404
    assert vertex.fetch(name).json() == done_inline(name, sample_clip())


def test_submit_refusals_in_vertex_shapes(vertex: Vertex) -> None:
    unknown = vertex.submit(scope=SCOPE.replace(MODEL, "veo-9"))
    assert unknown.status_code == 404 and "Publisher Model" in unknown.json()["error"]["message"]
    assert vertex.submit(storageUri="s3://bucket/").status_code == 400
    vertex.emulator.queue(Scenario(submit_status=403))
    denied = vertex.submit().json()["error"]
    assert denied["status"] == "PERMISSION_DENIED"
    assert denied["details"][0]["metadata"]["permission"] == "aiplatform.endpoints.predict"
    vertex.emulator.queue(Scenario(submit_status=429, quota="per_day"))
    quota = vertex.submit().json()["error"]
    assert quota["status"] == "RESOURCE_EXHAUSTED"
    assert "PerDay" in quota["details"][0]["metadata"]["quota_limit"]


def test_the_bucket_object_is_served_with_both_checksums(vertex: Vertex) -> None:
    answer = vertex.finish(storageUri="gs://veo3-emulator/out")
    (video,) = answer["response"]["videos"]
    uri = video["gcsUri"]
    assert uri.startswith("gs://veo3-emulator/out/") and uri.endswith("/sample_0.mp4")
    obj = uri.removeprefix("gs://veo3-emulator/").replace("/", "%2F")
    url = vertex.url(f"/storage/v1/b/veo3-emulator/o/{obj}?alt=media")

    assert vertex.http.get(url).status_code == 401
    assert vertex.http.get(url, headers=vertex.auth("wrong-token")).status_code == 401
    response = vertex.http.get(url, headers=vertex.auth("token"))

    assert response.status_code == 200 and response.content == sample_clip()
    body = response.content
    crc = base64.b64encode(google_crc32c.Checksum(body).digest()).decode()
    md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
    assert response.headers.get_list("x-goog-hash") == [f"crc32c={crc}", f"md5={md5}"]
    metadata = vertex.http.get(url.removesuffix("?alt=media"), headers=vertex.auth("token"))
    assert (metadata.json()["crc32c"], metadata.json()["md5Hash"]) == (crc, md5)
    missing = vertex.http.get(url.replace("%2Fsample_0", "%2Fother"), headers=vertex.auth("token"))
    assert (
        missing.status_code == 404 and missing.json()["error"]["errors"][0]["reason"] == "notFound"
    )
    assert vertex.emulator.key_leaks == []


def test_credentials_out_of_place_are_leaks(vertex: Vertex) -> None:
    vertex.emulator.default = Scenario(cross_origin=True)
    answer = vertex.finish(storageUri="gs://veo3-emulator/out/")
    obj = answer["response"]["videos"][0]["gcsUri"].removeprefix("gs://veo3-emulator/")
    url = vertex.url(f"/storage/v1/b/veo3-emulator/o/{obj.replace('/', '%2F')}?alt=media")

    keyed = vertex.http.get(url, headers={**vertex.auth("token"), **vertex.auth("key")})
    assert keyed.status_code == 400
    redirect = vertex.http.get(url, headers=vertex.auth("token"))
    assert redirect.status_code == 302
    location = redirect.headers["location"]
    assert location.startswith(vertex.emulator.download_base)
    assert vertex.http.get(location).content == sample_clip()  # no credential: fine
    assert vertex.http.get(location, headers=vertex.auth("token")).status_code == 400

    leaks = vertex.emulator.key_leaks
    assert [leak.where for leak in leaks] == ["header x-goog-api-key", "header authorization"]
    assert all(vertex.token not in json.dumps(leak) for leak in leaks)
