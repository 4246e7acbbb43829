"""Shared fixtures: one sandbox engine per test session (it is thread-safe
and every execution gets a fresh instance anyway)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import bindings
from sandbox import Artifact, Engine, RunResult


@pytest.fixture(scope="session")
def engine() -> Iterator[Engine]:
    with Engine(adapters=bindings.ADAPTERS) as e:
        yield e


@pytest.fixture
def run(engine: Engine):  # type: ignore[no-untyped-def]
    """Compiles and runs a snippet: run(source, event=None, **run_kwargs)."""

    def _run(source: str, event: Any = None, filename: str = "workflow.js",
             **kwargs: Any) -> RunResult:
        artifact: Artifact = engine.compile(source, filename)
        return engine.run(artifact, event, **kwargs)

    return _run


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 server on loopback, over real HTTP, for the whole session."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(params=["local", "s3"])
def objects(request: pytest.FixtureRequest, tmp_path: Any) -> bindings.ObjectStore:
    """Each object-store backend in turn: a temporary directory, and a fresh
    bucket on moto's server."""
    if request.param == "local":
        return bindings.LocalObjectStore(tmp_path / "files")
    import uuid

    import boto3

    endpoint = request.getfixturevalue("s3_endpoint")
    bucket = f"test-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                 aws_access_key_id="testing",
                 aws_secret_access_key="testing").create_bucket(Bucket=bucket)
    return bindings.S3ObjectStore(bindings.S3Config(
        bucket=bucket, endpoint_url=endpoint, region="us-east-1", access_key_id="testing",
        secret_access_key="testing", prefix="flowbox/"))
