"""Building the Vertex adapter: bad settings refused early, credentials loaded late."""

from __future__ import annotations

import re
from typing import Any

import google.auth
import google.auth.exceptions
import httpx
import pytest
import respx
from _kit.adapters import VertexFactory
from _kit.keys import make_api_key
from _kit.vertex import PROJECT, FakeCredentials, op_name, submit_url

import veo3_adapter
from veo3_adapter import (
    BatchStoppingError,
    ConfigurationError,
    JobStatus,
    VertexVeo3Adapter,
    VideoGenerationPort,
)
from veo3_adapter.compose import LOCAL_PROFILE, vertex_adapter


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        ({"api_key": "K" * 39, "project": PROJECT}, "excludes project"),
        ({"api_key": "K" * 39, "credentials": FakeCredentials()}, "excludes project"),
        ({"api_key": "K" * 39, "output_gcs_uri": "gs://my-bucket/out/"}, "inline"),
        ({"api_key": " "}, "empty"),
        ({"project": PROJECT, "output_gcs_uri": "s3://bucket/"}, "gs://"),
        ({"project": PROJECT, "output_gcs_uri": "gs://Bad_Bucket/"}, "bucket"),
        ({"project": PROJECT, "output_gcs_uri": "gs://my-bucket/../x/"}, "prefix"),
        ({"project": "a/b"}, "project id"),
        ({"project": PROJECT, "location": "us-central1/../x"}, "location"),
        ({"project": PROJECT, "model": "veo/../x"}, "model id"),
        ({"project": PROJECT, "base_url": "https://x.example/?key=1"}, "query"),
        ({"project": PROJECT, "storage_base_url": "ftp://storage.example"}, "http(s)"),
        ({"project": PROJECT, "http_client": httpx.Client(follow_redirects=True)}, "redirects"),
    ],
)
def test_unusable_settings_are_refused_at_construction(
    settings: dict[str, Any], problem: str
) -> None:
    with pytest.raises(ConfigurationError, match=re.escape(problem)):
        VertexVeo3Adapter(**settings)


def test_application_default_credentials_load_at_the_first_request(
    monkeypatch: pytest.MonkeyPatch, router: respx.MockRouter, http_client: httpx.Client
) -> None:
    loaded: list[list[str]] = []
    creds = FakeCredentials()

    def default(scopes: list[str]) -> tuple[FakeCredentials, str]:
        loaded.append(scopes)
        return creds, "adc-project"

    monkeypatch.setattr(google.auth, "default", default)
    route = router.post(submit_url().replace(PROJECT, "adc-project")).respond(
        200, json={"name": op_name(project="adc-project")}
    )
    adapter = VertexVeo3Adapter(http_client=http_client, sleep=lambda s: None)
    assert loaded == [] and adapter.describe()["project"] is None

    job = adapter.submit_job("clip", "a cat")

    assert job.status is JobStatus.SUBMITTED and route.called
    assert loaded == [["https://www.googleapis.com/auth/cloud-platform"]]
    assert adapter.describe()["project"] == "adc-project" and creds.refreshes == 1


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        ((FakeCredentials(), None), "no Google Cloud project"),
        (google.auth.exceptions.DefaultCredentialsError("no ADC found"), "DefaultCredentialsError"),
    ],
)
def test_missing_default_credentials_stop_the_batch(
    monkeypatch: pytest.MonkeyPatch,
    router: respx.MockRouter,
    http_client: httpx.Client,
    answer: Any,
    problem: str,
) -> None:
    def default(scopes: list[str]) -> Any:
        if isinstance(answer, Exception):
            raise answer
        return answer

    monkeypatch.setattr(google.auth, "default", default)
    adapter = VertexVeo3Adapter(http_client=http_client, sleep=lambda s: None)
    with pytest.raises(BatchStoppingError, match=problem):
        adapter.submit_job("clip", "a cat")
    assert router.calls.call_count == 0


def test_describe_and_repr_name_the_endpoint_never_a_credential(
    make_vertex: VertexFactory, creds: FakeCredentials
) -> None:
    key = make_api_key()
    express = make_vertex(api_key=key)
    regional = make_vertex(output_gcs_uri="gs://my-bucket/out/")
    assert express.describe() == {
        "backend": "vertex",
        "mode": "express",
        "base_url": "https://aiplatform.googleapis.com",
        "storage_base_url": "https://storage.googleapis.com",
        "model": veo3_adapter.DEFAULT_MODEL,
        "project": None,
        "location": None,
        "output_gcs_uri": None,
    }
    assert regional.describe()["base_url"] == "https://us-central1-aiplatform.googleapis.com"
    assert regional.describe()["project"] == PROJECT
    assert key not in repr(express) and key not in str(express.describe())
    # No attribute of the adapter shows the key (a traceback with locals prints them).
    assert all(key not in repr(value) for value in vars(express).values())
    assert all(key not in repr(value) for value in vars(vars(express)["_auth"]).values())


@pytest.mark.parametrize(
    ("location", "base"),
    [
        ("global", "https://aiplatform.googleapis.com"),
        ("europe-west4", "https://europe-west4-aiplatform.googleapis.com"),
        ("eu", "https://aiplatform.eu.rep.googleapis.com"),
    ],
)
def test_the_default_endpoint_follows_the_location(
    make_vertex: VertexFactory, location: str, base: str
) -> None:
    assert make_vertex(location=location).describe()["base_url"] == base


def test_the_adapter_is_exported_lazily_and_satisfies_the_port(
    make_vertex: VertexFactory,
) -> None:
    assert "VertexVeo3Adapter" in veo3_adapter.__all__
    assert veo3_adapter.VertexVeo3Adapter is VertexVeo3Adapter
    assert isinstance(make_vertex(), VideoGenerationPort)


def test_the_composition_root_builds_it(
    creds: FakeCredentials, http_client: httpx.Client, router: respx.MockRouter
) -> None:
    with vertex_adapter(
        project=PROJECT,
        credentials=creds,
        http_client=http_client,
        profile=LOCAL_PROFILE,
        output_gcs_uri="gs://my-bucket/out/",
    ) as adapter:
        assert adapter.describe()["location"] == "us-central1"
        assert adapter.describe()["output_gcs_uri"] == "gs://my-bucket/out/"
    with vertex_adapter(api_key=make_api_key(), http_client=http_client) as express:
        assert express.describe()["mode"] == "express"
