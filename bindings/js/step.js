// Adapter for `step` (bindings/step.py): Cloudflare Workflows' WorkflowStep
// over the raw host methods do, done, sleep, sleepUntil and wait. The host
// decides from the journal whether a step replays, runs, throws or suspends;
// a suspended step's promise never settles in this activation.
(() => {
  const TAG = "__flowbox_bytes__";
  const freeze = Object.freeze;
  const stringify = JSON.stringify;
  const parse = JSON.parse;
  const isView = ArrayBuffer.isView;
  const toBase64 = Uint8Array.prototype.toBase64;
  const fromBase64 = Uint8Array.fromBase64;
  const call = Function.prototype.call.bind(Function.prototype.call);
  const SafeDate = Date;
  const dateTime = Date.prototype.getTime;
  const isDate = (v) => { try { call(dateTime, v); return true; } catch { return false; } };
  const VIEWS = freeze({
    Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array,
    Uint32Array, Float32Array, Float64Array, BigInt64Array, BigUint64Array, DataView,
  });
  const viewName = (v) => {
    for (const name in VIEWS) if (v instanceof VIEWS[name]) return name;
    return "Uint8Array";
  };
  const NEVER = () => new Promise(() => {});
  const SafeReadableStream = ReadableStream;
  const SafeResponse = Response;
  const STREAM = "__flowbox_stream__";
  // A persisted stream comes back as a fresh stream over its bytes.
  const streamOf = (bytes) => new SafeResponse(bytes).body;

  // Step results travel as JSON text; bytes (ArrayBuffer and typed arrays)
  // as tagged base64, so they come back as the same types on replay.
  const replacer = function (key, value) {
    const t = typeof value;
    if (t === "function" || t === "symbol" || t === "bigint") {
      throw new TypeError(`a ${t} cannot be persisted${key ? ` (at "${key}")` : ""}`);
    }
    if (value instanceof ArrayBuffer) {
      return { [TAG]: "ArrayBuffer", b64: call(toBase64, new Uint8Array(value)) };
    }
    if (isView(value)) {
      const bytes = new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
      return { [TAG]: viewName(value), b64: call(toBase64, bytes) };
    }
    return value;
  };
  const reviver = (key, value) => {
    if (value === null || typeof value !== "object" || typeof value[TAG] !== "string") return value;
    const buffer = fromBase64(value.b64).buffer;
    if (value[TAG] === "ArrayBuffer") return buffer;
    const View = VIEWS[value[TAG]] ?? Uint8Array;
    return new View(buffer);
  };
  const encode = (value) => (value === undefined ? null : stringify(value, replacer) ?? null);
  const decode = (text) => {
    if (text === null || text === undefined) return undefined;
    const value = parse(text, reviver);
    return value !== null && typeof value === "object" && value[STREAM] instanceof Uint8Array
      ? streamOf(value[STREAM]) : value;
  };

  const describe = (err) => {
    try {
      const name = err !== null && typeof err === "object" && "name" in err ? String(err.name) : "Error";
      const message = err !== null && typeof err === "object" && "message" in err
        ? String(err.message) : String(err);
      return { name, message, nonRetryable: name === "NonRetryableError" };
    } catch {
      return { name: "Error", message: "the step threw a value that cannot be described",
               nonRetryable: false };
    }
  };

  const timer = setTimeout;
  const wait = (ms) => new Promise((resolve) => timer(resolve, ms));

  return (raw) => {
    const settle = (reply) => ("suspend" in reply ? NEVER() : decode(reply.value));
    // A short sleep or retry delay is waited out here (the host answers
    // {sleep: ms, key}), then the host decides again.
    const waitedOut = async (reply) => {
      while ("sleep" in reply) {
        await wait(reply.sleep);
        reply = await raw.again(reply.key);
      }
      return reply;
    };
    return freeze({
      async do(name, configOrFn, fn) {
        const callback = typeof configOrFn === "function" ? configOrFn : fn;
        const config = typeof configOrFn === "function" ? null : configOrFn ?? null;
        if (typeof callback !== "function") {
          throw new TypeError(`step.do("${name}"): the last argument must be a function`);
        }
        let reply = await waitedOut(await raw.do(name, config));
        while ("run" in reply) {
          let outcome = null;
          let value;
          try {
            value = await callback();
            // A stream's bytes are what is persisted, as on Cloudflare.
            if (value instanceof SafeReadableStream) value = { [STREAM]: new Uint8Array(await new SafeResponse(value).arrayBuffer()) };
          } catch (err) {
            outcome = { error: describe(err) };
          }
          if (outcome === null) {
            try {
              outcome = { value: encode(value) };
            } catch (err) {
              // Retrying cannot make a result serializable.
              const why = describe(err);
              outcome = { error: { name: why.name, nonRetryable: true,
                                   message: `step.do("${name}"): the result ${why.message}` } };
            }
          }
          reply = await waitedOut(await raw.done(reply.key, outcome));
        }
        return settle(reply);
      },
      async sleep(name, duration) {
        return settle(await waitedOut(await raw.sleep(name, duration)));
      },
      async sleepUntil(name, timestamp) {
        const at = isDate(timestamp) ? call(dateTime, timestamp) : timestamp;
        return settle(await waitedOut(await raw.sleepUntil(name, at)));
      },
      async waitForEvent(name, options) {
        if (options === null || typeof options !== "object") {
          throw new TypeError(`step.waitForEvent("${name}"): options {type, timeout} are required`);
        }
        const reply = await raw.wait(name, options.type, options.timeout ?? null);
        if ("suspend" in reply) return NEVER();
        const event = parse(reply.value, reviver);
        return freeze({ payload: event.payload, type: event.type, timestamp: new SafeDate(event.timestamp) });
      },
    });
  };
})()
