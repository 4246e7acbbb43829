// Event, EventTarget, CustomEvent, AbortController and AbortSignal, with the
// DOM standard's behaviour where workflow code can observe it. Evaluated
// once when the guest starts (globals.c); `native` is unused here.
(function (native, g) {
  const LISTENERS = Symbol("listeners");

  class Event {
    #type;
    #bubbles;
    #cancelable;
    #defaultPrevented = false;
    #stopped = false;
    #timeStamp = Date.now();
    #target = null;
    #phase = 0;

    constructor(type, init = {}) {
      if (arguments.length === 0) throw new TypeError("Event: the type argument is required");
      this.#type = String(type);
      this.#bubbles = Boolean(init?.bubbles);
      this.#cancelable = Boolean(init?.cancelable);
    }
    get type() { return this.#type; }
    get bubbles() { return this.#bubbles; }
    get cancelable() { return this.#cancelable; }
    get composed() { return false; }
    get defaultPrevented() { return this.#defaultPrevented; }
    get timeStamp() { return this.#timeStamp; }
    get target() { return this.#target; }
    get currentTarget() { return this.#phase === 2 ? this.#target : null; }
    get srcElement() { return this.#target; }
    get eventPhase() { return this.#phase; }
    get isTrusted() { return false; }
    get returnValue() { return !this.#defaultPrevented; }
    composedPath() { return this.#phase === 2 ? [this.#target] : []; }
    preventDefault() { if (this.#cancelable) this.#defaultPrevented = true; }
    stopPropagation() {}
    stopImmediatePropagation() { this.#stopped = true; }

    static _begin(event, target) {
      if (event.#phase !== 0) throw new DOMException("The event is already being dispatched", "InvalidStateError");
      event.#target = target;
      event.#phase = 2;
      event.#stopped = false;
    }
    static _stopped(event) { return event.#stopped; }
    static _end(event) { event.#phase = 0; }
  }
  for (const [i, name] of ["NONE", "CAPTURING_PHASE", "AT_TARGET", "BUBBLING_PHASE"].entries()) {
    Object.defineProperty(Event, name, { value: i });
  }

  class CustomEvent extends Event {
    #detail;
    constructor(type, init = {}) {
      super(type, init);
      this.#detail = init?.detail ?? null;
    }
    get detail() { return this.#detail; }
  }

  function optionsOf(options) {
    if (typeof options === "boolean") return { capture: options, once: false, signal: undefined };
    return { capture: Boolean(options?.capture), once: Boolean(options?.once), signal: options?.signal };
  }

  class EventTarget {
    constructor() {
      Object.defineProperty(this, LISTENERS, { value: new Map() });
    }
    addEventListener(type, listener, options) {
      if (listener === null || listener === undefined) return;
      const { capture, once, signal } = optionsOf(options);
      if (signal?.aborted) return;
      type = String(type);
      const list = this[LISTENERS].get(type) ?? [];
      if (list.some((l) => l.listener === listener && l.capture === capture)) return;
      const entry = { listener, capture, once, removed: false };
      list.push(entry);
      this[LISTENERS].set(type, list);
      signal?.addEventListener("abort", () => this.removeEventListener(type, listener, { capture }));
    }
    removeEventListener(type, listener, options) {
      const { capture } = optionsOf(options);
      const list = this[LISTENERS].get(String(type));
      if (!list) return;
      const i = list.findIndex((l) => l.listener === listener && l.capture === capture);
      if (i >= 0) {
        list[i].removed = true;
        list.splice(i, 1);
      }
    }
    dispatchEvent(event) {
      if (!(event instanceof Event)) throw new TypeError("dispatchEvent: argument must be an Event");
      Event._begin(event, this);
      try {
        const handler = this["on" + event.type];
        const list = [...(this[LISTENERS].get(event.type) ?? [])];
        if (typeof handler === "function" && !list.some((l) => l.listener === handler)) {
          list.unshift({ listener: handler, once: false, removed: false });
        }
        for (const entry of list) {
          if (entry.removed) continue;
          if (entry.once) this.removeEventListener(event.type, entry.listener, { capture: entry.capture });
          try {
            if (typeof entry.listener === "function") entry.listener.call(this, event);
            else entry.listener?.handleEvent?.(event);
          } catch (err) {
            reportError(err);
          }
          if (Event._stopped(event)) break;
        }
      } finally {
        Event._end(event);
      }
      return !event.defaultPrevented;
    }
  }

  // A listener that throws must not stop the dispatch; report it as a
  // browser does, on the console.
  function reportError(err) {
    console.error("Uncaught (in event listener)", err);
  }

  const abortReason = () => new DOMException("This operation was aborted", "AbortError");
  const timeoutReason = () => new DOMException("The operation was aborted due to timeout", "TimeoutError");
  let creating = false;

  class AbortSignal extends EventTarget {
    #aborted = false;
    #reason = undefined;
    onabort = null;

    constructor() {
      if (!creating) throw new TypeError("Illegal constructor: use new AbortController().signal");
      super();
    }
    get aborted() { return this.#aborted; }
    get reason() { return this.#reason; }
    throwIfAborted() {
      if (this.#aborted) throw this.#reason;
    }

    static _new() {
      creating = true;
      try {
        return new AbortSignal();
      } finally {
        creating = false;
      }
    }
    static _abort(signal, reason) {
      if (signal.#aborted) return;
      signal.#aborted = true;
      signal.#reason = reason === undefined ? abortReason() : reason;
      signal.dispatchEvent(new Event("abort"));
    }
    static abort(reason) {
      const s = AbortSignal._new();
      AbortSignal._abort(s, reason);
      return s;
    }
    static timeout(ms) {
      const s = AbortSignal._new();
      setTimeout(() => AbortSignal._abort(s, timeoutReason()), Number(ms));
      return s;
    }
    static any(signals) {
      const s = AbortSignal._new();
      const list = [...signals];
      const done = list.find((x) => x.aborted);
      if (done) {
        AbortSignal._abort(s, done.reason);
        return s;
      }
      for (const x of list) x.addEventListener("abort", () => AbortSignal._abort(s, x.reason), { once: true });
      return s;
    }
  }

  class AbortController {
    #signal = AbortSignal._new();
    get signal() { return this.#signal; }
    abort(reason) { AbortSignal._abort(this.#signal, reason); }
  }

  return { Event, CustomEvent, EventTarget, AbortSignal, AbortController };
})
