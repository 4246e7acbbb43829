/* The Flowbox guest's exports. The host creates a fresh instance per
 * execution and calls, in order:
 *   fb_init()                     builds the runtime and context
 *   fb_reset(memory_limit, stack_size)
 *   fb_compile(source, name)      -> bytecode + entry metadata, or an error
 *   fb_run(bytecode, input_json)  -> the result, or an error
 * Buffers travel through fb_alloc; results come back as one u64 that packs
 * (length << 32) | pointer. Every result starts with a status byte: 'o' for
 * success, 'e' for failure (a JSON object with reason and error follows). */
#include <stdlib.h>
#include <string.h>
#include "guest.h"

static JSRuntime *rt;
static JSContext *ctx;
/* Adapter functions by name (fb_adapter); out of reach of user code. */
static JSValue adapters;

FB_EXPORT("fb_alloc") void *fb_alloc(size_t size) { return malloc(size); }
FB_EXPORT("fb_free") void fb_free(void *ptr) { free(ptr); }

/* The host may run fb_init once, snapshot linear memory, and start later
 * instances from that snapshot; so fb_init must not depend on anything
 * specific to one execution. That belongs in fb_reset. */
FB_EXPORT("fb_init") int fb_init(void) {
    rt = JS_NewRuntime2(&fb_malloc_functions, NULL);
    if (!rt) return -1;
    JS_SetGCThreshold(rt, 1 << 20);
    ctx = JS_NewContext(rt);
    if (!ctx) return -1;
    if (fb_modules_install(ctx) < 0 || fb_globals_install(ctx) < 0 ||
        fb_timers_install(ctx) < 0)
        return -1;
    adapters = JS_NewObjectProto(ctx, JS_NULL);
    return JS_HasException(ctx) ? -1 : 0;
}

FB_EXPORT("fb_reset") int fb_reset(uint32_t memory_limit, uint32_t stack_size) {
    JS_SetMaxStackSize(rt, stack_size);
    JS_UpdateStackTop(rt);
    fb_globals_reset(ctx);
    fb_alloc_set_limit(memory_limit);
    return JS_HasException(ctx) ? -1 : 0;
}

/* ---- output ----------------------------------------------------------- */

/* Objects we serialize for the host have no prototype, so that user code
 * that patched Object.prototype (toJSON, getters) cannot forge them. */
static JSValue plain_object(void) { return JS_NewObjectProto(ctx, JS_NULL); }

static uint64_t pack(uint8_t *buf, size_t len) {
    return ((uint64_t)len << 32) | (uint32_t)(uintptr_t)buf;
}

static uint64_t out_bytes(char status, const void *a, size_t alen, const void *b, size_t blen) {
    uint8_t *buf = malloc(1 + alen + blen);
    if (!buf) __builtin_trap();
    buf[0] = (uint8_t)status;
    if (alen) memcpy(buf + 1, a, alen);
    if (blen) memcpy(buf + 1 + alen, b, blen);
    return pack(buf, 1 + alen + blen);
}

static uint64_t out_json(char status, JSValue value) {
    JSValue text = JS_JSONStringify(ctx, value, JS_UNDEFINED, JS_UNDEFINED);
    JS_FreeValue(ctx, value);
    size_t len = 0;
    const char *s = JS_IsString(text) ? JS_ToCStringLen(ctx, &len, text) : NULL;
    uint64_t r = out_bytes(status, s ? s : "null", s ? len : 4, NULL, 0);
    JS_FreeCString(ctx, s);
    JS_FreeValue(ctx, text);
    return r;
}

static int is_stack_error(JSValueConst err) {
    const char *msg = NULL;
    JSValue m = JS_GetPropertyStr(ctx, err, "message");
    msg = JS_ToCString(ctx, m);
    int hit = msg && (strcmp(msg, "Maximum call stack size exceeded") == 0 ||
                      strncmp(msg, "stack overflow", 14) == 0);
    JS_FreeCString(ctx, msg);
    JS_FreeValue(ctx, m);
    return hit;
}

