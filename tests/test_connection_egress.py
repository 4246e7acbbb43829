"""Storage connections point at endpoints a tenant chooses: every request
made to one passes the egress policy, as user code's fetch does. A private,
loopback, link-local or unspecified endpoint is refused before anything is
sent (a real listener on loopback counts what reaches it), unless the
operator allows it; verify-token and the files of a connection alike."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from bindings import Egress, StorageError
from bindings.s3files import S3ObjectStore
from server.platform.connections import Connection, s3_config
from tests.live import Live, live_server


class Listener:
    """A TCP listener on loopback that counts the connections it gets."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            conn.sendall(b"SSH-2.0-OpenSSH_9.6 internal banner\r\n")
            conn.close()

    def close(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    target = Listener()
    yield target
    target.close()


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    with live_server(tmp_path) as server:  # the default policy: public addresses only
        yield server


def creds(endpoint: str) -> dict[str, str]:
    return {"bucket": "data-bucket", "accessKeyId": "AKIA0000", "secretAccessKey": "s" * 20,
            "endpoint": endpoint}


@pytest.mark.parametrize("host", ["127.0.0.1", "2130706433", "localhost", "[::1]"])
def test_verify_token_does_not_reach_a_loopback_endpoint(live: Live, listener: Listener,
                                                         host: str) -> None:
    session = live.client(live.session("acme"))
    r = session.post("/api/connections/verify-token", json={
        "provider": "s3", "credentials": creds(f"http://{host}:{listener.port}")})
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["valid"] is False and "not allowed by the egress policy" in answer["error"]
    assert "OpenSSH" not in r.text
    assert listener.accepted == 0


@pytest.mark.parametrize("endpoint", ["http://10.0.0.1:9000", "http://169.254.169.254",
                                      "http://0.0.0.0:9000", "http://[fd00::1]:9000",
                                      "http://100.64.0.1"])
def test_verify_token_refuses_private_and_metadata_addresses(live: Live, endpoint: str) -> None:
    session = live.client(live.session("acme"))
    answer = session.post("/api/connections/verify-token", json={
        "provider": "s3", "credentials": creds(endpoint)}).json()
    assert answer["valid"] is False and "not allowed by the egress policy" in answer["error"]


def test_the_files_of_a_connection_do_not_reach_a_refused_endpoint(listener: Listener) -> None:
    connection = Connection("c1", "acme", "mine", "s3", creds(f"http://127.0.0.1:{listener.port}"),
                            0.0, 0.0)
    store = S3ObjectStore(s3_config(connection, Egress()))
    for call in (lambda: store.get("k"), lambda: store.put("k", b"body", {}, {}),
                 lambda: store.head("k")):
        with pytest.raises(StorageError, match="not allowed by the egress policy"):
            call()
    assert listener.accepted == 0
    # Allowed by the operator (an internal MinIO): requests go out.
    allowed = S3ObjectStore(s3_config(connection, Egress.from_flags("public", ["127.0.0.1"])))
    with pytest.raises(StorageError) as info:
        allowed.head("k")
    assert "OpenSSH" not in str(info.value)
    assert listener.accepted >= 1
