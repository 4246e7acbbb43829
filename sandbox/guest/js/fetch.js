// Headers, Request, Response and fetch (Fetch standard, as Workers has
// them), plus scheduler.wait and navigator. fetch hands the request to the
// host (`flowbox:fetch`, bindings/fetch.py), which performs it under the
// operator's egress policy; requests started together are in flight
// together (sandbox/protocol.py, Pending).
(function (native, g) {
  const { TextEncoder, TextDecoder, URL, URLSearchParams, ReadableStream, Blob, FormData,
          AbortController, AbortSignal, __bytes: helpers } = g;
  const encoder = new TextEncoder();

  // ---- Headers ------------------------------------------------------------

  const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
  const normalizeValue = (v) => String(v).replace(/^[\t\n\r ]+|[\t\n\r ]+$/g, "");

  class Headers {
    #list = []; // [lowercased name, value], in insertion order
    #immutable = false;

    constructor(init) {
      if (init === undefined || init === null) return;
      if (init instanceof Headers) {
        this.#list = init.#list.map(([k, v]) => [k, v]);
      } else if (typeof init === "object" && typeof init[Symbol.iterator] === "function") {
        for (const pair of init) {
          const items = [...pair];
          if (items.length !== 2) throw new TypeError("Headers: each header must be a [name, value] pair");
          this.append(items[0], items[1]);
        }
      } else if (typeof init === "object") {
        for (const k of Object.keys(init)) this.append(k, init[k]);
      } else {
        throw new TypeError("Headers: init must be an object, an iterable of pairs or a Headers");
      }
    }

    static _freeze(h) {
      h.#immutable = true;
      return h;
    }

    #check(name, value) {
      if (this.#immutable) throw new TypeError("Can't modify immutable headers");
      name = String(name);
      if (!TOKEN.test(name)) throw new TypeError(`Invalid header name: '${name}'`);
      if (value !== undefined && /[\0\r\n]/.test(value)) throw new TypeError(`Invalid header value for '${name}'`);
      return name.toLowerCase();
    }

    append(name, value) {
      value = normalizeValue(value);
      this.#list.push([this.#check(name, value), value]);
    }
    delete(name) {
      const k = this.#check(name);
      this.#list = this.#list.filter(([n]) => n !== k);
    }
    get(name) {
      const k = String(name).toLowerCase();
      const values = this.#list.filter(([n]) => n === k).map(([, v]) => v);
      return values.length ? values.join(", ") : null;
    }
    getSetCookie() { return this.#list.filter(([n]) => n === "set-cookie").map(([, v]) => v); }
    getAll(name) {
      if (String(name).toLowerCase() !== "set-cookie") throw new TypeError("getAll() can only be used with the header name 'Set-Cookie'");
      return this.getSetCookie();
    }
    has(name) {
      const k = String(name).toLowerCase();
      return this.#list.some(([n]) => n === k);
    }
    set(name, value) {
      value = normalizeValue(value);
      const k = this.#check(name, value);
      const i = this.#list.findIndex(([n]) => n === k);
      if (i < 0) this.#list.push([k, value]);
      else this.#list = [...this.#list.slice(0, i), [k, value], ...this.#list.slice(i + 1).filter(([n]) => n !== k)];
    }
    // Sorted by name, values of one name combined (set-cookie kept apart),
    // as the standard's "sort and combine".
    *entries() {
      const names = [...new Set(this.#list.map(([n]) => n))].sort();
      for (const n of names) {
        if (n === "set-cookie") for (const v of this.getSetCookie()) yield [n, v];
        else yield [n, this.get(n)];
      }
    }
    *keys() { for (const [k] of this.entries()) yield k; }
    *values() { for (const [, v] of this.entries()) yield v; }
    forEach(fn, thisArg) { for (const [k, v] of this.entries()) fn.call(thisArg, v, k, this); }
    [Symbol.iterator]() { return this.entries(); }
    get [Symbol.toStringTag]() { return "Headers"; }
  }

  // ---- bodies -------------------------------------------------------------

  // [bytes | ReadableStream | null, content type | null]
  function extractBody(body) {
    if (body === null || body === undefined) return [null, null];
    if (typeof body === "string") return [encoder.encode(body), "text/plain;charset=UTF-8"];
    if (body instanceof URLSearchParams) return [encoder.encode(body.toString()), "application/x-www-form-urlencoded;charset=UTF-8"];
    if (body instanceof FormData) return helpers.encodeMultipart(body);
    if (body instanceof Blob) return [Blob._bytes(body).slice(), body.type || null];
    if (body instanceof ArrayBuffer) return [new Uint8Array(body.slice(0)), null];
    if (ArrayBuffer.isView(body)) return [new Uint8Array(body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength)), null];
    if (body instanceof ReadableStream) {
      if (body.locked || ReadableStream._disturbed(body)) throw new TypeError("the body stream is locked or already read");
      return [body, null];
    }
    return [encoder.encode(String(body)), "text/plain;charset=UTF-8"];
  }

  async function readAll(stream) {
    const reader = stream.getReader();
    const chunks = [];
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      if (value instanceof Uint8Array) chunks.push(value);
      else if (ArrayBuffer.isView(value)) chunks.push(new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
      else if (value instanceof ArrayBuffer) chunks.push(new Uint8Array(value));
      else if (typeof value === "string") chunks.push(encoder.encode(value));
      else throw new TypeError("a body stream chunk must be bytes");
    }
    reader.releaseLock();
    return helpers.concat(chunks);
  }

  // What Request and Response share: one body, read at most once.
  class Body {
    #bytes = null;
    #stream = null;
    #used = false;

    _setBody(source) {
      if (source instanceof ReadableStream) this.#stream = source;
      else this.#bytes = source;
    }
    _hasBody() { return this.#bytes !== null || this.#stream !== null; }
    // A copy of the body for clone(): bytes are shared (immutable here), a
    // stream is teed.
    _cloneBody() {
      if (this.#stream === null) return this.#bytes;
      const [a, b] = this.#stream.tee();
      this.#stream = a;
      return b;
    }

    get body() {
      if (this.#stream === null && this.#bytes !== null) {
        this.#stream = helpers.streamOf(this.#bytes);
        this.#bytes = null;
      }
      return this.#stream;
    }
    get bodyUsed() {
      return this.#used || (this.#stream !== null && ReadableStream._disturbed(this.#stream));
    }

    async #consume() {
      if (this.bodyUsed) throw new TypeError("Body has already been used. It can only be used once. Use tee() first if you need to read it twice.");
      this.#used = true;
      if (this.#stream !== null) {
        if (this.#stream.locked) throw new TypeError("the body stream is locked");
        return readAll(this.#stream);
      }
      return this.#bytes ?? new Uint8Array(0);
    }

    async arrayBuffer() {
      const b = await this.#consume();
      return b.buffer.byteLength === b.length ? b.buffer : b.slice().buffer;
    }
    async bytes() { return new Uint8Array(await this.arrayBuffer()); }
    async text() { return new TextDecoder().decode(await this.#consume()); }
    async json() { return JSON.parse(await this.text()); }
    async blob() {
      const bytes = await this.#consume();
      return new Blob([bytes], { type: this.headers.get("content-type") ?? "" });
    }
    async formData() {
      const type = this.headers.get("content-type") ?? "";
      const bytes = await this.#consume();
      if (/^multipart\/form-data/i.test(type)) return helpers.decodeMultipart(bytes, type);
      if (/^application\/x-www-form-urlencoded/i.test(type)) {
        const form = new FormData();
        for (const [k, v] of new URLSearchParams(new TextDecoder().decode(bytes))) form.append(k, v);
        return form;
      }
      throw new TypeError(`formData(): unsupported content type '${type}'`);
    }
  }

  // ---- Request ------------------------------------------------------------

  const METHODS = ["DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH"];
  const REDIRECTS = ["follow", "manual", "error"];

  class Request extends Body {
    #method;
    #url;
    #headers;
    #redirect;
    #signal;
    #cf;

    constructor(input, init = {}) {
      super();
      init = init ?? {};
      const from = input instanceof Request ? input : null;
      let url;
      if (from) url = from.url;
      else {
        try {
          url = new URL(String(input)).href;
        } catch {
          throw new TypeError(`Invalid URL: '${String(input)}' (fetch needs an absolute URL)`);
        }
      }
      let method = init.method !== undefined ? String(init.method) : from ? from.method : "GET";
      if (!TOKEN.test(method)) throw new TypeError(`Invalid HTTP method: '${method}'`);
      const upper = method.toUpperCase();
      if (METHODS.includes(upper)) method = upper;
      if (["CONNECT", "TRACE", "TRACK"].includes(upper)) throw new TypeError(`HTTP method '${method}' is not allowed`);
      const redirect = init.redirect !== undefined ? String(init.redirect) : from ? from.redirect : "follow";
      if (!REDIRECTS.includes(redirect)) throw new TypeError(`Invalid redirect mode: '${redirect}'`);
      this.#method = method;
      this.#url = url;
      this.#redirect = redirect;
      this.#headers = new Headers(init.headers !== undefined ? init.headers : from ? from.headers : undefined);
      this.#signal = init.signal ?? (from ? from.signal : new AbortController().signal);
      this.#cf = init.cf ?? from?.cf;
      let source = null;
      let type = null;
      if (init.body !== undefined && init.body !== null) [source, type] = extractBody(init.body);
      else if (from && from._hasBody()) {
        if (from.bodyUsed) throw new TypeError("Cannot construct a Request with a Request whose body has already been used");
        source = from._cloneBody();
      }
      if (source !== null && (method === "GET" || method === "HEAD")) {
        throw new TypeError("Request with a GET or HEAD method cannot have a body");
      }
      if (source !== null) this._setBody(source);
      if (type !== null && !this.#headers.has("content-type")) this.#headers.set("content-type", type);
    }

    get method() { return this.#method; }
    get url() { return this.#url; }
    get headers() { return this.#headers; }
    get redirect() { return this.#redirect; }
    get signal() { return this.#signal; }
    get cf() { return this.#cf; }
    get keepalive() { return false; }
    get cache() { return undefined; }
    get integrity() { return ""; }
    get fetcher() { return null; }
    clone() {
      if (this.bodyUsed) throw new TypeError("Cannot clone a Request whose body has already been used");
      return new Request(this);
    }
    get [Symbol.toStringTag]() { return "Request"; }
  }

  // ---- Response -----------------------------------------------------------

  const NULL_BODY = [101, 204, 205, 304];
  const REDIRECT_STATUSES = [301, 302, 303, 307, 308];

  class Response extends Body {
    #status;
    #statusText;
    #headers;
    #type = "default";
    #url = "";
    #redirected = false;
    #webSocket = null;

    constructor(body = null, init = {}) {
      super();
      init = init ?? {};
      const status = init.status === undefined ? 200 : Number(init.status);
      if (!Number.isInteger(status) || status < 200 || status > 599) {
        if (!(status === 101 && init.webSocket)) throw new RangeError(`Response status must be between 200 and 599, got ${init.status}`);
      }
      const statusText = init.statusText === undefined ? "" : String(init.statusText);
      if (/[\r\n]/.test(statusText)) throw new TypeError("Invalid statusText");
      this.#status = status;
      this.#statusText = statusText;
      this.#headers = new Headers(init.headers);
      if (body !== null && body !== undefined) {
        if (NULL_BODY.includes(status)) throw new TypeError(`Response with status ${status} cannot have a body`);
        const [source, type] = extractBody(body);
        this._setBody(source);
        if (type !== null && !this.#headers.has("content-type")) this.#headers.set("content-type", type);
      }
    }

    static _fromHost(meta, bytes) {
      const r = new Response(null, { status: 200 });
      r.#status = meta.status;
      r.#statusText = meta.statusText;
      r.#headers = Headers._freeze(new Headers(meta.headers));
      r.#url = meta.url;
      r.#redirected = meta.redirected;
      r.#type = "basic";
      if (!NULL_BODY.includes(meta.status) && bytes !== null) r._setBody(new Uint8Array(bytes));
      return r;
    }

    static json(data, init = {}) {
      const text = JSON.stringify(data);
      if (text === undefined) throw new TypeError("Response.json: the data is not JSON-serializable");
      const headers = new Headers(init?.headers);
      if (!headers.has("content-type")) headers.set("content-type", "application/json");
      return new Response(text, { ...init, headers });
    }
    static redirect(url, status = 302) {
      if (!REDIRECT_STATUSES.includes(Number(status))) throw new RangeError(`Invalid redirect status: ${status}`);
      const r = new Response(null, { status: Number(status), headers: { location: new URL(String(url)).href } });
      Headers._freeze(r.#headers);
      return r;
    }
    static error() {
      const r = new Response(null, { status: 200 });
      r.#status = 0;
      r.#type = "error";
      Headers._freeze(r.#headers);
      return r;
    }

    get status() { return this.#status; }
    get statusText() { return this.#statusText; }
    get ok() { return this.#status >= 200 && this.#status <= 299; }
    get headers() { return this.#headers; }
    get type() { return this.#type; }
    get url() { return this.#url; }
    get redirected() { return this.#redirected; }
    get webSocket() { return this.#webSocket; }
    clone() {
      if (this.bodyUsed) throw new TypeError("Cannot clone a Response whose body has already been used");
      const r = new Response(null, { status: 200 });
      r.#status = this.#status;
      r.#statusText = this.#statusText;
      r.#headers = new Headers(this.#headers);
      r.#type = this.#type;
      r.#url = this.#url;
      r.#redirected = this.#redirected;
      if (this._hasBody()) r._setBody(this._cloneBody());
      return r;
    }
    get [Symbol.toStringTag]() { return "Response"; }
  }

  // ---- fetch --------------------------------------------------------------

  let nextId = 1;

  async function fetch(input, init) {
    const request = new Request(input, init);
    const signal = request.signal;
    signal.throwIfAborted();
    const protocol = new URL(request.url).protocol;
    if (protocol !== "http:" && protocol !== "https:") {
      throw new TypeError(`fetch: only http: and https: URLs can be fetched, not '${protocol}'`);
    }
    const bytes = request._hasBody() ? new Uint8Array(await request.arrayBuffer()) : null;
    const id = nextId++;
    const meta = { id, method: request.method, url: request.url, headers: [...request.headers], redirect: request.redirect };
    const sent = bytes === null ? native.call("flowbox:fetch", "start", meta) : native.call("flowbox:fetch", "start", meta, bytes);
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        native.call("flowbox:fetch", "abort", id).catch(() => {});
        reject(signal.reason);
      };
      signal.addEventListener("abort", onAbort, { once: true });
      sent.then(([m, buffer]) => resolve(Response._fromHost(m, buffer)), reject)
        .finally(() => signal.removeEventListener("abort", onAbort));
    });
  }

  const scheduler = Object.freeze({
    wait(ms, options) {
      return new Promise((resolve, reject) => {
        const signal = options?.signal;
        if (signal?.aborted) return reject(signal.reason);
        const t = setTimeout(resolve, Number(ms) || 0);
        signal?.addEventListener("abort", () => {
          clearTimeout(t);
          reject(signal.reason);
        }, { once: true });
      });
    },
  });

  const navigator = Object.freeze({ userAgent: "Cloudflare-Workers", language: "en", hardwareConcurrency: 1 });

  return { Headers, Request, Response, fetch, scheduler, navigator };
})
