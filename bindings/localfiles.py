"""Object storage in a local directory: the embedded default.

Each key segment becomes a percent-encoded path segment (so no key can
name `..`, a hidden file or anything outside the root), and each object is
one file named after its last segment plus `~`, a character the encoding
never leaves bare; so `a` and `a/b` can both exist, as on S3. The file
holds one JSON line of metadata and then the body, written to a temporary
file and renamed into place, so a reader sees the old object or the new
one, never a mix.

Listing walks the directory under the prefix and sorts: fine for the
thousands of objects an embedded install holds; use S3 beyond that.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from urllib.parse import quote, unquote

from .errors import KeyRejected, ObjectTooLarge, StorageError
from .storage import ObjectInfo, ObjectPage

_SUFFIX = "~"
_MAX_NAME = 250  # bytes of one encoded path segment (255 is the usual limit)


class LocalObjectStore:
    """An ObjectStore in the directory `root` (created when missing)."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        self._tmp = self.root / ".tmp"  # '.' is encoded in key segments: no clash
        self._tmp.mkdir(parents=True, exist_ok=True)

    # -- paths ---------------------------------------------------------------

    def _path(self, key: str) -> Path:
        segments = key.split("/")
        encoded = [_encode(s) for s in segments]
        encoded[-1] += _SUFFIX
        if any(len(s) > _MAX_NAME for s in encoded):
            raise KeyRejected(f"a segment of the key is longer than the local backend "
                              f"allows ({_MAX_NAME} bytes once encoded)")
        return self.root.joinpath(*encoded)

    # -- ObjectStore -------------------------------------------------------------

    def put(self, key: str, body: bytes, http_metadata: dict[str, str],
            custom_metadata: dict[str, str]) -> ObjectInfo:
        info = ObjectInfo(key=key, size=len(body), etag=hashlib.md5(body).hexdigest(),
                          uploaded=time.time(), version=uuid.uuid4().hex,
                          http_metadata=dict(http_metadata),
                          custom_metadata=dict(custom_metadata))
        path = self._path(key)
        header = json.dumps({"size": info.size, "etag": info.etag, "uploaded": info.uploaded,
                             "version": info.version, "http": info.http_metadata,
                             "custom": info.custom_metadata}).encode() + b"\n"
        tmp = self._tmp / uuid.uuid4().hex
        try:
            with open(tmp, "wb") as f:
                f.write(header)
                f.write(body)
            for attempt in range(3):  # a concurrent delete may prune the parent
                try:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(tmp, path)
                    break
                except (FileNotFoundError, NotADirectoryError):
                    if attempt == 2:
                        raise
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise StorageError(f"local storage failed ({exc.strerror or type(exc).__name__})") \
                from None
        return info

    def get(self, key: str, max_bytes: int | None = None) -> tuple[ObjectInfo, bytes] | None:
        try:
            with open(self._path(key), "rb") as f:
                info = _info(key, f.readline())
                if max_bytes is not None and info.size > max_bytes:
                    raise ObjectTooLarge(info.size)
                return info, f.read()
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            raise StorageError(f"local storage failed ({exc.strerror})") from None

    def head(self, key: str) -> ObjectInfo | None:
        try:
            with open(self._path(key), "rb") as f:
                return _info(key, f.readline())
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            raise StorageError(f"local storage failed ({exc.strerror})") from None

    def delete(self, keys: Sequence[str]) -> None:
        for key in keys:
            path = self._path(key)
            try:
                path.unlink()
            except (FileNotFoundError, NotADirectoryError):
                continue
            except OSError as exc:
                raise StorageError(f"local storage failed ({exc.strerror})") from None
            self._prune(path.parent)

    def _prune(self, directory: Path) -> None:
        """Removes directories left empty, up to the root."""
        while directory != self.root and self.root in directory.parents:
            try:
                directory.rmdir()
            except OSError:
                return
            directory = directory.parent

    def list(self, prefix: str, *, start_after: str | None, limit: int,
             delimiter: str | None, with_metadata: bool) -> ObjectPage:
        keys = sorted(k for k in self._keys_under(prefix)
                      if k.startswith(prefix) and (start_after is None or k > start_after))
        objects: list[ObjectInfo] = []
        prefixes: list[str] = []
        last = None
        for key in keys:
            if delimiter:
                cut = key.find(delimiter, len(prefix))
                if cut >= 0:
                    group = key[:cut + len(delimiter)]
                    if prefixes and prefixes[-1] == group:
                        continue
                    if len(objects) + len(prefixes) == limit:
                        return ObjectPage(objects, prefixes, last)
                    prefixes.append(group)
                    last = group + "\U0010ffff"  # resume after everything in the group
                    continue
            info = self._list_info(key, with_metadata)
            if info is None:  # deleted while listing
                continue
            if len(objects) + len(prefixes) == limit:
                return ObjectPage(objects, prefixes, last)
            objects.append(info)
            last = key
        return ObjectPage(objects, prefixes, None)

    def _list_info(self, key: str, with_metadata: bool) -> ObjectInfo | None:
        info = self.head(key)
        if info is None or with_metadata:
            return info
        return ObjectInfo(key=key, size=info.size, etag=info.etag, uploaded=info.uploaded,
                          version=info.version)

    def _keys_under(self, prefix: str) -> Iterator[str]:
        """Every key that could start with `prefix`: walks only the deepest
        directory that the prefix's complete segments name."""
        complete = prefix.split("/")[:-1]
        base = self.root.joinpath(*(_encode(s) for s in complete)) if complete else self.root
        if not base.is_dir():
            return
        for dirpath, dirnames, filenames in os.walk(base):
            if Path(dirpath) == self.root:
                dirnames[:] = [d for d in dirnames if d != ".tmp"]
            rel = Path(dirpath).relative_to(self.root).parts
            for name in filenames:
                if name.endswith(_SUFFIX):
                    yield "/".join([*(unquote(p) for p in rel), unquote(name[:-1])])


def _encode(segment: str) -> str:
    # quote() never encodes '~', which marks object files here.
    encoded = quote(segment, safe="-_.").replace("~", "%7E")
    return "%2E" + encoded[1:] if encoded.startswith(".") else encoded


def _info(key: str, header: bytes) -> ObjectInfo:
    try:
        h = json.loads(header)
        return ObjectInfo(key=key, size=int(h["size"]), etag=str(h["etag"]),
                          uploaded=float(h["uploaded"]), version=str(h["version"]),
                          http_metadata=dict(h.get("http") or {}),
                          custom_metadata=dict(h.get("custom") or {}))
    except (ValueError, KeyError, TypeError):
        raise StorageError("local storage holds a damaged object") from None
