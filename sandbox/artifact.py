"""Compiled user code: QuickJS bytecode plus what the sandbox learned about
its entry point, signed so that only bytecode Flowbox produced is loaded.

QuickJS does not verify bytecode; loading bytes that did not come from our
own compiler would let a user corrupt the engine. An artifact therefore
carries an HMAC over its contents under the engine's signing key and the id
of the engine build that produced it (bytecode is specific to one QuickJS
build); `verify` refuses anything else.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from .errors import ArtifactError

if TYPE_CHECKING:
    from .engine import Engine

MAGIC = b"FBX1"
Kind = Literal["function", "workflow"]


@dataclass(frozen=True)
class Artifact:
    """Bytecode ready to run. `kind` is "function" for a default-exported
    function and "workflow" for a WorkflowEntrypoint class; `export` is the
    name of the export to run. `modules` holds the bytecode of the script's
    other modules that the main one imports, by module name."""

    bytecode: bytes
    kind: Kind
    export: str
    filename: str
    build_id: str
    signature: bytes
    modules: tuple[tuple[str, bytes], ...] = ()

    @classmethod
    def sign(cls, engine: Engine, bytecode: bytes, kind: Kind, export: str,
             filename: str, modules: tuple[tuple[str, bytes], ...] = ()) -> Artifact:
        sig = _mac(engine.signing_key, engine.build_id, bytecode, kind, export, filename,
                   modules)
        return cls(bytecode, kind, export, filename, engine.build_id, sig, modules)

    def verify(self, engine: Engine) -> None:
        """Raises ArtifactError unless `engine` produced this artifact."""
        if self.build_id != engine.build_id:
            raise ArtifactError("artifact was compiled by another engine build; "
                                "compile the source again")
        expected = _mac(engine.signing_key, self.build_id, self.bytecode, self.kind,
                        self.export, self.filename, self.modules)
        if not hmac.compare_digest(expected, self.signature):
            raise ArtifactError("artifact signature does not match: refusing to load bytecode "
                                "that this installation did not produce")

    def to_bytes(self) -> bytes:
        """Serializes for storage; `from_bytes` reads it back (verify on run)."""
        fields: dict[str, object] = {"kind": self.kind, "export": self.export,
                                     "filename": self.filename, "build_id": self.build_id}
        if self.modules:
            fields["modules"] = [[name, len(code)] for name, code in self.modules]
        header = json.dumps(fields).encode()
        return (MAGIC + struct.pack("<I", len(header)) + header + self.signature
                + b"".join(code for _, code in self.modules) + self.bytecode)

    @classmethod
    def from_bytes(cls, data: bytes) -> Artifact:
        if data[:4] != MAGIC or len(data) < 8:
            raise ArtifactError("not a Flowbox artifact")
        (n,) = struct.unpack_from("<I", data, 4)
        try:
            header = json.loads(data[8:8 + n])
            sig = data[8 + n:8 + n + 32]
            at, modules = 8 + n + 32, []
            for name, size in header.get("modules", ()):
                modules.append((str(name), data[at:at + int(size)]))
                at += int(size)
            return cls(data[at:], header["kind"], header["export"], header["filename"],
                       header["build_id"], sig, tuple(modules))
        except (ValueError, KeyError, TypeError) as exc:
            raise ArtifactError(f"corrupt artifact header: {exc}") from None


def _mac(key: bytes, build_id: str, bytecode: bytes, kind: str, export: str,
         filename: str, modules: tuple[tuple[str, bytes], ...]) -> bytes:
    h = hmac.new(key, digestmod=hashlib.sha256)
    parts = [build_id.encode(), kind.encode(), export.encode(), filename.encode()]
    for name, code in modules:
        parts += [name.encode(), code]
    for part in parts:
        h.update(struct.pack("<I", len(part)) + part)
    h.update(bytecode)
    return h.digest()