static JSValue describe_error(JSValueConst err) {
    JSValue d = plain_object();
    if (JS_IsError(err)) {
        JS_SetPropertyStr(ctx, d, "name", JS_GetPropertyStr(ctx, err, "name"));
        JS_SetPropertyStr(ctx, d, "message", JS_GetPropertyStr(ctx, err, "message"));
        JS_SetPropertyStr(ctx, d, "stack", JS_GetPropertyStr(ctx, err, "stack"));
    } else {
        JSValue s = JS_ToString(ctx, err);
        if (JS_IsException(s)) s = JS_NewString(ctx, "[unprintable]");
        JS_SetPropertyStr(ctx, d, "name", JS_NewString(ctx, "Error"));
        JS_SetPropertyStr(ctx, d, "message", s);
    }
    return d;
}

/* The pending exception (or `err` when given) as an 'e' result. */
static uint64_t out_failure(const char *reason, JSValue err) {
    fb_alloc_set_limit(0); /* reporting must not fail for lack of memory */
    if (JS_IsUninitialized(err)) err = JS_GetException(ctx);
    if (strcmp(reason, FB_REASON_THREW) == 0) {
        if (fb_alloc_oom_seen()) reason = FB_REASON_MEMORY;
        else if (JS_IsObject(err) && is_stack_error(err)) reason = FB_REASON_STACK;
    }
    JSValue o = plain_object();
    JS_SetPropertyStr(ctx, o, "reason", JS_NewString(ctx, reason));
    JS_SetPropertyStr(ctx, o, "error", describe_error(err));
    JS_FreeValue(ctx, err);
    return out_json('e', o);
}

static uint64_t out_message(const char *reason, const char *name, const char *message) {
    JSValue o = plain_object();
    JSValue e = plain_object();
    JS_SetPropertyStr(ctx, e, "name", JS_NewString(ctx, name));
    JS_SetPropertyStr(ctx, e, "message", JS_NewString(ctx, message));
    JS_SetPropertyStr(ctx, o, "reason", JS_NewString(ctx, reason));
    JS_SetPropertyStr(ctx, o, "error", e);
    return out_json('e', o);
}

/* ---- adapters ---------------------------------------------------------- */

/* Registers an adapter: a script (NUL-terminated) whose value is a function
 * `(raw) => api` that shapes a capability's raw host methods into the API
 * user code sees. Called before the snapshot is taken, so adapters cost
 * nothing per execution and capture pristine built-ins. */
FB_EXPORT("fb_adapter")
uint64_t fb_adapter(const char *name, const char *src, uint32_t src_len) {
    JSValue fn = JS_Eval(ctx, src, src_len, name, JS_EVAL_TYPE_GLOBAL | JS_EVAL_FLAG_STRICT);
    if (JS_IsException(fn)) return out_failure(FB_REASON_SYNTAX, JS_UNINITIALIZED);
    if (!JS_IsFunction(ctx, fn)) {
        JS_FreeValue(ctx, fn);
        return out_message(FB_REASON_MODULE, "TypeError", "an adapter must evaluate to a function");
    }
    JS_SetPropertyStr(ctx, adapters, name, fn);
    return out_bytes('o', NULL, 0, NULL, 0);
}

/* ---- the event loop ----------------------------------------------------- */

static void drain_jobs(void) {
    JSContext *c;
    int r;
    unsigned jobs = 0;
    while ((r = JS_ExecutePendingJob(rt, &c)) != 0) {
        if (r < 0) JS_FreeValue(ctx, JS_GetException(ctx));
        if ((++jobs & 255) == 0 && fb_alloc_wants_gc()) JS_RunGC(rt);
    }
}

/* Runs jobs and timers until `promise` settles. Returns 0 when it settled,
 * -1 when nothing is left that could ever settle it. */
