"""What the parts of a Worker script upload become: the main module, and
the script's other modules as JavaScript the sandbox can import.

Cloudflare tells a module's kind by its part's content type, as wrangler
sends it: JavaScript (ES modules), text (`export default` a string), JSON
(`export default` the value), data (`export default` an ArrayBuffer).
Source maps are accepted and ignored. WebAssembly and Python modules are
refused with a message that says so. These are plain functions; the route
(server/routes/cf_scripts.py) reads the multipart body.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

from ..errors import InvalidRequest

JS_TYPES = frozenset((
    "application/javascript+module", "text/javascript+module", "application/javascript",
    "text/javascript", "application/typescript", "application/x-typescript",
    "text/typescript"))
JS_SUFFIXES = (".js", ".mjs", ".cjs", ".ts", ".mts", ".cts")
IGNORED_TYPES = frozenset(("application/source-map",))
REFUSED_TYPES = {
    "application/wasm": "WebAssembly modules are not supported",
    "text/x-python": "Python Workers are not supported",
    "text/x-python-requirement": "Python Workers are not supported",
}
MAX_NAME = 256
_RESERVED_PREFIXES = ("cloudflare:", "flowbox:", "node:")


@dataclass(frozen=True)
class Part:
    """One module part of the upload: its name, content type and bytes."""

    name: str
    content_type: str
    data: bytes

    @property
    def mime(self) -> str:
        return self.content_type.split(";")[0].strip().lower()


@dataclass(frozen=True)
class Modules:
    """The script's modules: the main one's name and source, the others
    (name -> JavaScript source) that it may import."""

    main: str
    source: str
    others: dict[str, str]


def script_modules(main: object, parts: list[Part]) -> Modules:
    """The modules of an upload whose metadata names `main` as its main
    module; raises InvalidRequest naming the part at fault."""
    names = [p.name for p in parts if _kind(p) != "ignored"]
    if not isinstance(main, str) or main not in names:
        raise InvalidRequest("metadata.main_module must name one of the uploaded module "
                             f"parts ({', '.join(sorted(names)) or 'none uploaded'})",
                             "metadata.main_module")
    others: dict[str, str] = {}
    source = ""
    for part in parts:
        kind = _kind(part)
        if kind == "ignored":
            continue
        check_name(part.name)
        if part.name in others or (part.name == main and source):
            raise InvalidRequest(f"module {part.name!r} is uploaded twice", part.name)
        if kind == "refused":
            raise InvalidRequest(f"module {part.name!r}: {REFUSED_TYPES[part.mime]}",
                                 part.name)
        text = _text(part)
        if part.name == main:
            source = text  # the main module is JavaScript whatever its type says
        else:
            others[part.name] = text if kind == "js" else _wrap(kind, part, text)
    return Modules(main, source, others)


def check_name(name: str) -> None:
    """A module name is a relative path inside the script: no empty, `.`
    or `..` segment, no leading slash, no reserved scheme."""
    segments = name.split("/")
    if (not name or len(name) > MAX_NAME or "\0" in name or name.startswith("/")
            or any(s in ("", ".", "..") for s in segments)
            or name.startswith(_RESERVED_PREFIXES)):
        raise InvalidRequest(f"module name {name[:80]!r} must be a relative path of at most "
                             f"{MAX_NAME} characters, without '.' or '..' segments or a "
                             "reserved prefix (cloudflare:, flowbox:, node:)", "files")


def _kind(part: Part) -> str:
    mime = part.mime
    if mime in IGNORED_TYPES or part.name.endswith(".map"):
        return "ignored"
    if mime in REFUSED_TYPES:
        return "refused"
    if mime in JS_TYPES:
        return "js"
    if mime == "text/plain":
        return "text"
    if mime == "application/json":
        return "json"
    # An untyped part (what a client sends when it names no type) is
    # JavaScript when its name says so, else data.
    return "js" if part.name.endswith(JS_SUFFIXES) else "data"


def _text(part: Part) -> str:
    if _kind(part) == "data":
        return ""
    try:
        return part.data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidRequest(f"module {part.name!r} is not UTF-8 text", part.name) from None


def _wrap(kind: str, part: Part, text: str) -> str:
    """A text, JSON or data module as the JavaScript module it stands for."""
    if kind == "text":
        return f"export default {json.dumps(text)};\n"
    if kind == "json":
        try:
            value = json.loads(text)
        except ValueError as exc:
            raise InvalidRequest(f"module {part.name!r} is not valid JSON: {exc}",
                                 part.name) from None
        return f"export default {json.dumps(value)};\n"
    encoded = base64.b64encode(part.data).decode()
    return ("const s = atob(" + json.dumps(encoded) + ");\n"
            "const b = new Uint8Array(s.length);\n"
            "for (let i = 0; i < s.length; i++) b[i] = s.charCodeAt(i);\n"
            "export default b.buffer;\n")
