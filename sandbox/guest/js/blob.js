// Blob, File and FormData (File API and XHR standards), with the
// multipart/form-data encoding and parsing that Request and Response use.
(function (native, g) {
  const { TextEncoder, TextDecoder, ReadableStream } = g;
  const encoder = new TextEncoder();

  function bytesOf(part) {
    if (part instanceof Blob) return Blob._bytes(part);
    if (part instanceof ArrayBuffer) return new Uint8Array(part.slice(0));
    if (ArrayBuffer.isView(part)) return new Uint8Array(part.buffer.slice(part.byteOffset, part.byteOffset + part.byteLength));
    return encoder.encode(String(part));
  }

  function concat(chunks) {
    let n = 0;
    for (const c of chunks) n += c.length;
    const out = new Uint8Array(n);
    let at = 0;
    for (const c of chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }

  // A byte stream that yields `bytes` (not copied) and closes.
  function streamOf(bytes) {
    return new ReadableStream({
      type: "bytes",
      start(c) {
        if (bytes.length) c.enqueue(bytes);
        c.close();
      },
    });
  }

  class Blob {
    #bytes;
    #type;
    constructor(parts = [], options = {}) {
      if (parts === null || typeof parts !== "object" || typeof parts[Symbol.iterator] !== "function") {
        throw new TypeError("Blob: the first argument must be a sequence");
      }
      this.#bytes = concat([...parts].map(bytesOf));
      const type = options?.type === undefined ? "" : String(options.type);
      this.#type = /^[\x20-\x7e]*$/.test(type) ? type.toLowerCase() : "";
    }
    static _bytes(b) { return b.#bytes; }
    get size() { return this.#bytes.length; }
    get type() { return this.#type; }
    slice(start = 0, end = this.#bytes.length, type = "") {
      const n = this.#bytes.length;
      const clamp = (i) => (i < 0 ? Math.max(n + i, 0) : Math.min(i, n));
      const piece = new Blob([], { type });
      piece.#bytes = this.#bytes.slice(clamp(Number(start) || 0), clamp(Number(end)));
      return piece;
    }
    async arrayBuffer() { return this.#bytes.slice().buffer; }
    async bytes() { return this.#bytes.slice(); }
    async text() { return new TextDecoder().decode(this.#bytes); }
    stream() {
      return streamOf(this.#bytes.slice());
    }
    get [Symbol.toStringTag]() { return "Blob"; }
  }

  class File extends Blob {
    #name;
    #lastModified;
    constructor(parts, name, options = {}) {
      if (arguments.length < 2) throw new TypeError("File: a name is required");
      super(parts, options);
      this.#name = String(name);
      this.#lastModified = options?.lastModified === undefined ? Date.now() : Number(options.lastModified);
    }
    get name() { return this.#name; }
    get lastModified() { return this.#lastModified; }
    get [Symbol.toStringTag]() { return "File"; }
  }

  function entryValue(value, filename) {
    if (value instanceof Blob) {
      if (filename !== undefined) return new File([value], filename, { type: value.type });
      return value instanceof File ? value : new File([value], "blob", { type: value.type });
    }
    return String(value);
  }

  class FormData {
    #list = [];
    constructor(form) {
      if (form !== undefined) throw new TypeError("FormData: there is no form element here");
    }
    append(name, value, filename) { this.#list.push([String(name), entryValue(value, filename)]); }
    delete(name) { this.#list = this.#list.filter(([k]) => k !== String(name)); }
    get(name) {
      const hit = this.#list.find(([k]) => k === String(name));
      return hit ? hit[1] : null;
    }
    getAll(name) { return this.#list.filter(([k]) => k === String(name)).map(([, v]) => v); }
    has(name) { return this.#list.some(([k]) => k === String(name)); }
    set(name, value, filename) {
      name = String(name);
      const entry = [name, entryValue(value, filename)];
      const i = this.#list.findIndex(([k]) => k === name);
      if (i < 0) this.#list.push(entry);
      else this.#list = [...this.#list.slice(0, i), entry, ...this.#list.slice(i + 1).filter(([k]) => k !== name)];
    }
    forEach(fn, thisArg) { for (const [k, v] of this.#list) fn.call(thisArg, v, k, this); }
    *entries() { for (const [k, v] of this.#list) yield [k, v]; }
    *keys() { for (const [k] of this.#list) yield k; }
    *values() { for (const [, v] of this.#list) yield v; }
    [Symbol.iterator]() { return this.entries(); }
    get [Symbol.toStringTag]() { return "FormData"; }
  }

  // ---- multipart/form-data --------------------------------------------------

  const quote = (s) => s.replace(/\r/g, "%0D").replace(/\n/g, "%0A").replace(/"/g, "%22");

  // [bytes, content type] of a FormData body.
  function encodeMultipart(form) {
    const boundary = "----FlowboxFormBoundary" + crypto.randomUUID().replace(/-/g, "");
    const chunks = [];
    for (const [name, value] of form) {
      let head = `--${boundary}\r\nContent-Disposition: form-data; name="${quote(name)}"`;
      if (value instanceof File) {
        head += `; filename="${quote(value.name)}"\r\nContent-Type: ${value.type || "application/octet-stream"}`;
      }
      chunks.push(encoder.encode(head + "\r\n\r\n"));
      chunks.push(value instanceof File ? Blob._bytes(value) : encoder.encode(value.replace(/\r?\n|\r/g, "\r\n")));
      chunks.push(encoder.encode("\r\n"));
    }
    chunks.push(encoder.encode(`--${boundary}--\r\n`));
    return [concat(chunks), `multipart/form-data; boundary=${boundary}`];
  }

  function indexOf(haystack, needle, from) {
    outer: for (let i = from; i <= haystack.length - needle.length; i++) {
      for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
      return i;
    }
    return -1;
  }

  function param(header, name) {
    const m = new RegExp(`;\\s*${name}="((?:[^"\\\\]|\\\\.)*)"|;\\s*${name}=([^;\\s]*)`, "i").exec(header);
    return m ? (m[1] ?? m[2]).replace(/%22/g, '"').replace(/%0D/g, "\r").replace(/%0A/g, "\n") : null;
  }

  function decodeMultipart(bytes, contentType) {
    const boundary = param(contentType, "boundary");
    if (!boundary) throw new TypeError("multipart/form-data body without a boundary");
    const decoder = new TextDecoder();
    const delimiter = encoder.encode(`--${boundary}`);
    const form = new FormData();
    let at = indexOf(bytes, delimiter, 0);
    if (at < 0) throw new TypeError("multipart/form-data body has no parts");
    for (;;) {
      at += delimiter.length;
      if (bytes[at] === 0x2d && bytes[at + 1] === 0x2d) return form; // closing delimiter
      at += 2; // CRLF
      const headEnd = indexOf(bytes, encoder.encode("\r\n\r\n"), at);
      if (headEnd < 0) throw new TypeError("multipart/form-data part without headers");
      const head = decoder.decode(bytes.subarray(at, headEnd));
      const next = indexOf(bytes, delimiter, headEnd + 4);
      if (next < 0) throw new TypeError("multipart/form-data body is truncated");
      const body = bytes.slice(headEnd + 4, next - 2);
      const disposition = /content-disposition:([^\r\n]*)/i.exec(head)?.[1] ?? "";
      const type = /content-type:\s*([^\r\n]*)/i.exec(head)?.[1] ?? "";
      const name = param(disposition, "name") ?? "";
      const filename = param(disposition, "filename");
      if (filename !== null) form.append(name, new File([body], filename, { type: type || "application/octet-stream" }));
      else form.append(name, decoder.decode(body));
      at = next;
    }
  }

  // __bytes: helpers fetch.js shares (not globals).
  return { Blob, File, FormData,
           __bytes: { encodeMultipart, decodeMultipart, concat, streamOf } };
})
