"""The host side of `crypto.subtle` (sandbox/guest/js/subtle.js): every
operation done by the `cryptography` library, never by code of ours.

The guest keeps key material inside its CryptoKey objects and sends it with
each call, so the host holds no state between calls: a secret key as its
raw bytes, a private key as PKCS #8 DER, a public key as SPKI DER (all
base64 in the call's JSON); the data travels as the call's byte attachment.
Each call answers the result bytes (Binary) or a small JSON value; a bad
key or parameter is a CapabilityError the guest throws as a DOMException
of that name (OperationError, DataError, NotSupportedError).
"""

from __future__ import annotations

import base64
from typing import Any

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, hmac, padding, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric import padding as asym_padding
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from .protocol import Binary, CapabilityError

HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "SHA-1": hashes.SHA1, "SHA-256": hashes.SHA256, "SHA-384": hashes.SHA384,
    "SHA-512": hashes.SHA512}
CURVES: dict[str, type[ec.EllipticCurve]] = {"P-256": ec.SECP256R1, "P-384": ec.SECP384R1,
                                             "P-521": ec.SECP521R1}
_CURVE_NAMES = {cls().name: name for name, cls in CURVES.items()}
_CURVE_BYTES = {"P-256": 32, "P-384": 48, "P-521": 66}
_PKCS8 = (serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
          serialization.NoEncryption())
_SPKI = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _fail(message: str, name: str = "OperationError") -> CapabilityError:
    return CapabilityError(message, name)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: Any) -> bytes:
    if not isinstance(text, str):
        raise _fail("missing key material or parameter", "DataError")
    return base64.b64decode(text)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64url(text: Any) -> bytes:
    if not isinstance(text, str):
        raise _fail("a JWK member is missing", "DataError")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _hash(name: Any) -> hashes.HashAlgorithm:
    cls = HASHES.get(str(name).upper())
    if cls is None:
        raise _fail(f"unsupported hash {name!r}", "NotSupportedError")
    return cls()


def call(method: str, args: list[Any]) -> Any:
    """One crypto.subtle operation: (params, data bytes?) -> result."""
    params = args[0] if args and isinstance(args[0], dict) else {}
    data = args[1] if len(args) > 1 and isinstance(args[1], bytes) else b""
    handler = _HANDLERS.get(method)
    if handler is None:
        raise _fail(f"crypto.subtle has no operation {method!r}", "NotSupportedError")
    try:
        return handler(params, data)
    except CapabilityError:
        raise
    except (ValueError, TypeError, KeyError) as exc:
        raise _fail(f"{method}: {exc}", "DataError") from None


# -- digest, HMAC, signatures -------------------------------------------------


def _digest(p: dict[str, Any], data: bytes) -> Binary:
    h = hashes.Hash(_hash(p.get("hash")))
    h.update(data)
    return Binary(None, h.finalize())


def _private(p: dict[str, Any]) -> Any:
    return serialization.load_der_private_key(_unb64(p.get("key")), password=None)


def _public(p: dict[str, Any], field: str = "key") -> Any:
    return serialization.load_der_public_key(_unb64(p.get(field)))


def _sign(p: dict[str, Any], data: bytes) -> Binary:
    alg = p.get("name")
    if alg == "HMAC":
        mac = hmac.HMAC(_unb64(p.get("key")), _hash(p.get("hash")))
        mac.update(data)
        return Binary(None, mac.finalize())
    key = _private(p)
    if alg == "Ed25519":
        return Binary(None, key.sign(data))
    if alg == "ECDSA":
        der = key.sign(data, ec.ECDSA(_hash(p.get("hash"))))
        r, s = decode_dss_signature(der)
        size = (key.curve.key_size + 7) // 8
        return Binary(None, r.to_bytes(size, "big") + s.to_bytes(size, "big"))
    return Binary(None, key.sign(data, _rsa_padding(p), _hash(p.get("hash"))))


