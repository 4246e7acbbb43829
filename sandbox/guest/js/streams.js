// ReadableStream, WritableStream and TransformStream (WHATWG Streams, the
// default-controller parts that Workers code uses: readers and writers,
// pull sources with backpressure by highWaterMark, tee, pipeTo,
// pipeThrough, async iteration, ReadableStream.from), the queuing
// strategies, and TextEncoderStream / TextDecoderStream.
// Simplification, documented in docs/runtime.md: a TransformStream's
// writes do not wait for its readable side to be read.
(function (native, g) {
  const { TextEncoder, TextDecoder } = g;

  function deferred() {
    let resolve, reject;
    const promise = new Promise((a, b) => { resolve = a; reject = b; });
    promise.catch(() => {}); // observed or not, never an unhandled rejection
    return { promise, resolve, reject };
  }

  function sizeOf(strategy) {
    const size = strategy?.size;
    return typeof size === "function" ? (chunk) => Number(size(chunk)) : () => 1;
  }

  function highWaterMark(strategy, fallback) {
    const hwm = strategy?.highWaterMark === undefined ? fallback : Number(strategy.highWaterMark);
    if (Number.isNaN(hwm) || hwm < 0) throw new RangeError("highWaterMark must be a non-negative number");
    return hwm;
  }

  // ---- ReadableStream --------------------------------------------------------

  class ReadableStreamDefaultController {
    #stream;
    constructor(stream) {
      if (!(stream instanceof ReadableStream)) throw new TypeError("Illegal constructor");
      this.#stream = stream;
    }
    get desiredSize() { return ReadableStream._desiredSize(this.#stream); }
    enqueue(chunk) { ReadableStream._enqueue(this.#stream, chunk); }
    close() { ReadableStream._closeRequested(this.#stream); }
    error(e) { ReadableStream._error(this.#stream, e); }
  }

  class ReadableStream {
    #state = "readable"; // readable | closed | errored
    #queue = [];
    #queueSize = 0;
    #closeRequested = false;
    #storedError;
    #reader = null;
    #source;
    #controller;
    #hwm;
    #size;
    #started = false;
    #pulling = false;
    #pullAgain = false;
    #disturbed = false;

    constructor(source = {}, strategy = {}) {
      source = source ?? {};
      if (source.type === "bytes") this.#hwm = highWaterMark(strategy, 0);
      else if (source.type !== undefined) throw new RangeError(`ReadableStream: unsupported type '${source.type}'`);
      else this.#hwm = highWaterMark(strategy, 1);
      this.#size = source.type === "bytes" ? (c) => c.byteLength : sizeOf(strategy);
      this.#source = source;
      this.#controller = new ReadableStreamDefaultController(this);
      Promise.resolve()
        .then(() => (typeof source.start === "function" ? source.start.call(source, this.#controller) : undefined))
        .then(() => {
          this.#started = true;
          ReadableStream.#maybePull(this);
        }, (e) => ReadableStream._error(this, e));
    }

    static _desiredSize(s) {
      if (s.#state === "errored") return null;
      if (s.#state === "closed") return 0;
      return s.#hwm - s.#queueSize;
    }

    static _enqueue(s, chunk) {
      if (s.#state !== "readable" || s.#closeRequested) throw new TypeError("ReadableStream: cannot enqueue into a closed stream");
      const reads = s.#reader?._reads;
      if (reads?.length) {
        reads.shift().resolve({ value: chunk, done: false });
      } else {
        const size = s.#size(chunk);
        if (!(size >= 0) || size === Infinity) throw new RangeError("chunk size must be a finite non-negative number");
        s.#queue.push([chunk, size]);
        s.#queueSize += size;
      }
      ReadableStream.#maybePull(s);
    }

    static _closeRequested(s) {
      if (s.#state !== "readable" || s.#closeRequested) throw new TypeError("ReadableStream: the stream is already closing or closed");
      s.#closeRequested = true;
      if (s.#queue.length === 0) ReadableStream.#close(s);
    }

    static #close(s) {
      s.#state = "closed";
      const reader = s.#reader;
      if (!reader) return;
      for (const r of reader._reads.splice(0)) r.resolve({ value: undefined, done: true });
      reader._closed.resolve(undefined);
    }

    static _error(s, e) {
      if (s.#state !== "readable") return;
      s.#state = "errored";
      s.#storedError = e;
      s.#queue = [];
      s.#queueSize = 0;
      const reader = s.#reader;
      if (!reader) return;
      for (const r of reader._reads.splice(0)) r.reject(e);
      reader._closed.reject(e);
    }

    static #maybePull(s) {
      if (!s.#started || s.#state !== "readable" || s.#closeRequested) return;
      const wanted = (s.#reader?._reads.length ?? 0) > 0 || ReadableStream._desiredSize(s) > 0;
      if (!wanted || typeof s.#source.pull !== "function") return;
      if (s.#pulling) {
        s.#pullAgain = true;
        return;
      }
      s.#pulling = true;
      Promise.resolve()
        .then(() => s.#source.pull.call(s.#source, s.#controller))
        .then(() => {
          s.#pulling = false;
          if (s.#pullAgain) {
            s.#pullAgain = false;
            ReadableStream.#maybePull(s);
          }
        }, (e) => ReadableStream._error(s, e));
    }

    // Called by the reader: the next chunk, or a pending read.
    static _read(s, reader) {
      s.#disturbed = true;
      if (s.#state === "closed") return Promise.resolve({ value: undefined, done: true });
      if (s.#state === "errored") return Promise.reject(s.#storedError);
      if (s.#queue.length) {
        const [chunk, size] = s.#queue.shift();
        s.#queueSize -= size;
        if (s.#closeRequested && s.#queue.length === 0) ReadableStream.#close(s);
        else ReadableStream.#maybePull(s);
        return Promise.resolve({ value: chunk, done: false });
      }
      const d = deferred();
      reader._reads.push(d);
      ReadableStream.#maybePull(s);
      return d.promise;
    }

    static _attach(s, reader) {
      if (s.#reader) throw new TypeError("ReadableStream is locked to a reader");
      s.#reader = reader;
      if (s.#state === "closed") reader._closed.resolve(undefined);
      if (s.#state === "errored") reader._closed.reject(s.#storedError);
    }

    static _detach(s, reader) {
      for (const r of reader._reads.splice(0)) r.reject(new TypeError("the reader was released"));
      if (s.#state === "readable") reader._closed.reject(new TypeError("the reader was released"));
      s.#reader = null;
    }

    static async _cancel(s, reason) {
      s.#disturbed = true;
      if (s.#state === "closed") return;
      if (s.#state === "errored") throw s.#storedError;
      s.#queue = [];
      s.#queueSize = 0;
      ReadableStream.#close(s);
      if (typeof s.#source.cancel === "function") await s.#source.cancel.call(s.#source, reason);
    }

    static _disturbed(s) { return s.#disturbed; }

    get locked() { return this.#reader !== null; }

    getReader(options) {
      if (options?.mode === "byob") return new ReadableStreamBYOBReader(this);
      if (options?.mode !== undefined) throw new RangeError(`getReader: unknown mode '${options.mode}'`);
      return new ReadableStreamDefaultReader(this);
    }

    cancel(reason) {
      if (this.locked) return Promise.reject(new TypeError("cannot cancel a locked stream"));
      return ReadableStream._cancel(this, reason);
    }

    tee() {
      const reader = this.getReader();
      const controllers = [];
      let canceled = 0;
      let reading = false;
      const pull = async () => {
        if (reading) return;
        reading = true;
        try {
          const { value, done } = await reader.read();
          for (const c of controllers) {
            if (c.gone) continue;
            if (done) c.close();
            else c.enqueue(value);
          }
        } catch (e) {
          for (const c of controllers) c.error(e);
        } finally {
          reading = false;
        }
      };
      const branch = () => new ReadableStream({
        start(c) { controllers.push(c); },
        pull,
        cancel(reason) {
          this.gone = true;
          if (++canceled === 2) return reader.cancel(reason);
        },
      });
      return [branch(), branch()];
    }

    async pipeTo(dest, options = {}) {
      if (!(dest instanceof WritableStream)) throw new TypeError("pipeTo: destination must be a WritableStream");
      const { preventClose, preventAbort, preventCancel, signal } = options ?? {};
      const reader = this.getReader();
      const writer = dest.getWriter();
      let aborted = null;
      const onAbort = () => {
        aborted = signal.reason;
        reader.cancel(aborted).catch(() => {});
      };
      if (signal?.aborted) onAbort();
      signal?.addEventListener("abort", onAbort, { once: true });
      try {
        for (;;) {
          if (aborted !== null) throw aborted;
          const { value, done } = await reader.read();
          if (aborted !== null) throw aborted;
          if (done) break;
          await writer.ready;
          await writer.write(value);
        }
        if (!preventClose) await writer.close();
      } catch (e) {
        if (!preventAbort) await writer.abort(e).catch(() => {});
        if (!preventCancel) await reader.cancel(e).catch(() => {});
        throw e;
      } finally {
        signal?.removeEventListener("abort", onAbort);
        reader.releaseLock();
        writer.releaseLock();
      }
    }

    pipeThrough(transform, options) {
      if (!transform || !(transform.writable instanceof WritableStream) || !(transform.readable instanceof ReadableStream)) {
        throw new TypeError("pipeThrough: argument must be {writable, readable}");
      }
      this.pipeTo(transform.writable, options).catch(() => {});
      return transform.readable;
    }

    values(options) {
      const reader = this.getReader();
      const preventCancel = Boolean(options?.preventCancel);
      return {
        next: () => reader.read(),
        return: async (value) => {
          if (!preventCancel) await reader.cancel(value);
          reader.releaseLock();
          return { value, done: true };
        },
        [Symbol.asyncIterator]() { return this; },
      };
    }

    [Symbol.asyncIterator](options) { return this.values(options); }

    static from(iterable) {
      if (iterable instanceof ReadableStream) return iterable;
      const it = iterable?.[Symbol.asyncIterator]?.() ?? iterable?.[Symbol.iterator]?.();
      if (!it) throw new TypeError("ReadableStream.from: argument is not iterable");
      return new ReadableStream({
        async pull(c) {
          const { value, done } = await it.next();
          if (done) c.close();
          else c.enqueue(await value);
        },
        async cancel(reason) { await it.return?.(reason); },
      }, { highWaterMark: 0 });
    }
  }

  class ReadableStreamDefaultReader {
    #stream;
    _reads = [];
    _closed = deferred();
    constructor(stream) {
      if (!(stream instanceof ReadableStream)) throw new TypeError("ReadableStreamDefaultReader: argument must be a ReadableStream");
      ReadableStream._attach(stream, this);
      this.#stream = stream;
    }
    get closed() { return this._closed.promise; }
    read() {
      if (!this.#stream) return Promise.reject(new TypeError("the reader was released"));
      return ReadableStream._read(this.#stream, this);
    }
    cancel(reason) {
      if (!this.#stream) return Promise.reject(new TypeError("the reader was released"));
      return ReadableStream._cancel(this.#stream, reason);
    }
    releaseLock() {
      if (!this.#stream) return;
      ReadableStream._detach(this.#stream, this);
      this.#stream = null;
    }
  }

  // Reads into the caller's buffer, for byte streams; chunks larger than
  // the view are split.
  class ReadableStreamBYOBReader {
    #reader;
    #rest = null;
    constructor(stream) { this.#reader = new ReadableStreamDefaultReader(stream); }
    get closed() { return this.#reader.closed; }
    async read(view) {
      if (!ArrayBuffer.isView(view)) throw new TypeError("read(view): argument must be an ArrayBuffer view");
      let chunk = this.#rest;
      this.#rest = null;
      if (chunk === null) {
        const { value, done } = await this.#reader.read();
        if (done) return { value: new view.constructor(view.buffer, view.byteOffset, 0), done: true };
        chunk = value instanceof Uint8Array ? value : new Uint8Array(ArrayBuffer.isView(value) ? value.buffer : value);
      }
      const target = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
      const n = Math.min(target.length, chunk.length);
      target.set(chunk.subarray(0, n));
      if (n < chunk.length) this.#rest = chunk.subarray(n);
      const per = view.BYTES_PER_ELEMENT ?? 1;
      return { value: new view.constructor(view.buffer, view.byteOffset, Math.floor(n / per)), done: false };
    }
    cancel(reason) { return this.#reader.cancel(reason); }
    releaseLock() { this.#reader.releaseLock(); }
  }

  // ---- WritableStream --------------------------------------------------------

  class WritableStreamDefaultController {
    #stream;
    #signal;
    constructor(stream, signal) {
      this.#stream = stream;
      this.#signal = signal;
    }
    get signal() { return this.#signal; }
    error(e) { WritableStream._error(this.#stream, e); }
  }

  class WritableStream {
    #state = "writable"; // writable | closing | closed | errored
    #sink;
    #controller;
    #abort = new g.AbortController();
    #chain;
    #storedError;
    #writer = null;
    #hwm;
    #size;
    #inFlight = 0;

    constructor(sink = {}, strategy = {}) {
      this.#sink = sink ?? {};
      this.#hwm = highWaterMark(strategy, 1);
      this.#size = sizeOf(strategy);
      this.#controller = new WritableStreamDefaultController(this, this.#abort.signal);
      this.#chain = Promise.resolve().then(() =>
        typeof this.#sink.start === "function" ? this.#sink.start.call(this.#sink, this.#controller) : undefined);
      this.#chain.catch((e) => WritableStream._error(this, e));
    }

    static _error(s, e) {
      if (s.#state === "errored" || s.#state === "closed") return;
      s.#state = "errored";
      s.#storedError = e;
      s.#writer?._closed.reject(e);
    }

    static _desiredSize(s) {
      if (s.#state === "errored") return null;
      if (s.#state === "closed") return 0;
      return s.#hwm - s.#inFlight;
    }

    static _write(s, chunk) {
      if (s.#state !== "writable") {
        return Promise.reject(s.#state === "errored" ? s.#storedError : new TypeError("the stream is closing or closed"));
      }
      const size = s.#size(chunk);
      s.#inFlight += size;
      const step = s.#chain.then(() => {
        if (s.#state === "errored") throw s.#storedError;
        return typeof s.#sink.write === "function" ? s.#sink.write.call(s.#sink, chunk, s.#controller) : undefined;
      });
      s.#chain = step.then(() => { s.#inFlight -= size; }, (e) => {
        s.#inFlight -= size;
        WritableStream._error(s, e);
      });
      return step.then(() => undefined);
    }

    static _close(s) {
      if (s.#state !== "writable") return Promise.reject(new TypeError("the stream is already closing or closed"));
      s.#state = "closing";
      const done = s.#chain.then(() => {
        if (s.#state === "errored") throw s.#storedError;
        return typeof s.#sink.close === "function" ? s.#sink.close.call(s.#sink) : undefined;
      }).then(() => {
        s.#state = "closed";
        s.#writer?._closed.resolve(undefined);
      }, (e) => {
        s.#state = "writable";
        WritableStream._error(s, e);
        throw e;
      });
      s.#chain = done.catch(() => {});
      return done;
    }

    static async _abort(s, reason) {
      if (s.#state === "closed" || s.#state === "errored") return;
      s.#abort.abort(reason);
      WritableStream._error(s, reason);
      if (typeof s.#sink.abort === "function") await s.#sink.abort.call(s.#sink, reason);
    }

    static _attach(s, writer) {
      if (s.#writer) throw new TypeError("WritableStream is locked to a writer");
      s.#writer = writer;
      if (s.#state === "errored") writer._closed.reject(s.#storedError);
      if (s.#state === "closed") writer._closed.resolve(undefined);
    }

    static _detach(s) { s.#writer = null; }
    static _ready(s) { return s.#chain.then(() => undefined); }

    get locked() { return this.#writer !== null; }
    getWriter() { return new WritableStreamDefaultWriter(this); }
    abort(reason) {
      if (this.locked) return Promise.reject(new TypeError("cannot abort a locked stream"));
      return WritableStream._abort(this, reason);
    }
    close() {
      if (this.locked) return Promise.reject(new TypeError("cannot close a locked stream"));
      return WritableStream._close(this);
    }
  }

  class WritableStreamDefaultWriter {
    #stream;
    _closed = deferred();
    constructor(stream) {
      if (!(stream instanceof WritableStream)) throw new TypeError("WritableStreamDefaultWriter: argument must be a WritableStream");
      WritableStream._attach(stream, this);
      this.#stream = stream;
    }
    #live() {
      if (!this.#stream) throw new TypeError("the writer was released");
      return this.#stream;
    }
    get closed() { return this._closed.promise; }
    get ready() { return this.#stream ? WritableStream._ready(this.#stream) : Promise.reject(new TypeError("the writer was released")); }
    get desiredSize() { return WritableStream._desiredSize(this.#live()); }
    write(chunk) {
      try {
        return WritableStream._write(this.#live(), chunk);
      } catch (e) {
        return Promise.reject(e);
      }
    }
    close() {
      try {
        return WritableStream._close(this.#live());
      } catch (e) {
        return Promise.reject(e);
      }
    }
    abort(reason) {
      try {
        return WritableStream._abort(this.#live(), reason);
      } catch (e) {
        return Promise.reject(e);
      }
    }
    releaseLock() {
      if (!this.#stream) return;
      WritableStream._detach(this.#stream);
      this.#stream = null;
    }
  }

  // ---- TransformStream -------------------------------------------------------

  class TransformStream {
    #readable;
    #writable;

    constructor(transformer = {}, writableStrategy = {}, readableStrategy = {}) {
      transformer = transformer ?? {};
      let rc;
      this.#readable = new ReadableStream({ start(c) { rc = c; } }, readableStrategy);
      const controller = {
        get desiredSize() { return rc.desiredSize; },
        enqueue: (chunk) => rc.enqueue(chunk),
        error: (e) => {
          rc.error(e);
          WritableStream._error(this.#writable, e);
        },
        terminate: () => { try { rc.close(); } catch {} },
      };
      const started = Promise.resolve(typeof transformer.start === "function" ? transformer.start.call(transformer, controller) : undefined);
      this.#writable = new WritableStream({
        start: () => started,
        write(chunk) {
          if (typeof transformer.transform === "function") return transformer.transform.call(transformer, chunk, controller);
          rc.enqueue(chunk);
        },
        async close() {
          if (typeof transformer.flush === "function") await transformer.flush.call(transformer, controller);
          try { rc.close(); } catch {}
        },
        abort(reason) { rc.error(reason); },
      }, writableStrategy);
    }
    get readable() { return this.#readable; }
    get writable() { return this.#writable; }
  }

  class TextEncoderStream extends TransformStream {
    constructor() {
      const encoder = new TextEncoder();
      let pending = "";
      super({
        transform(chunk, c) {
          let text = pending + String(chunk);
          pending = "";
          // A high surrogate at the end may pair with the next chunk.
          const last = text.charCodeAt(text.length - 1);
          if (last >= 0xd800 && last <= 0xdbff) {
            pending = text.slice(-1);
            text = text.slice(0, -1);
          }
          if (text) c.enqueue(encoder.encode(text));
        },
        flush(c) { if (pending) c.enqueue(encoder.encode(pending)); },
      });
    }
    get encoding() { return "utf-8"; }
  }

  class TextDecoderStream extends TransformStream {
    #decoder;
    constructor(label = "utf-8", options = {}) {
      const decoder = new TextDecoder(label, options);
      super({
        transform(chunk, c) {
          const text = decoder.decode(chunk, { stream: true });
          if (text) c.enqueue(text);
        },
        flush(c) {
          const text = decoder.decode();
          if (text) c.enqueue(text);
        },
      });
      this.#decoder = decoder;
    }
    get encoding() { return this.#decoder.encoding; }
    get fatal() { return this.#decoder.fatal; }
    get ignoreBOM() { return this.#decoder.ignoreBOM; }
  }

  class CountQueuingStrategy {
    #hwm;
    constructor({ highWaterMark }) { this.#hwm = Number(highWaterMark); }
    get highWaterMark() { return this.#hwm; }
    get size() { return () => 1; }
  }

  class ByteLengthQueuingStrategy {
    #hwm;
    constructor({ highWaterMark }) { this.#hwm = Number(highWaterMark); }
    get highWaterMark() { return this.#hwm; }
    get size() { return (chunk) => chunk.byteLength; }
  }

  return {
    ReadableStream, ReadableStreamDefaultReader, ReadableStreamBYOBReader, ReadableStreamDefaultController,
    WritableStream, WritableStreamDefaultWriter, WritableStreamDefaultController, TransformStream,
    TextEncoderStream, TextDecoderStream, CountQueuingStrategy, ByteLengthQueuingStrategy,
  };
})
