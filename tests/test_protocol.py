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


def test_a_request_attachment_fills_its_argument_slot() -> None:
    raw = b'["files","put",["k",null,{}]]\0' + struct.pack("<I", 1) + b"\x00\xffbytes"
    assert protocol.decode_request(raw) == ("files", "put", ["k", b"\x00\xffbytes", {}])


@pytest.mark.parametrize("tail", [b"\0\x01", b"\0" + struct.pack("<I", 3) + b"x"])
def test_a_bad_attachment_is_refused(tail: bytes) -> None:
    with pytest.raises(protocol.ProtocolError, match="attachment"):
        protocol.decode_request(b'["c","m",[null]]' + tail)


def test_a_binary_reply_carries_its_bytes_after_the_json() -> None:
    assert protocol.encode_ok(protocol.Binary({"n": 1}, b"\0raw")) == b'o{"n":1}\0\0raw'