static int settle(JSValueConst promise) {
    for (;;) {
        drain_jobs();
        if (JS_PromiseState(ctx, promise) != JS_PROMISE_PENDING) return 0;
        int64_t delay = fb_timers_next_delay_ms();
        if (fb_ops_pending()) {
            fb_ops_wait(ctx, delay);
            fb_timers_fire_due(ctx);
            continue;
        }
        if (delay < 0) return -1;
        if (delay > 0) {
            JSValue args = JS_NewArray(ctx);
            JS_SetPropertyUint32(ctx, args, 0, JS_NewInt64(ctx, delay));
            fb_reply reply;
            int rc = fb_host_request(ctx, "timer", "sleep", args, &reply);
            JS_FreeValue(ctx, args);
            if (rc == 0) fb_reply_free(&reply);
        }
        fb_timers_fire_due(ctx);
    }
}

/* ---- modules ------------------------------------------------------------ */

/* Evaluates a compiled module; returns its namespace or JS_EXCEPTION, and
 * sets *never_settled when top-level await can never finish. */
static JSValue evaluate_module(JSValue fn, int *never_settled) {
    JSModuleDef *m = JS_VALUE_GET_PTR(fn);
    *never_settled = 0;
    if (JS_ResolveModule(ctx, fn) < 0) {
        JS_FreeValue(ctx, fn);
        return JS_EXCEPTION;
    }
    JSValue p = JS_EvalFunction(ctx, fn);
    if (JS_IsException(p)) return p;
    if (JS_IsPromise(p)) {
        if (settle(p) < 0) {
            *never_settled = 1;
            JS_FreeValue(ctx, p);
            return JS_EXCEPTION;
        }
        if (JS_PromiseState(ctx, p) == JS_PROMISE_REJECTED) {
            JS_Throw(ctx, JS_PromiseResult(ctx, p));
            JS_FreeValue(ctx, p);
            return JS_EXCEPTION;
        }
    }
    JS_FreeValue(ctx, p);
    return JS_GetModuleNamespace(ctx, m);
}

static int is_workflow_class(JSValueConst v) {
    if (!JS_IsConstructor(ctx, v)) return 0;
    JSValue marker = JS_GetPropertyStr(ctx, v, "__flowboxEntrypoint");
    int hit = JS_IsString(marker);
    JS_FreeValue(ctx, marker);
    return hit;
}

/* The entry point: the default export when it is a function or workflow
 * class, else the first exported workflow class. */
static JSValue find_entry(JSValueConst ns) {
    JSValue def = JS_GetPropertyStr(ctx, ns, "default");
    JSValue meta = plain_object();
    if (JS_IsFunction(ctx, def)) {
        JS_SetPropertyStr(ctx, meta, "export", JS_NewString(ctx, "default"));
        JS_SetPropertyStr(ctx, meta, "kind",
                          JS_NewString(ctx, is_workflow_class(def) ? "workflow" : "function"));
        JS_FreeValue(ctx, def);
        return meta;
    }
    JS_FreeValue(ctx, def);
    JSPropertyEnum *props;
    uint32_t n;
    /* The export names, reported when none of them is an entry point. */
    JSValue names = JS_NewArray(ctx);
    if (JS_GetOwnPropertyNames(ctx, &props, &n, ns, JS_GPN_STRING_MASK) == 0) {
        for (uint32_t i = 0; i < n; i++) {
            JS_SetPropertyUint32(ctx, names, i, JS_AtomToString(ctx, props[i].atom));
            JSValue v = JS_GetProperty(ctx, ns, props[i].atom);
            if (is_workflow_class(v)) {
                JS_SetPropertyStr(ctx, meta, "export", JS_AtomToString(ctx, props[i].atom));
                JS_SetPropertyStr(ctx, meta, "kind", JS_NewString(ctx, "workflow"));
                JS_FreeValue(ctx, v);
                break;
            }
            JS_FreeValue(ctx, v);
        }
        JS_FreePropertyEnum(ctx, props, n);
    }
    JS_SetPropertyStr(ctx, meta, "exports", names);
    return meta;
}

/* ---- compile ------------------------------------------------------------ */

/* The script's other modules, for the next fb_compile or fb_run: sources at
 * compile time, bytecode at run time (see modules.c for the layout). The
 * buffer must stay allocated for the instance's life. */
