"""crypto.subtle in the sandbox: results byte-identical to the standards'
test vectors (RFC 4231, 6070, 5869, 8032, FIPS 180) and to Python's
hashlib, hmac and `cryptography` on the same inputs."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

HEX = "const hex = (b) => [...new Uint8Array(b)].map((x) => x.toString(16).padStart(2, '0')).join('');\n" \
      "const unhex = (s) => new Uint8Array(s.match(/../g).map((h) => parseInt(h, 16)));\n" \
      "const enc = new TextEncoder();\n"


def js(run: Any, body: str, event: Any = None) -> Any:
    result = run(HEX + f"export default async function (event) {{ {body} }}", event)
    assert result.error is None, result.error
    return result.value


@pytest.mark.parametrize("name", ["SHA-1", "SHA-256", "SHA-384", "SHA-512"])
def test_digest_matches_hashlib(run: Any, name: str) -> None:
    data = os.urandom(3000)
    got = js(run, f"return hex(await crypto.subtle.digest('{name}', unhex(event.data)))",
             {"data": data.hex()})
    assert got == hashlib.new(name.replace("-", "").lower(), data).hexdigest()


def test_digest_of_the_fips_vector(run: Any) -> None:
    got = js(run, "return hex(await crypto.subtle.digest({name: 'sha-256'}, enc.encode('abc')))")
    assert got == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_hmac_rfc4231_case_2_and_hmac_module(run: Any) -> None:
    key, data = os.urandom(40), os.urandom(500)
    got = js(run, """
      const k = await crypto.subtle.importKey("raw", enc.encode("Jefe"), {name: "HMAC", hash: "SHA-256"}, false, ["sign"]);
      const k2 = await crypto.subtle.importKey("raw", unhex(event.key), {name: "HMAC", hash: "SHA-512"}, false, ["sign", "verify"]);
      const sig = await crypto.subtle.sign("HMAC", k2, unhex(event.data));
      return [hex(await crypto.subtle.sign("HMAC", k, enc.encode("what do ya want for nothing?"))), hex(sig),
              await crypto.subtle.verify("HMAC", k2, sig, unhex(event.data)),
              await crypto.subtle.verify("HMAC", k2, sig, enc.encode("other"))];
    """, {"key": key.hex(), "data": data.hex()})
    assert got[0] == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    assert got[1] == hmac.new(key, data, "sha512").hexdigest()
    assert got[2:] == [True, False]


def test_pbkdf2_rfc6070(run: Any) -> None:
    got = js(run, """
      const k = await crypto.subtle.importKey("raw", enc.encode("password"), "PBKDF2", false, ["deriveBits"]);
      return hex(await crypto.subtle.deriveBits({name: "PBKDF2", hash: "SHA-1", salt: enc.encode("salt"), iterations: 4096}, k, 160));
    """)
    assert got == "4b007901b765489abead49d926f721d065a429c1"


def test_hkdf_rfc5869_case_1(run: Any) -> None:
    got = js(run, """
      const k = await crypto.subtle.importKey("raw", unhex("0b".repeat(22)), "HKDF", false, ["deriveBits"]);
      return hex(await crypto.subtle.deriveBits({name: "HKDF", hash: "SHA-256",
        salt: unhex("000102030405060708090a0b0c"), info: unhex("f0f1f2f3f4f5f6f7f8f9")}, k, 42 * 8));
    """)
    assert got == ("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
                   "34007208d5b887185865")


def test_ed25519_rfc8032_test_1(run: Any) -> None:
    secret = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
    pkcs8 = ed25519.Ed25519PrivateKey.from_private_bytes(secret).private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption())
    got = js(run, """
      const k = await crypto.subtle.importKey("pkcs8", unhex(event.pkcs8), "Ed25519", false, ["sign"]);
      const pub = await crypto.subtle.importKey("raw", unhex(event.pub), "Ed25519", true, ["verify"]);
      const sig = await crypto.subtle.sign("Ed25519", k, new Uint8Array(0));
      return [hex(sig), await crypto.subtle.verify("Ed25519", pub, sig, new Uint8Array(0))];
    """, {"pkcs8": pkcs8.hex(),
          "pub": "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"})
    assert got == ["e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590"
                   "a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b", True]


def test_aes_gcm_interoperates_with_cryptography(run: Any) -> None:
    key, iv, aad = os.urandom(32), os.urandom(12), b"header"
    sealed = AESGCM(key).encrypt(iv, b"from python", aad)
    got = js(run, """
      const k = await crypto.subtle.importKey("raw", unhex(event.key), "AES-GCM", false, ["encrypt", "decrypt"]);
      const params = {name: "AES-GCM", iv: unhex(event.iv), additionalData: enc.encode("header")};
      const opened = new TextDecoder().decode(await crypto.subtle.decrypt(params, k, unhex(event.sealed)));
      return [opened, hex(await crypto.subtle.encrypt(params, k, enc.encode("from js")))];
    """, {"key": key.hex(), "iv": iv.hex(), "sealed": sealed.hex()})
    assert got[0] == "from python"
    assert AESGCM(key).decrypt(iv, bytes.fromhex(got[1]), aad) == b"from js"


def test_aes_cbc_round_trip_and_bad_key_size(run: Any) -> None:
    got = js(run, """
      const k = await crypto.subtle.generateKey({name: "AES-CBC", length: 128}, true, ["encrypt", "decrypt"]);
      const iv = new Uint8Array(16);
      const ct = await crypto.subtle.encrypt({name: "AES-CBC", iv}, k, enc.encode("sixteen bytes!!!+"));
      let bad;
      try { await crypto.subtle.importKey("raw", new Uint8Array(7), "AES-CBC", false, ["encrypt"]); } catch (e) { bad = e.name; }
      return [ct.byteLength, new TextDecoder().decode(await crypto.subtle.decrypt({name: "AES-CBC", iv}, k, ct)), bad];
    """)
    assert got == [32, "sixteen bytes!!!+", "DataError"]


def test_ecdsa_verifies_a_python_signature_and_signs_in_p1363(run: Any) -> None:
    key = ec.generate_private_key(ec.SECP384R1())
    der = key.sign(b"message", ec.ECDSA(hashes.SHA384()))
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    r, s = decode_dss_signature(der)
    spki = key.public_key().public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)
    got = js(run, """
      const pub = await crypto.subtle.importKey("spki", unhex(event.spki), {name: "ECDSA", namedCurve: "P-384"}, true, ["verify"]);
      const alg = {name: "ECDSA", hash: "SHA-384"};
      return [await crypto.subtle.verify(alg, pub, unhex(event.sig), enc.encode("message")),
              await crypto.subtle.verify(alg, pub, unhex(event.sig), enc.encode("tampered")),
              pub.algorithm.namedCurve, (await crypto.subtle.exportKey("jwk", pub)).crv];
    """, {"spki": spki.hex(), "sig": (r.to_bytes(48, "big") + s.to_bytes(48, "big")).hex()})
    assert got == [True, False, "P-384", "P-384"]


def test_rsa_signatures_verify_in_python(run: Any) -> None:
    got = js(run, """
      const alg = {name: "RSASSA-PKCS1-v1_5", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256"};
      const pair = await crypto.subtle.generateKey(alg, true, ["sign", "verify"]);
      const pss = await crypto.subtle.importKey("pkcs8", await crypto.subtle.exportKey("pkcs8", pair.privateKey), {name: "RSA-PSS", hash: "SHA-256"}, false, ["sign"]);
      return [hex(await crypto.subtle.exportKey("spki", pair.publicKey)),
              hex(await crypto.subtle.sign("RSASSA-PKCS1-v1_5", pair.privateKey, enc.encode("m"))),
              hex(await crypto.subtle.sign({name: "RSA-PSS", saltLength: 32}, pss, enc.encode("m")))];
    """)
    public = serialization.load_der_public_key(bytes.fromhex(got[0]))
    assert isinstance(public, rsa.RSAPublicKey)
    public.verify(bytes.fromhex(got[1]), b"m", padding.PKCS1v15(), hashes.SHA256())
    public.verify(bytes.fromhex(got[2]), b"m",
                  padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32), hashes.SHA256())


def test_jwk_round_trip_of_an_rsa_private_key(run: Any) -> None:
    key = rsa.generate_private_key(65537, 2048)
    n = key.private_numbers()

    def b64(i: int) -> str:
        return base64.urlsafe_b64encode(i.to_bytes((i.bit_length() + 7) // 8, "big")).rstrip(
            b"=").decode()

    jwk = {"kty": "RSA", "n": b64(n.public_numbers.n), "e": b64(n.public_numbers.e),
           "d": b64(n.d), "p": b64(n.p), "q": b64(n.q), "dp": b64(n.dmp1), "dq": b64(n.dmq1),
           "qi": b64(n.iqmp)}
    got = js(run, """
      const k = await crypto.subtle.importKey("jwk", event.jwk, {name: "RSASSA-PKCS1-v1_5", hash: "SHA-256"}, true, ["sign"]);
      const back = await crypto.subtle.exportKey("jwk", k);
      return [back.n === event.jwk.n && back.d === event.jwk.d, back.alg,
              hex(await crypto.subtle.sign("RSASSA-PKCS1-v1_5", k, enc.encode("m")))];
    """, {"jwk": jwk})
    assert got[:2] == [True, "RS256"]
    key.public_key().verify(bytes.fromhex(got[2]), b"m", padding.PKCS1v15(), hashes.SHA256())


def test_ecdh_agrees_with_python(run: Any) -> None:
    mine = ec.generate_private_key(ec.SECP256R1())
    spki = mine.public_key().public_bytes(serialization.Encoding.DER,
                                          serialization.PublicFormat.SubjectPublicKeyInfo)
    got = js(run, """
      const theirs = await crypto.subtle.importKey("spki", unhex(event.spki), {name: "ECDH", namedCurve: "P-256"}, true, []);
      const pair = await crypto.subtle.generateKey({name: "ECDH", namedCurve: "P-256"}, true, ["deriveBits"]);
      return [hex(await crypto.subtle.exportKey("spki", pair.publicKey)),
              hex(await crypto.subtle.deriveBits({name: "ECDH", public: theirs}, pair.privateKey, 256))];
    """, {"spki": spki.hex()})
    peer = serialization.load_der_public_key(bytes.fromhex(got[0]))
    assert isinstance(peer, ec.EllipticCurvePublicKey)
    assert mine.exchange(ec.ECDH(), peer).hex() == got[1]


@pytest.mark.parametrize("body, name", [
    ("await crypto.subtle.digest('MD5', new Uint8Array(1))", "NotSupportedError"),
    ("const k = await crypto.subtle.importKey('raw', new Uint8Array(16), 'AES-GCM', false, ['encrypt']);"
     "await crypto.subtle.decrypt({name: 'AES-GCM', iv: new Uint8Array(12)}, k, new Uint8Array(20))",
     "InvalidAccessError"),
    ("const k = await crypto.subtle.importKey('raw', new Uint8Array(16), 'AES-GCM', false, ['decrypt']);"
     "await crypto.subtle.decrypt({name: 'AES-GCM', iv: new Uint8Array(12)}, k, new Uint8Array(20))",
     "OperationError"),
    ("const k = await crypto.subtle.importKey('raw', new Uint8Array(16), {name: 'HMAC', hash: 'SHA-256'}, false, ['sign']);"
     "await crypto.subtle.exportKey('raw', k)", "InvalidAccessError"),
    ("await crypto.subtle.importKey('raw', new Uint8Array(16), 'HMAC', false, ['encrypt'])",
     "SyntaxError"),
])
def test_misuse_is_a_named_error(run: Any, body: str, name: str) -> None:
    got = js(run, f"try {{ {body}; return 'no error'; }} catch (e) {{ return e.name; }}")
    assert got == name


def test_crypto_key_cannot_be_forged(run: Any) -> None:
    got = js(run, "try { new CryptoKey(); return 'made'; } catch (e) { return e.name; }")
    assert got == "TypeError"
