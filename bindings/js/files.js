// Adapter for `files` (bindings/files.py): Cloudflare R2's binding API over
// the raw host methods put, get, head, delete and list.
(() => {
  const call = Function.prototype.call.bind(Function.prototype.call);
  const freeze = Object.freeze;
  const isView = ArrayBuffer.isView;
  const SafeDate = Date;
  const SafeUint8Array = Uint8Array;
  const SafeArrayBuffer = ArrayBuffer;
  const parse = JSON.parse;
  const decoder = new TextDecoder();
  const decode = TextDecoder.prototype.decode;
  const encoder = new TextEncoder();
  const encode = TextEncoder.prototype.encode;

  // Bodies cross to the host as a Uint8Array: raw bytes, no JSON.
  const bodyOf = (value) => {
    if (value === null || value === undefined) return null;
    if (typeof value === "string") return call(encode, encoder, value);
    if (value instanceof SafeArrayBuffer) return new SafeUint8Array(value);
    if (isView(value)) return new SafeUint8Array(value.buffer, value.byteOffset, value.byteLength);
    throw new TypeError("files.put: the value must be a string, ArrayBuffer, typed array or null " +
                        "(streams and Blobs are not supported)");
  };

  class R2Object {
    constructor(o) {
      this.key = o.key;
      this.version = o.version;
      this.size = o.size;
      this.etag = o.etag;
      this.httpEtag = o.httpEtag;
      this.uploaded = new SafeDate(o.uploaded);
      this.httpMetadata = o.httpMetadata;
      this.customMetadata = o.customMetadata;
      this.checksums = {};
      this.storageClass = "Standard";
    }
    writeHttpMetadata(headers) {
      for (const [name, value] of Object.entries(this.httpMetadata)) {
        headers.set(name.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase()), value);
      }
    }
  }

  class R2ObjectBody extends R2Object {
    #bytes;
    #used = false;
    constructor(o, body) {
      super(o);
      this.#bytes = new SafeUint8Array(body);
    }
    get bodyUsed() {
      return this.#used;
    }
    get body() {
      throw new TypeError("files: streaming bodies are not supported; use text(), json(), " +
                          "arrayBuffer() or bytes()");
    }
    #take() {
      if (this.#used) throw new TypeError("files: the body was already read");
      this.#used = true;
      return this.#bytes;
    }
    async bytes() {
      return this.#take();
    }
    async arrayBuffer() {
      return this.#take().buffer;
    }
    async text() {
      return call(decode, decoder, this.#take());
    }
    async json() {
      return parse(call(decode, decoder, this.#take()));
    }
  }

  const object = (o) => (o === null ? null : new R2Object(o));

  return (raw) => freeze({
    async put(key, value, options) {
      return object(await raw.put(key, bodyOf(value), options ?? null));
    },
    async get(key, options) {
      const reply = await raw.get(key, options ?? null);
      return reply === null ? null : new R2ObjectBody(reply[0], reply[1]);
    },
    async head(key) {
      return object(await raw.head(key));
    },
    async delete(keys) {
      await raw.delete(keys);
    },
    async list(options) {
      const page = await raw.list(options ?? null);
      const out = { objects: page.objects.map(object), truncated: page.truncated,
                    delimitedPrefixes: page.delimitedPrefixes };
      if (page.cursor !== undefined) out.cursor = page.cursor;
      return out;
    },
  });
})()
