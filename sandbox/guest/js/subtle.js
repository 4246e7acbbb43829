// crypto.subtle (Web Cryptography API) and CryptoKey. The algorithms are
// normalized and usages checked here; the cryptography itself is done by
// the host (sandbox/subtle.py, Python's `cryptography`). A CryptoKey keeps
// its material in a private field and sends it with each call.
(function (native, g) {
  const HASHES = ["SHA-1", "SHA-256", "SHA-384", "SHA-512"];
  const NAMES = ["HMAC", "ECDSA", "ECDH", "RSASSA-PKCS1-v1_5", "RSA-PSS", "Ed25519", "AES-GCM",
                 "AES-CBC", "PBKDF2", "HKDF", ...HASHES];
  const USAGES = {
    HMAC: ["sign", "verify"], ECDSA: ["sign", "verify"], Ed25519: ["sign", "verify"],
    "RSASSA-PKCS1-v1_5": ["sign", "verify"], "RSA-PSS": ["sign", "verify"],
    ECDH: ["deriveBits", "deriveKey"], PBKDF2: ["deriveBits", "deriveKey"],
    HKDF: ["deriveBits", "deriveKey"],
    "AES-GCM": ["encrypt", "decrypt", "wrapKey", "unwrapKey"],
    "AES-CBC": ["encrypt", "decrypt", "wrapKey", "unwrapKey"],
  };
  const PRIVATE_USAGES = ["sign", "deriveBits", "deriveKey", "decrypt", "unwrapKey"];

  const toB64 = (bytes) => bytes.toBase64();
  const fromB64 = (text) => Uint8Array.fromBase64(text);

  function bytesOf(data, what) {
    if (data instanceof ArrayBuffer) return new Uint8Array(data.slice(0));
    if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
    throw new TypeError(`crypto.subtle: ${what} must be an ArrayBuffer or a view`);
  }

  function fail(name, message) {
    return new DOMException(message, name);
  }

  function normalize(alg) {
    const a = typeof alg === "string" ? { name: alg } : { ...alg };
    if (typeof a.name !== "string") throw new TypeError("crypto.subtle: the algorithm needs a name");
    const name = NAMES.find((n) => n.toLowerCase() === a.name.toLowerCase());
    if (!name) throw fail("NotSupportedError", `Unrecognized algorithm name: ${a.name}`);
    a.name = name;
    if (a.hash !== undefined) {
      const h = typeof a.hash === "string" ? a.hash : a.hash?.name;
      const hash = HASHES.find((n) => n.toLowerCase() === String(h).toLowerCase());
      if (!hash) throw fail("NotSupportedError", `Unrecognized hash: ${h}`);
      a.hash = { name: hash };
    }
    return a;
  }

  // The host's error names become DOMExceptions, as the standard throws them.
  async function host(op, params, data) {
    try {
      return data === undefined ? await native.call("flowbox:subtle", op, params)
                                : await native.call("flowbox:subtle", op, params, data);
    } catch (e) {
      throw fail(e.name === "Error" ? "OperationError" : e.name, e.message);
    }
  }
  const bytesReply = (reply) => reply[1];

  let minting = false;

  class CryptoKey {
    #material;
    #type;
    #extractable;
    #algorithm;
    #usages;
    constructor() {
      if (!minting) throw new TypeError("Illegal constructor");
    }
    static _mint(material, type, extractable, algorithm, usages) {
      minting = true;
      let key;
      try {
        key = new CryptoKey();
      } finally {
        minting = false;
      }
      key.#material = material;
      key.#type = type;
      key.#extractable = extractable;
      key.#algorithm = Object.freeze(algorithm);
      key.#usages = Object.freeze([...usages]);
      return key;
    }
    static _material(key) { return key.#material; }
    get type() { return this.#type; }
    get extractable() { return this.#extractable; }
    get algorithm() { return this.#algorithm; }
    get usages() { return this.#usages; }
    get [Symbol.toStringTag]() { return "CryptoKey"; }
  }

  function use(key, alg, usage) {
    if (!(key instanceof CryptoKey)) throw new TypeError("crypto.subtle: key must be a CryptoKey");
    if (key.algorithm.name !== alg.name) throw fail("InvalidAccessError", `the key is for ${key.algorithm.name}, not ${alg.name}`);
    if (!key.usages.includes(usage)) throw fail("InvalidAccessError", `the key's usages do not include '${usage}'`);
    return CryptoKey._material(key);
  }

  function keyAlgorithm(alg, facts) {
    const out = { name: alg.name };
    if (alg.hash) out.hash = alg.hash;
    if (facts.length !== undefined && alg.name !== "PBKDF2" && alg.name !== "HKDF") out.length = facts.length;
    if (facts.namedCurve) out.namedCurve = facts.namedCurve;
    if (facts.modulusLength) {
      out.modulusLength = facts.modulusLength;
      out.publicExponent = fromB64(facts.publicExponent);
    }
    return out;
  }

  function checkUsages(alg, usages) {
    const allowed = USAGES[alg.name] ?? [];
    const list = [...usages];
    for (const u of list) if (!allowed.includes(u)) throw new SyntaxError(`crypto.subtle: '${u}' is not a usage of ${alg.name}`);
    return list;
  }

  // The CryptoKey (or pair) for what importKey / generateKey answered.
  function keysFrom(facts, alg, extractable, usages) {
    const algorithm = keyAlgorithm(alg, facts);
    if (facts.kind === "secret") return CryptoKey._mint({ kind: "secret", key: facts.key }, "secret", extractable, algorithm, usages);
    const mine = usages.filter((u) => PRIVATE_USAGES.includes(u));
    if (facts.kind === "public") return CryptoKey._mint({ kind: "public", key: facts.key }, "public", true, algorithm, usages.filter((u) => !PRIVATE_USAGES.includes(u)));
    const privateKey = CryptoKey._mint({ kind: "private", key: facts.key, public: facts.public }, "private", extractable, algorithm, mine);
    return { privateKey, facts, algorithm };
  }

  const subtle = Object.freeze({
    async digest(alg, data) {
      const a = normalize(alg);
      if (!HASHES.includes(a.name)) throw fail("NotSupportedError", `${a.name} is not a digest`);
      return bytesReply(await host("digest", { hash: a.name }, bytesOf(data, "data"))).slice(0);
    },

    async importKey(format, keyData, alg, extractable, usages) {
      const a = normalize(alg);
      const list = checkUsages(a, usages);
      const params = { format, name: a.name, namedCurve: a.namedCurve };
      let reply;
      if (format === "jwk") {
        if (keyData === null || typeof keyData !== "object") throw new TypeError("importKey: a jwk must be an object");
        reply = await host("importKey", { ...params, jwk: keyData });
      } else {
        reply = await host("importKey", params, bytesOf(keyData, "keyData"));
      }
      const made = keysFrom(reply, a, Boolean(extractable), list);
      if (made instanceof CryptoKey) return made;
      return made.privateKey;
    },

    async exportKey(format, key) {
      if (!(key instanceof CryptoKey)) throw new TypeError("exportKey: key must be a CryptoKey");
      if (!key.extractable) throw fail("InvalidAccessError", "the key is not extractable");
      const m = CryptoKey._material(key);
      const reply = await host("exportKey", { format, kind: m.kind, key: m.key });
      if (format !== "jwk") return bytesReply(reply).slice(0);
      const jwk = { ...reply, ext: true, key_ops: [...key.usages] };
      const alg = jwkAlg(key.algorithm);
      if (alg) jwk.alg = alg;
      return jwk;
    },

    async generateKey(alg, extractable, usages) {
      const a = normalize(alg);
      const list = checkUsages(a, usages);
      const params = { name: a.name, length: a.length, hash: a.hash?.name, namedCurve: a.namedCurve,
                       modulusLength: a.modulusLength,
                       publicExponent: a.publicExponent ? toB64(bytesOf(a.publicExponent, "publicExponent")) : undefined };
      const facts = await host("generateKey", params);
      const made = keysFrom(facts, a, Boolean(extractable), list);
      if (made instanceof CryptoKey) return made;
      const publicKey = CryptoKey._mint({ kind: "public", key: facts.public }, "public", true, made.algorithm,
                                        list.filter((u) => !PRIVATE_USAGES.includes(u)));
      return { privateKey: made.privateKey, publicKey };
    },

    async sign(alg, key, data) {
      const a = normalize(alg);
      const m = use(key, a, "sign");
      const hash = a.hash?.name ?? key.algorithm.hash?.name;
      return bytesReply(await host("sign", { name: a.name, hash, key: m.key, saltLength: a.saltLength },
                                   bytesOf(data, "data"))).slice(0);
    },

    async verify(alg, key, signature, data) {
      const a = normalize(alg);
      const m = use(key, a, "verify");
      const hash = a.hash?.name ?? key.algorithm.hash?.name;
      // HMAC verifies with the secret; the others with the public key.
      return host("verify", { name: a.name, hash, key: m.key, saltLength: a.saltLength,
                              signature: toB64(bytesOf(signature, "signature")) }, bytesOf(data, "data"));
    },

    async encrypt(alg, key, data) { return crypt("encrypt", alg, key, data); },
    async decrypt(alg, key, data) { return crypt("decrypt", alg, key, data); },

    async deriveBits(alg, key, length) {
      const a = normalize(alg);
      const m = use(key, a, "deriveBits");
      const params = { name: a.name, hash: a.hash?.name, key: m.key, length: length ?? undefined,
                       iterations: a.iterations };
      if (a.salt !== undefined) params.salt = toB64(bytesOf(a.salt, "salt"));
      if (a.info !== undefined) params.info = toB64(bytesOf(a.info, "info"));
      if (a.name === "ECDH") {
        if (!(a.public instanceof CryptoKey) || a.public.type !== "public") throw new TypeError("ECDH: algorithm.public must be a public CryptoKey");
        params.public = CryptoKey._material(a.public).key;
      }
      return bytesReply(await host("deriveBits", params)).slice(0);
    },

    async deriveKey(alg, key, derivedAlg, extractable, usages) {
      const a = normalize(alg);
      use(key, a, "deriveKey");
      const target = normalize(derivedAlg);
      const length = target.length ?? (target.name === "HMAC" ? hashBlockBits(target.hash?.name) : undefined);
      if (!length) throw new TypeError("deriveKey: the derived algorithm needs a length");
      const material = CryptoKey._material(key);
      const usable = CryptoKey._mint(material, key.type, false, key.algorithm, ["deriveBits"]);
      const bits = await subtle.deriveBits(a, usable, length);
      return subtle.importKey("raw", bits, target, extractable, usages);
    },
  });

  function hashBlockBits(hash) {
    return hash === "SHA-384" || hash === "SHA-512" ? 1024 : 512;
  }

  function jwkAlg(algorithm) {
    const h = algorithm.hash?.name?.replace("SHA-", "");
    if (algorithm.name === "HMAC") return `HS${h}`;
    if (algorithm.name === "RSASSA-PKCS1-v1_5") return `RS${h}`;
    if (algorithm.name === "RSA-PSS") return `PS${h}`;
    if (algorithm.name === "AES-GCM") return `A${algorithm.length}GCM`;
    if (algorithm.name === "AES-CBC") return `A${algorithm.length}CBC`;
    if (algorithm.name === "Ed25519") return "EdDSA";
    return undefined;
  }

  async function crypt(op, alg, key, data) {
    const a = normalize(alg);
    const m = use(key, a, op);
    const params = { name: a.name, key: m.key, iv: toB64(bytesOf(a.iv, "iv")), tagLength: a.tagLength };
    if (a.additionalData !== undefined) params.additionalData = toB64(bytesOf(a.additionalData, "additionalData"));
    return bytesReply(await host(op, params, bytesOf(data, "data"))).slice(0);
  }

  // crypto itself is made in C (getRandomValues, randomUUID); subtle joins it.
  Object.defineProperty(crypto, "subtle", { value: subtle, enumerable: true });
  return { CryptoKey };
})