FB_EXPORT("fb_modules") int fb_modules(const uint8_t *buf, uint32_t len) {
    return fb_modules_set(buf, len);
}

/* After fb_compile: the bytecode of the other modules it imported. */
FB_EXPORT("fb_compiled_modules") uint64_t fb_compiled_modules(void) {
    size_t len = 0;
    uint8_t *out = fb_modules_compiled(&len);
    if (!out) __builtin_trap();
    uint64_t r = out_bytes('o', out, len, NULL, 0);
    free(out);
    return r;
}

FB_EXPORT("fb_compile")
uint64_t fb_compile(const char *src, uint32_t src_len, const char *name) {
    JSValue fn = JS_Eval(ctx, src, src_len, name,
                         JS_EVAL_TYPE_MODULE | JS_EVAL_FLAG_COMPILE_ONLY);
    if (JS_IsException(fn)) return out_failure(FB_REASON_SYNTAX, JS_UNINITIALIZED);
    size_t bc_len;
    uint8_t *bc = JS_WriteObject(ctx, &bc_len, fn, JS_WRITE_OBJ_BYTECODE);
    if (!bc) {
        JS_FreeValue(ctx, fn);
        return out_failure(FB_REASON_THREW, JS_UNINITIALIZED);
    }
    /* Evaluate once, here in the sandbox, to check imports and find the
     * entry point; the bytecode above is what runs later. */
    int never_settled;
    JSValue ns = evaluate_module(fn, &never_settled);
    if (never_settled)
        return out_message(FB_REASON_NEVER_SETTLED, "Error",
                           "top-level await never settles");
    if (JS_IsException(ns)) return out_failure(FB_REASON_MODULE, JS_UNINITIALIZED);
    JSValue meta = find_entry(ns);
    JS_FreeValue(ctx, ns);
    JSValue text = JS_JSONStringify(ctx, meta, JS_UNDEFINED, JS_UNDEFINED);
    JS_FreeValue(ctx, meta);
    size_t meta_len;
    const char *m = JS_ToCStringLen(ctx, &meta_len, text);
    JS_FreeValue(ctx, text);
    uint8_t header[4] = {(uint8_t)meta_len, (uint8_t)(meta_len >> 8),
                         (uint8_t)(meta_len >> 16), (uint8_t)(meta_len >> 24)};
    uint8_t *joined = malloc(4 + meta_len);
    if (!joined) __builtin_trap();
    memcpy(joined, header, 4);
    memcpy(joined + 4, m, meta_len);
    JS_FreeCString(ctx, m);
    uint64_t r = out_bytes('o', joined, 4 + meta_len, bc, bc_len);
    free(joined);
    js_free(ctx, bc);
    return r;
}

/* ---- run ---------------------------------------------------------------- */

/* One capability as user code sees it: the raw host methods, passed
 * through the named adapter when the spec names one. */
static JSValue capability_value(JSValueConst name, JSValueConst spec) {
    JSValue methods = JS_GetPropertyStr(ctx, spec, "methods");
    JSValue raw = fb_capability_new(ctx, name, methods);
    JS_FreeValue(ctx, methods);
    JSValue adapter = JS_GetPropertyStr(ctx, spec, "adapter");
    if (!JS_IsString(adapter)) {
        JS_FreeValue(ctx, adapter);
        return raw;
    }
    JSAtom atom = JS_ValueToAtom(ctx, adapter);
    JS_FreeValue(ctx, adapter);
    JSValue fn = JS_GetProperty(ctx, adapters, atom);
    JS_FreeAtom(ctx, atom);
    JSValue api = JS_IsFunction(ctx, fn)
        ? JS_Call(ctx, fn, JS_UNDEFINED, 1, (JSValueConst *)&raw)
        : JS_ThrowInternalError(ctx, "no such adapter");
    JS_FreeValue(ctx, fn);
    JS_FreeValue(ctx, raw);
    return api;
}

