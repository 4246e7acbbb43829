// TextEncoder, TextDecoder, URL and URLSearchParams. Evaluated once when
// the guest starts (globals.c); `native` carries the UTF-8 primitives
// implemented in C.
(function (native) {
  class TextEncoder {
    get encoding() {
      return "utf-8";
    }
    encode(input = "") {
      return native.utf8Encode(String(input).toWellFormed());
    }
    encodeInto(input, dest) {
      const bytes = this.encode(input);
      let n = Math.min(bytes.length, dest.length);
      // Never split a multi-byte sequence.
      while (n > 0 && n < bytes.length && (bytes[n] & 0xc0) === 0x80) n--;
      dest.set(bytes.subarray(0, n));
      const read = native.utf8Decode(bytes.subarray(0, n)).length;
      return { read, written: n };
    }
  }

  const LABELS = new Set(["utf-8", "utf8", "unicode-1-1-utf-8"]);

  class TextDecoder {
    #fatal;
    #ignoreBOM;
    constructor(label = "utf-8", options = {}) {
      if (!LABELS.has(String(label).trim().toLowerCase())) {
        throw new RangeError(`TextDecoder: unsupported encoding '${label}' (only utf-8)`);
      }
      this.#fatal = Boolean(options.fatal);
      this.#ignoreBOM = Boolean(options.ignoreBOM);
    }
    get encoding() {
      return "utf-8";
    }
    get fatal() {
      return this.#fatal;
    }
    get ignoreBOM() {
      return this.#ignoreBOM;
    }
    #pending = null; // the incomplete sequence a streaming decode left
    #bomSeen = false;

    decode(input, options = {}) {
      let bytes;
      if (input === undefined) bytes = new Uint8Array(0);
      else if (input instanceof ArrayBuffer) bytes = new Uint8Array(input);
      else if (ArrayBuffer.isView(input)) bytes = new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
      else throw new TypeError("TextDecoder.decode: argument must be an ArrayBuffer or a view");
      if (this.#pending) {
        const joined = new Uint8Array(this.#pending.length + bytes.length);
        joined.set(this.#pending);
        joined.set(bytes, this.#pending.length);
        bytes = joined;
        this.#pending = null;
      }
      const stream = Boolean(options?.stream);
      if (stream) {
        const cut = completeLength(bytes);
        if (cut < bytes.length) this.#pending = bytes.slice(cut);
        bytes = bytes.subarray(0, cut);
      }
      if (!this.#ignoreBOM && !this.#bomSeen && bytes.length >= 3 &&
          bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) {
        bytes = bytes.subarray(3);
      }
      if (bytes.length) this.#bomSeen = stream;
      if (!stream) this.#bomSeen = false;
      const text = native.utf8Decode(bytes);
      if (this.#fatal && text.includes("\ufffd") && !roundTrips(text, bytes)) {
        throw new TypeError("TextDecoder: the input is not valid UTF-8");
      }
      return text;
    }
  }

  // How many leading bytes end on a complete UTF-8 sequence (a trailing
  // sequence that the next chunk may finish is held back).
  function completeLength(bytes) {
    const n = bytes.length;
    for (let back = 1; back <= Math.min(3, n); back++) {
      const b = bytes[n - back];
      if ((b & 0xc0) === 0x80) continue; // continuation byte: look further back
      const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
      return need > back ? n - back : n;
    }
    return n;
  }

  function roundTrips(text, bytes) {
    const again = native.utf8Encode(text);
    if (again.length !== bytes.length) return false;
    for (let i = 0; i < again.length; i++) if (again[i] !== bytes[i]) return false;
    return true;
  }

  // ---- URLSearchParams -------------------------------------------------

  function formEncode(s) {
    return encodeURIComponent(s)
      .replace(/%20/g, "+")
      .replace(/[!'()~]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase());
  }

  function formDecode(s) {
    const t = s.replace(/\+/g, " ");
    try {
      return decodeURIComponent(t);
    } catch {
      return t;
    }
  }

  class URLSearchParams {
    #list = [];
    #url = null; // the URL whose query this object mirrors

    constructor(init = "") {
      if (typeof init === "object" && init !== null) {
        if (typeof init[Symbol.iterator] === "function") {
          for (const pair of init) {
            const [k, v, ...rest] = [...pair];
            if (rest.length || v === undefined) throw new TypeError("URLSearchParams: each pair needs exactly two items");
            this.#list.push([String(k), String(v)]);
          }
        } else {
          for (const k of Object.keys(init)) this.#list.push([k, String(init[k])]);
        }
      } else {
        this.#parse(String(init));
      }
    }

    #parse(query) {
      this.#list = [];
      const q = query.startsWith("?") ? query.slice(1) : query;
      for (const part of q.split("&")) {
        if (!part) continue;
        const i = part.indexOf("=");
        const k = i < 0 ? part : part.slice(0, i);
        const v = i < 0 ? "" : part.slice(i + 1);
        this.#list.push([formDecode(k), formDecode(v)]);
      }
    }

    static _attach(params, url, query) {
      params.#url = url;
      params.#parse(query);
    }

    static _reparse(params, query) {
      params.#parse(query);
    }

    #update() {
      if (this.#url) URL._setSearchFromParams(this.#url, this.toString());
    }

    get size() {
      return this.#list.length;
    }
    append(k, v) {
      this.#list.push([String(k), String(v)]);
      this.#update();
    }
    delete(k, v) {
      k = String(k);
      this.#list = this.#list.filter(([a, b]) => a !== k || (v !== undefined && b !== String(v)));
      this.#update();
    }
    get(k) {
      const hit = this.#list.find(([a]) => a === String(k));
      return hit ? hit[1] : null;
    }
    getAll(k) {
      return this.#list.filter(([a]) => a === String(k)).map(([, b]) => b);
    }
    has(k, v) {
      return this.#list.some(([a, b]) => a === String(k) && (v === undefined || b === String(v)));
    }
    set(k, v) {
      k = String(k);
      const i = this.#list.findIndex(([a]) => a === k);
      if (i < 0) this.#list.push([k, String(v)]);
      else {
        this.#list[i] = [k, String(v)];
        this.#list = this.#list.filter(([a], j) => a !== k || j === i);
      }
      this.#update();
    }
    sort() {
      this.#list.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      this.#update();
    }
    forEach(fn, thisArg) {
      for (const [k, v] of this.#list) fn.call(thisArg, v, k, this);
    }
    *entries() {
      yield* this.#list.map(([k, v]) => [k, v]);
    }
    *keys() {
      for (const [k] of this.#list) yield k;
    }
    *values() {
      for (const [, v] of this.#list) yield v;
    }
    [Symbol.iterator]() {
      return this.entries();
    }
    toString() {
      return this.#list.map(([k, v]) => formEncode(k) + "=" + formEncode(v)).join("&");
    }
  }

  // ---- URL ---------------------------------------------------------------

  const SPECIAL = { "http:": "80", "https:": "443", "ws:": "80", "wss:": "443", "ftp:": "21", "file:": "" };
  const AUTHORITY = /^\/\/([^/?#]*)/;

  // Percent-encodes what must not appear raw in a path, query or fragment.
  function encodePart(s, extra) {
    let out = "";
    for (const ch of s) {
      const c = ch.codePointAt(0);
      if (c <= 0x20 || c >= 0x7f || extra.includes(ch)) out += encodeURIComponent(ch);
      else out += ch;
    }
    return out;
  }

  function normalizePath(path, special) {
    const segments = [];
    const parts = path.split("/");
    for (let i = 0; i < parts.length; i++) {
      const seg = parts[i];
      const last = i === parts.length - 1;
      if (seg === "..") {
        if (segments.length > 1) segments.pop();
        if (last) segments.push("");
      } else if (seg === ".") {
        if (last) segments.push("");
      } else {
        segments.push(seg);
      }
    }
    let out = segments.join("/");
    if (!out.startsWith("/")) out = "/" + out;
    return encodePart(special ? out.replace(/\\/g, "/") : out, '"<>`{}');
  }

  function parseHost(hostPort, special) {
    let host = hostPort;
    let port = "";
    const m = /^(\[[^\]]*\]|[^:]*)(?::(\d*))?$/.exec(hostPort);
    if (!m) throw new TypeError(`Invalid URL: bad host '${hostPort}'`);
    host = m[1];
    port = m[2] || "";
    if (/[\s#%/:<>?@[\\\]^|]/.test(host.replace(/^\[.*\]$/, "h"))) {
      throw new TypeError(`Invalid URL: bad host '${host}'`);
    }
    if (special) {
      host = host.toLowerCase();
      if (!host) throw new TypeError("Invalid URL: empty host");
    }
    if (port !== "" && Number(port) > 65535) throw new TypeError(`Invalid URL: bad port '${port}'`);
    return { host, port: port === "" ? "" : String(Number(port)) };
  }

  function parseAbsolute(input) {
    const m = /^([a-zA-Z][a-zA-Z0-9+.-]*:)(.*)$/s.exec(input);
    if (!m) return null;
    const protocol = m[1].toLowerCase();
    let rest = m[2];
    const special = protocol in SPECIAL;
    const r = { protocol, username: "", password: "", host: "", port: "", pathname: "", search: "", hash: "" };
    const hashAt = rest.indexOf("#");
    if (hashAt >= 0) {
      r.hash = rest.slice(hashAt);
      rest = rest.slice(0, hashAt);
    }
    const queryAt = rest.indexOf("?");
    if (queryAt >= 0) {
      r.search = rest.slice(queryAt);
      rest = rest.slice(0, queryAt);
    }
    if (special) rest = rest.replace(/\\/g, "/").replace(/^\/*/, "//");
    const auth = AUTHORITY.exec(rest);
    if (auth) {
      let hostPort = auth[1];
      const at = hostPort.lastIndexOf("@");
      if (at >= 0) {
        const cred = hostPort.slice(0, at);
        hostPort = hostPort.slice(at + 1);
        const colon = cred.indexOf(":");
        r.username = encodePart(colon < 0 ? cred : cred.slice(0, colon), "@/:");
        r.password = colon < 0 ? "" : encodePart(cred.slice(colon + 1), "@/:");
      }
      Object.assign(r, parseHost(hostPort, special && protocol !== "file:"));
      if (r.port === SPECIAL[protocol]) r.port = "";
      rest = rest.slice(auth[0].length);
      r.pathname = normalizePath(rest, special);
    } else if (special) {
      throw new TypeError(`Invalid URL: '${input}'`);
    } else {
      r.pathname = encodePart(rest, "");
      r.opaque = true;
    }
    r.search = encodePart(r.search, special ? "\"<>'" : '"<>');
    r.hash = encodePart(r.hash, '"<>`');
    return r;
  }

  function resolve(input, base) {
    const r = { ...base, search: "", hash: "" };
    if (base.opaque) {
      if (!input.startsWith("#")) throw new TypeError(`Invalid URL: '${input}'`);
      r.search = base.search;
      r.hash = encodePart(input, '"<>`');
      return r;
    }
    const m = /^([^?#]*)(\?[^#]*)?(#.*)?$/s.exec(input);
    let path = m[1];
    const special = base.protocol in SPECIAL;
    if (special) path = path.replace(/\\/g, "/");
    if (path.startsWith("//")) return parseAbsolute(base.protocol + input);
    if (path === "") {
      r.search = m[2] === undefined ? base.search : m[2];
    } else {
      r.search = m[2] || "";
      if (!path.startsWith("/")) {
        const dir = base.pathname.slice(0, base.pathname.lastIndexOf("/") + 1);
        path = dir + path;
      }
      r.pathname = normalizePath(path, special);
    }
    r.search = encodePart(r.search, '"<>');
    r.hash = encodePart(m[3] || "", '"<>`');
    return r;
  }

  class URL {
    #r;
    #params;

    constructor(url, base) {
      const input = String(url).trim();
      let r = parseAbsolute(input);
      if (!r) {
        if (base === undefined) throw new TypeError(`Invalid URL: '${input}'`);
        const b = parseAbsolute(String(base instanceof URL ? base.href : base).trim());
        if (!b) throw new TypeError(`Invalid base URL: '${base}'`);
        r = resolve(input, b);
      }
      if (r.search === "?") r.search = "";
      if (r.hash === "#") r.hash = "";
      this.#r = r;
      this.#params = new URLSearchParams();
      URLSearchParams._attach(this.#params, this, r.search);
    }

    static canParse(url, base) {
      try {
        new URL(url, base);
        return true;
      } catch {
        return false;
      }
    }

    static parse(url, base) {
      try {
        return new URL(url, base);
      } catch {
        return null;
      }
    }

    static _setSearchFromParams(url, query) {
      url.#r.search = query ? "?" + query : "";
    }

    get protocol() {
      return this.#r.protocol;
    }
    get username() {
      return this.#r.username;
    }
    get password() {
      return this.#r.password;
    }
    get hostname() {
      return this.#r.host;
    }
    get port() {
      return this.#r.port;
    }
    get host() {
      return this.#r.port ? `${this.#r.host}:${this.#r.port}` : this.#r.host;
    }
    get origin() {
      const p = this.#r.protocol;
      return p in SPECIAL && p !== "file:" ? `${p}//${this.host}` : "null";
    }
    get pathname() {
      return this.#r.pathname;
    }
    set pathname(v) {
      if (!this.#r.opaque) this.#r.pathname = normalizePath(String(v), this.#r.protocol in SPECIAL);
    }
    get search() {
      return this.#r.search;
    }
    set search(v) {
      const s = String(v);
      this.#r.search = s === "" || s === "?" ? "" : encodePart(s.startsWith("?") ? s : "?" + s, '"<>');
      URLSearchParams._reparse(this.#params, this.#r.search);
    }
    get searchParams() {
      return this.#params;
    }
    get hash() {
      return this.#r.hash;
    }
    set hash(v) {
      const s = String(v);
      this.#r.hash = s === "" || s === "#" ? "" : encodePart(s.startsWith("#") ? s : "#" + s, '"<>`');
    }
    get href() {
      const r = this.#r;
      if (r.opaque) return r.protocol + r.pathname + r.search + r.hash;
      const cred = r.username || r.password ? r.username + (r.password ? ":" + r.password : "") + "@" : "";
      return `${r.protocol}//${cred}${this.host}${r.pathname}${r.search}${r.hash}`;
    }
    toString() {
      return this.href;
    }
    toJSON() {
      return this.href;
    }
  }

  return { TextEncoder, TextDecoder, URL, URLSearchParams };
})