def _rsa_padding(p: dict[str, Any]) -> asym_padding.AsymmetricPadding:
    if p.get("name") == "RSA-PSS":
        return asym_padding.PSS(mgf=asym_padding.MGF1(_hash(p.get("hash"))),
                                salt_length=int(p.get("saltLength", 0)))
    return asym_padding.PKCS1v15()


def _verify(p: dict[str, Any], data: bytes) -> bool:
    signature = _unb64(p.get("signature"))
    alg = p.get("name")
    try:
        if alg == "HMAC":
            mac = hmac.HMAC(_unb64(p.get("key")), _hash(p.get("hash")))
            mac.update(data)
            mac.verify(signature)
        elif alg == "Ed25519":
            _public(p).verify(signature, data)
        elif alg == "ECDSA":
            key = _public(p)
            size = (key.curve.key_size + 7) // 8
            if len(signature) != 2 * size:
                return False
            der = encode_dss_signature(int.from_bytes(signature[:size], "big"),
                                       int.from_bytes(signature[size:], "big"))
            key.verify(der, data, ec.ECDSA(_hash(p.get("hash"))))
        else:
            _public(p).verify(signature, data, _rsa_padding(p), _hash(p.get("hash")))
    except InvalidSignature:
        return False
    return True


# -- AES ------------------------------------------------------------------------


def _aes(p: dict[str, Any], data: bytes, encrypt: bool) -> Binary:
    key, iv = _unb64(p.get("key")), _unb64(p.get("iv"))
    if p.get("name") == "AES-GCM":
        tag_bits = int(p.get("tagLength", 128))
        if tag_bits != 128:
            raise _fail("AES-GCM: only a tagLength of 128 is supported", "NotSupportedError")
        aad = _unb64(p["additionalData"]) if p.get("additionalData") else None
        try:
            aead = AESGCM(key)
            out = aead.encrypt(iv, data, aad) if encrypt else aead.decrypt(iv, data, aad)
        except InvalidTag:
            raise _fail("AES-GCM: the data or its tag is not authentic") from None
        return Binary(None, out)
    if len(iv) != 16:
        raise _fail("AES-CBC: the iv must be 16 bytes")
    cipher = Cipher(algorithms.AES(key), modes.CBC(iv))
    if encrypt:
        padder = padding.PKCS7(128).padder()
        enc = cipher.encryptor()
        return Binary(None, enc.update(padder.update(data) + padder.finalize()) + enc.finalize())
    dec = cipher.decryptor()
    unpadder = padding.PKCS7(128).unpadder()
    try:
        plain = dec.update(data) + dec.finalize()
        return Binary(None, unpadder.update(plain) + unpadder.finalize())
    except ValueError:
        raise _fail("AES-CBC: the data does not decrypt (bad padding)") from None


# -- keys -----------------------------------------------------------------------


def _describe(key: Any) -> dict[str, Any]:
    """A key as the guest keeps it: kind, material and the algorithm's facts."""
    if isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
                  | ed25519.Ed25519PrivateKey):
        out: dict[str, Any] = {"kind": "private", "key": _b64(key.private_bytes(*_PKCS8)),
               "public": _b64(key.public_key().public_bytes(*_SPKI))}
        pub = key.public_key()
    else:
        out = {"kind": "public", "key": _b64(key.public_bytes(*_SPKI))}
        pub = key
    if isinstance(pub, rsa.RSAPublicKey):
        numbers = pub.public_numbers()
        out["modulusLength"] = pub.key_size
        out["publicExponent"] = _b64(numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8, "big"))
    elif isinstance(pub, ec.EllipticCurvePublicKey):
        out["namedCurve"] = _CURVE_NAMES[pub.curve.name]
    return out