/* `data` plus one member per capability; JS_EXCEPTION when an adapter failed. */
static JSValue build_bindings(JSValueConst input) {
    JSValue bindings = JS_GetPropertyStr(ctx, input, "data");
    if (!JS_IsObject(bindings)) {
        JS_FreeValue(ctx, bindings);
        bindings = JS_NewObject(ctx);
    }
    JSValue caps = JS_GetPropertyStr(ctx, input, "caps");
    JSPropertyEnum *props;
    uint32_t n;
    int failed = 0;
    if (JS_IsObject(caps) &&
        JS_GetOwnPropertyNames(ctx, &props, &n, caps, JS_GPN_STRING_MASK) == 0) {
        for (uint32_t i = 0; i < n && !failed; i++) {
            JSValue name = JS_AtomToString(ctx, props[i].atom);
            JSValue spec = JS_GetProperty(ctx, caps, props[i].atom);
            JSValue value = capability_value(name, spec);
            failed = JS_IsException(value);
            if (!failed) JS_SetProperty(ctx, bindings, props[i].atom, value);
            JS_FreeValue(ctx, name);
            JS_FreeValue(ctx, spec);
        }
        JS_FreePropertyEnum(ctx, props, n);
    }
    JS_FreeValue(ctx, caps);
    if (failed) {
        JS_FreeValue(ctx, bindings);
        return JS_EXCEPTION;
    }
    return bindings;
}

/* The step of a run without a durable engine (noop_step.js), given the
 * events sent to the run for its waits. */
static JSValue noop_step(JSValueConst sent) {
    JSValue factory = fb_builtin_eval_script(ctx, "noop_step");
    if (JS_IsException(factory)) return factory;
    JSValue step = JS_Call(ctx, factory, JS_UNDEFINED, 1, &sent);
    JS_FreeValue(ctx, factory);
    return step;
}

/* Calls the entry: `fn(event, bindings)` or `new Cls(ctx, env).run(event, step)`. */
static JSValue call_entry(JSValueConst entry, JSValueConst event, JSValue bindings,
                          JSValueConst sent) {
    if (!is_workflow_class(entry)) {
        JSValueConst args[2] = {event, bindings};
        JSValue r = JS_Call(ctx, entry, JS_UNDEFINED, 2, args);
        JS_FreeValue(ctx, bindings);
        return r;
    }
    JSValue step = JS_GetPropertyStr(ctx, bindings, "step");
    if (JS_IsUndefined(step)) step = noop_step(sent);
    if (JS_IsException(step)) {
        JS_FreeValue(ctx, bindings);
        return step;
    }
    /* WorkflowEvent.timestamp is a Date; JSON brings it as milliseconds. */
    JSValue ts = JS_IsObject(event) ? JS_GetPropertyStr(ctx, event, "timestamp") : JS_UNDEFINED;
    if (JS_IsNumber(ts)) {
        double ms;
        JS_ToFloat64(ctx, &ms, ts);
        JS_SetPropertyStr(ctx, event, "timestamp", JS_NewDate(ctx, ms));
    }
    JS_FreeValue(ctx, ts);
    JSValue exec_ctx = JS_NewObject(ctx);
    JSValueConst cargs[2] = {exec_ctx, bindings};
    JSValue inst = JS_CallConstructor(ctx, entry, 2, cargs);
    JS_FreeValue(ctx, exec_ctx);
    JS_FreeValue(ctx, bindings);
    if (JS_IsException(inst)) {
        JS_FreeValue(ctx, step);
        return inst;
    }
    JSValue run = JS_GetPropertyStr(ctx, inst, "run");
    JSValue r;
    if (!JS_IsFunction(ctx, run)) {
        r = JS_ThrowTypeError(ctx, "the workflow class has no run(event, step) method");
    } else {
        JSValueConst args[2] = {event, step};
        r = JS_Call(ctx, run, inst, 2, args);
    }
    JS_FreeValue(ctx, run);
    JS_FreeValue(ctx, inst);
    JS_FreeValue(ctx, step);
    return r;
}

