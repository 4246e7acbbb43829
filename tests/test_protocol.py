"""The host/guest wire format."""

from __future__ import annotations

import struct

import pytest

from sandbox import protocol


def test_decode_request() -> None:
    assert protocol.decode_request(b'["store","get",["k"]]') == ("store", "get", ["k"])


@pytest.mark.parametrize("raw", [b"", b"{", b'{"a":1}', b'["a","b"]', b'[1,"b",[]]',
                                 b'["a","b",{}]'])
def test_malformed_requests_are_refused(raw: bytes) -> None:
    with pytest.raises(protocol.ProtocolError):
        protocol.decode_request(raw)


def test_replies() -> None:
    assert protocol.encode_ok({"a": "é"}) == b'o{"a":"\xc3\xa9"}'
    assert protocol.encode_error("TypeError", "bad").startswith(b'e{"name": "TypeError"')
    with pytest.raises(ValueError):
        protocol.encode_ok(float("nan"))


def test_compile_output_parsing() -> None:
    meta = b'{"kind":"function","export":"default"}'
    out = b"o" + struct.pack("<I", len(meta)) + meta + b"BYTECODE"
    assert protocol.parse_compile_output(out) == ({"kind": "function", "export": "default"},
                                                  b"BYTECODE")


def test_failure_parsing_tolerates_garbage() -> None:
    f = protocol.parse_run_output(b'e"not an object"')
    assert isinstance(f, protocol.Failure) and "malformed" in f.message
    g = protocol.parse_run_output(b'e{"reason":"threw","error":{"name":"X","message":"m"}}')
    assert g == protocol.Failure("threw", "X", "m", None)
