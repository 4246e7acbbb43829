"""Rewriting a wasm module so that its initial memory is a given image.

Used to start executions from a snapshot (snapshot.py) at no per-execution
cost: the image becomes the module's data segments, which wasmtime maps
copy-on-write into each new instance. Pure functions over bytes; only the
memory section (initial size) and the data section are replaced.
"""

from __future__ import annotations

WASM_PAGE = 65536
SEGMENT_ALIGN = 4096
_MEMORY, _DATA, _DATA_COUNT = 5, 11, 12


def read_leb(buf: bytes, pos: int) -> tuple[int, int]:
    """Reads an unsigned LEB128 at `pos`; returns (value, next position)."""
    result = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return result, pos


def write_leb(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def sections(wasm: bytes) -> list[tuple[int, bytes]]:
    """Splits a module into (section id, payload) pairs."""
    if wasm[:8] != b"\0asm\x01\0\0\0":
        raise ValueError("not a wasm module (version 1)")
    out = []
    pos = 8
    while pos < len(wasm):
        sid = wasm[pos]
        size, start = read_leb(wasm, pos + 1)
        out.append((sid, wasm[start:start + size]))
        pos = start + size
    return out


def _memory_section(payload: bytes, pages: int) -> bytes:
    count, pos = read_leb(payload, 0)
    flags, pos = read_leb(payload, pos)
    if count != 1 or flags not in (0, 1):
        raise ValueError("expected exactly one 32-bit linear memory")
    _, pos = read_leb(payload, pos)
    tail = payload[pos:]  # the maximum, when flags == 1
    return write_leb(1) + write_leb(flags) + write_leb(pages) + tail


def _data_section(image: bytes) -> tuple[bytes, int]:
    """Active segments for the non-zero aligned blocks of `image`."""
    segments = []
    start = None
    for off in range(0, len(image) + SEGMENT_ALIGN, SEGMENT_ALIGN):
        block = image[off:off + SEGMENT_ALIGN]
        zero = off >= len(image) or not any(block)
        if not zero and start is None:
            start = off
        elif zero and start is not None:
            data = image[start:off]
            # flags 0: active, memory 0, offset = (i32.const start) end
            segments.append(b"\x00\x41" + _sleb(start) + b"\x0b" + write_leb(len(data)) + data)
            start = None
    return write_leb(len(segments)) + b"".join(segments), len(segments)


def _sleb(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if (value == 0 and not byte & 0x40) or (value == -1 and byte & 0x40):
            out.append(byte)
            return bytes(out)
        out.append(byte | 0x80)


def with_memory_image(wasm: bytes, image: bytes) -> bytes:
    """Returns `wasm` whose memory starts as `image` (a whole number of
    wasm pages)."""
    if len(image) % WASM_PAGE:
        raise ValueError("memory image must be a whole number of wasm pages")
    data, nsegments = _data_section(image)
    out = bytearray(b"\0asm\x01\0\0\0")
    seen_data = False
    for sid, payload in sections(wasm):
        if sid == _MEMORY:
            payload = _memory_section(payload, len(image) // WASM_PAGE)
        elif sid == _DATA_COUNT:
            payload = write_leb(nsegments)
        elif sid == _DATA:
            payload, seen_data = data, True
        out += bytes([sid]) + write_leb(len(payload)) + payload
    if not seen_data:
        raise ValueError("module has no data section to replace")
    return bytes(out)