static uint64_t finish(JSValue result) {
    if (JS_IsException(result)) return out_failure(FB_REASON_THREW, JS_UNINITIALIZED);
    if (JS_IsPromise(result)) {
        if (settle(result) < 0) {
            JS_FreeValue(ctx, result);
            /* A job that ran out of memory can leave the promise orphaned. */
            if (fb_alloc_oom_seen())
                return out_message(FB_REASON_MEMORY, "RangeError", "out of memory");
            return out_message(FB_REASON_NEVER_SETTLED, "Error",
                               "the workflow's promise never settles: nothing is left "
                               "that could resolve it (no pending timers or host calls)");
        }
        JSValue v = JS_PromiseResult(ctx, result);
        int rejected = JS_PromiseState(ctx, result) == JS_PROMISE_REJECTED;
        JS_FreeValue(ctx, result);
        if (rejected) return out_failure(FB_REASON_THREW, v);
        result = v;
    }
    if (JS_IsUndefined(result)) return out_bytes('o', NULL, 0, NULL, 0);
    JSValue text = JS_JSONStringify(ctx, result, JS_UNDEFINED, JS_UNDEFINED);
    JS_FreeValue(ctx, result);
    if (JS_IsException(text)) return out_failure(FB_REASON_RESULT, JS_UNINITIALIZED);
    if (JS_IsUndefined(text)) return out_bytes('o', NULL, 0, NULL, 0);
    size_t len;
    const char *s = JS_ToCStringLen(ctx, &len, text);
    JS_FreeValue(ctx, text);
    if (!s) return out_failure(FB_REASON_THREW, JS_UNINITIALIZED);
    uint64_t r = out_bytes('o', s, len, NULL, 0);
    JS_FreeCString(ctx, s);
    return r;
}

FB_EXPORT("fb_run")
uint64_t fb_run(const uint8_t *bc, uint32_t bc_len, const char *input_json, uint32_t input_len) {
    JSValue input = JS_ParseJSON(ctx, input_json, input_len, "<input>");
    if (JS_IsException(input)) return out_failure(FB_REASON_INPUT, JS_UNINITIALIZED);
    JSValue fn = JS_ReadObject(ctx, bc, bc_len, JS_READ_OBJ_BYTECODE);
    if (JS_IsException(fn)) {
        JS_FreeValue(ctx, input);
        return out_failure(FB_REASON_INPUT, JS_UNINITIALIZED);
    }
    int never_settled;
    JSValue ns = evaluate_module(fn, &never_settled);
    if (never_settled) {
        JS_FreeValue(ctx, input);
        return out_message(FB_REASON_NEVER_SETTLED, "Error", "top-level await never settles");
    }
    if (JS_IsException(ns)) {
        JS_FreeValue(ctx, input);
        return out_failure(FB_REASON_THREW, JS_UNINITIALIZED);
    }
    JSValue export_name = JS_GetPropertyStr(ctx, input, "export");
    JSAtom atom = JS_ValueToAtom(ctx, export_name);
    JSValue entry = JS_GetProperty(ctx, ns, atom);
    JS_FreeAtom(ctx, atom);
    JS_FreeValue(ctx, ns);
    JSValue event = JS_GetPropertyStr(ctx, input, "event");
    JSValue sent = JS_GetPropertyStr(ctx, input, "sentEvents");
    JSValue bindings = build_bindings(input);
    JS_FreeValue(ctx, input);
    if (!JS_IsException(bindings) && fb_modules_set_env(ctx, bindings) < 0) {
        JS_FreeValue(ctx, bindings);
        bindings = JS_EXCEPTION;
    }
    JSValue result;
    if (JS_IsException(bindings)) {
        result = JS_EXCEPTION;
    } else if (!JS_IsFunction(ctx, entry)) {
        JS_FreeValue(ctx, bindings);
        const char *name = JS_ToCString(ctx, export_name);
        result = JS_ThrowTypeError(ctx, "the module has no runnable export named \"%s\"",
                                   name ? name : "?");
        JS_FreeCString(ctx, name);
    } else {
        result = call_entry(entry, event, bindings, sent);
    }
    JS_FreeValue(ctx, sent);
    JS_FreeValue(ctx, export_name);
    JS_FreeValue(ctx, entry);
    JS_FreeValue(ctx, event);
    return finish(result);
}