def _generate(p: dict[str, Any], _data: bytes) -> dict[str, Any]:
    alg = p.get("name")
    if alg in ("HMAC", "AES-GCM", "AES-CBC"):
        bits = int(p.get("length") or (_hash(p.get("hash")).block_size or 64) * 8)
        if alg != "HMAC" and bits not in (128, 192, 256):
            raise _fail(f"{alg}: length must be 128, 192 or 256", "OperationError")
        import os

        return {"kind": "secret", "key": _b64(os.urandom(bits // 8)), "length": bits}
    if alg in ("ECDSA", "ECDH"):
        curve = CURVES.get(str(p.get("namedCurve")))
        if curve is None:
            raise _fail(f"unsupported namedCurve {p.get('namedCurve')!r}", "NotSupportedError")
        return _describe(ec.generate_private_key(curve()))
    if alg == "Ed25519":
        return _describe(ed25519.Ed25519PrivateKey.generate())
    exponent = int.from_bytes(_unb64(p.get("publicExponent")), "big")
    return _describe(rsa.generate_private_key(exponent, int(p.get("modulusLength", 2048))))


def _import(p: dict[str, Any], data: bytes) -> dict[str, Any]:
    fmt, alg = p.get("format"), p.get("name")
    if alg in ("HMAC", "AES-GCM", "AES-CBC", "PBKDF2", "HKDF"):
        raw = _unb64url(p["jwk"].get("k")) if fmt == "jwk" else data
        if fmt not in ("raw", "jwk"):
            raise _fail(f"{alg} keys import from raw or jwk, not {fmt}", "NotSupportedError")
        if alg.startswith("AES") and len(raw) not in (16, 24, 32):
            raise _fail(f"{alg}: a key is 16, 24 or 32 bytes, not {len(raw)}", "DataError")
        return {"kind": "secret", "key": _b64(raw), "length": len(raw) * 8}
    if fmt == "pkcs8":
        return _describe(serialization.load_der_private_key(data, password=None))
    if fmt == "spki":
        return _describe(serialization.load_der_public_key(data))
    if fmt == "jwk":
        return _describe(_from_jwk(p["jwk"], alg))
    if fmt == "raw" and alg in ("ECDSA", "ECDH"):
        curve = CURVES[str(p.get("namedCurve"))]()
        return _describe(ec.EllipticCurvePublicKey.from_encoded_point(curve, data))
    if fmt == "raw" and alg == "Ed25519":
        return _describe(ed25519.Ed25519PublicKey.from_public_bytes(data))
    raise _fail(f"cannot import a {alg} key from {fmt}", "NotSupportedError")


def _from_jwk(jwk: dict[str, Any], alg: Any) -> Any:
    kty = jwk.get("kty")

    def n(name: str) -> int:
        return int.from_bytes(_unb64url(jwk.get(name)), "big")

    if kty == "RSA":
        public = rsa.RSAPublicNumbers(n("e"), n("n"))
        if "d" not in jwk:
            return public.public_key()
        return rsa.RSAPrivateNumbers(n("p"), n("q"), n("d"), n("dp"), n("dq"), n("qi"),
                                     public).private_key()
    if kty == "EC":
        curve = CURVES[str(jwk.get("crv"))]()
        public_ec = ec.EllipticCurvePublicNumbers(n("x"), n("y"), curve)
        if "d" not in jwk:
            return public_ec.public_key()
        return ec.EllipticCurvePrivateNumbers(n("d"), public_ec).private_key()
    if kty == "OKP" and jwk.get("crv") == "Ed25519":
        if "d" in jwk:
            return ed25519.Ed25519PrivateKey.from_private_bytes(_unb64url(jwk["d"]))
        return ed25519.Ed25519PublicKey.from_public_bytes(_unb64url(jwk.get("x")))
    raise _fail(f"unsupported JWK kty {kty!r} for {alg}", "NotSupportedError")


def _export(p: dict[str, Any], _data: bytes) -> Any:
    fmt, kind = p.get("format"), p.get("kind")
    material = _unb64(p.get("key"))
    if kind == "secret":
        if fmt == "raw":
            return Binary(None, material)
        return {"kty": "oct", "k": _b64url(material)}
    key: Any = (serialization.load_der_private_key(material, password=None)
                if kind == "private" else serialization.load_der_public_key(material))
    if fmt == "pkcs8" and kind == "private":
        return Binary(None, material)
    if fmt == "spki" and kind == "public":
        return Binary(None, material)
    if fmt == "raw" and kind == "public":
        if isinstance(key, ed25519.Ed25519PublicKey):
            return Binary(None, key.public_bytes(serialization.Encoding.Raw,
                                                 serialization.PublicFormat.Raw))
        return Binary(None, key.public_bytes(serialization.Encoding.X962,
                                             serialization.PublicFormat.UncompressedPoint))
    if fmt == "jwk":
        return _to_jwk(key)
    raise _fail(f"cannot export a {kind} key as {fmt}", "InvalidAccessError")


def _to_jwk(key: Any) -> dict[str, Any]:
    def b(i: int, size: int | None = None) -> str:
        return _b64url(i.to_bytes(size or max(1, (i.bit_length() + 7) // 8), "big"))

    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        pub = key.public_key() if isinstance(key, rsa.RSAPrivateKey) else key
        out = {"kty": "RSA", "n": b(pub.public_numbers().n), "e": b(pub.public_numbers().e)}
        if isinstance(key, rsa.RSAPrivateKey):
            pn = key.private_numbers()
            out.update(d=b(pn.d), p=b(pn.p), q=b(pn.q), dp=b(pn.dmp1), dq=b(pn.dmq1),
                       qi=b(pn.iqmp))
        return out
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        pub_ec = key.public_key() if isinstance(key, ec.EllipticCurvePrivateKey) else key
        crv = _CURVE_NAMES[pub_ec.curve.name]
        size = _CURVE_BYTES[crv]
        nums = pub_ec.public_numbers()
        out = {"kty": "EC", "crv": crv, "x": b(nums.x, size), "y": b(nums.y, size)}
        if isinstance(key, ec.EllipticCurvePrivateKey):
            out["d"] = b(key.private_numbers().private_value, size)
        return out
    raw = serialization.Encoding.Raw
    pub_ed = key.public_key() if isinstance(key, ed25519.Ed25519PrivateKey) else key
    out = {"kty": "OKP", "crv": "Ed25519",
           "x": _b64url(pub_ed.public_bytes(raw, serialization.PublicFormat.Raw))}
    if isinstance(key, ed25519.Ed25519PrivateKey):
        out["d"] = _b64url(key.private_bytes(raw, serialization.PrivateFormat.Raw,
                                             serialization.NoEncryption()))
    return out


def _derive_bits(p: dict[str, Any], _data: bytes) -> Binary:
    alg, length = p.get("name"), p.get("length")
    if alg == "ECDH":
        secret = _private(p).exchange(ec.ECDH(), _public(p, "public"))
        if length is None:
            return Binary(None, secret)
        if int(length) > len(secret) * 8:
            raise _fail(f"ECDH: length {length} is more than the {len(secret) * 8} bits shared")
        return Binary(None, secret[:int(length) // 8])
    if not isinstance(length, int) or length <= 0 or length % 8:
        raise _fail(f"{alg}: length must be a positive multiple of 8")
    key = _unb64(p.get("key"))
    if alg == "PBKDF2":
        iterations = int(p.get("iterations", 0))
        if iterations <= 0:
            raise _fail("PBKDF2: iterations must be at least 1")
        kdf: Any = PBKDF2HMAC(_hash(p.get("hash")), length // 8, _unb64(p.get("salt")),
                              iterations)
    else:
        kdf = HKDF(_hash(p.get("hash")), length // 8, _unb64(p.get("salt")),
                   _unb64(p.get("info")))
    return Binary(None, kdf.derive(key))


_HANDLERS: dict[str, Any] = {
    "digest": _digest, "sign": _sign, "verify": _verify,
    "encrypt": lambda p, d: _aes(p, d, True), "decrypt": lambda p, d: _aes(p, d, False),
    "generateKey": _generate, "importKey": _import, "exportKey": _export,
    "deriveBits": _derive_bits,
}


class Subtle:
    """crypto.subtle as a capability, one that every execution has."""

    methods = tuple(_HANDLERS)
    adapter = None

    def call(self, method: str, args: list[Any]) -> Any:
        return call(method, args)


CAPABILITY = Subtle()
