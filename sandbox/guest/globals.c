/* Web-platform globals that workflow code expects and QuickJS lacks:
 * console (to the host), crypto, structuredClone, and the classes written in
 * JavaScript (js/encoding.js, events.js, streams.js, blob.js, fetch.js,
 * subtle.js: TextEncoder, URL, Event, AbortController, streams, Blob,
 * FormData, Headers, Request, Response, fetch, crypto.subtle, ...). */
#include <stdlib.h>
#include <math.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "guest.h"

static const char *const console_levels[] = {"log", "info", "warn", "error", "debug"};

/* ---- console ---------------------------------------------------------- */

/* "Name: message" followed by the stack frames, as Node prints an error. */
static JSValue error_with_stack(JSContext *ctx, JSValueConst err) {
    JSValue head = JS_ToString(ctx, err);
    JSValue stack = JS_GetPropertyStr(ctx, err, "stack");
    size_t hlen = 0, slen = 0;
    const char *h = JS_IsException(head) ? NULL : JS_ToCStringLen(ctx, &hlen, head);
    const char *st = JS_IsString(stack) ? JS_ToCStringLen(ctx, &slen, stack) : NULL;
    JSValue out;
    char *buf = malloc(hlen + slen + 2);
    if (!buf) {
        out = JS_ThrowOutOfMemory(ctx);
    } else {
        memcpy(buf, h ? h : "", hlen);
        buf[hlen] = '\n';
        memcpy(buf + hlen + 1, st ? st : "", slen);
        out = JS_NewStringLen(ctx, buf, hlen + 1 + slen);
        free(buf);
    }
    JS_FreeCString(ctx, h);
    JS_FreeCString(ctx, st);
    JS_FreeValue(ctx, head);
    JS_FreeValue(ctx, stack);
    return out;
}

/* Formats one console argument the way browsers roughly do: strings as
 * they are, errors with their stack, plain objects as JSON. */
static JSValue format_one(JSContext *ctx, JSValueConst v) {
    if (JS_IsString(v)) return JS_DupValue(ctx, v);
    if (JS_IsError(v)) return error_with_stack(ctx, v);
    if (JS_IsObject(v) && !JS_IsFunction(ctx, v)) {
        JSValue json = JS_JSONStringify(ctx, v, JS_UNDEFINED, JS_UNDEFINED);
        if (JS_IsString(json)) return json;
        JS_FreeValue(ctx, json);
        JS_FreeValue(ctx, JS_GetException(ctx));
    }
    JSValue s = JS_ToString(ctx, v);
    if (JS_IsException(s)) {
        JS_FreeValue(ctx, JS_GetException(ctx));
        return JS_NewString(ctx, "[unprintable]");
    }
    return s;
}

static JSValue js_console(JSContext *ctx, JSValueConst this_val, int argc,
                          JSValueConst *argv, int magic) {
    (void)this_val;
    JSValue parts = JS_NewArray(ctx);
    for (int i = 0; i < argc; i++)
        JS_SetPropertyUint32(ctx, parts, (uint32_t)i, format_one(ctx, argv[i]));
    fb_reply reply;
    int rc = fb_host_request(ctx, "console", console_levels[magic], parts, &reply);
    JS_FreeValue(ctx, parts);
    if (rc < 0) return JS_EXCEPTION;
    fb_reply_free(&reply);
    return JS_UNDEFINED;
}

/* Reports an exception nobody can catch any more (a timer callback threw)
 * the way a browser does: on the console, as an error. */
void fb_report_uncaught(JSContext *ctx, const char *where) {
    JSValue err = JS_GetException(ctx);
    JSValue parts = JS_NewArray(ctx);
    JS_SetPropertyUint32(ctx, parts, 0, JS_NewString(ctx, where));
    JS_SetPropertyUint32(ctx, parts, 1, format_one(ctx, err));
    JS_FreeValue(ctx, err);
    fb_reply reply;
    if (fb_host_request(ctx, "console", "error", parts, &reply) == 0) fb_reply_free(&reply);
    else JS_FreeValue(ctx, JS_GetException(ctx));
    JS_FreeValue(ctx, parts);
}

static void install_console(JSContext *ctx, JSValueConst global) {
    JSValue console = JS_NewObject(ctx);
    for (int i = 0; i < 5; i++)
        JS_SetPropertyStr(ctx, console, console_levels[i],
                          JS_NewCFunctionMagic(ctx, js_console, console_levels[i], 1,
                                               JS_CFUNC_generic_magic, i));
    JS_SetPropertyStr(ctx, global, "console", console);
}

/* ---- crypto ----------------------------------------------------------- */

static int fill_random(uint8_t *buf, size_t len) {
    while (len) {
        size_t n = len > 256 ? 256 : len; /* getentropy's per-call cap */
        if (getentropy(buf, n) != 0) return -1;
        buf += n;
        len -= n;
    }
    return 0;
}

static JSValue js_get_random_values(JSContext *ctx, JSValueConst this_val, int argc,
                                    JSValueConst *argv) {
    (void)this_val;
    int type = argc ? JS_GetTypedArrayType(argv[0]) : -1;
    if (type < JS_TYPED_ARRAY_UINT8C || type > JS_TYPED_ARRAY_BIG_UINT64 ||
        type == JS_TYPED_ARRAY_FLOAT32 || type == JS_TYPED_ARRAY_FLOAT64)
        return JS_ThrowTypeError(ctx, "crypto.getRandomValues: argument must be an integer typed array");
    size_t offset, length, elem;
    JSValue ab = JS_GetTypedArrayBuffer(ctx, argv[0], &offset, &length, &elem);
    if (JS_IsException(ab)) return ab;
    size_t size;
    uint8_t *data = JS_GetArrayBuffer(ctx, &size, ab);
    JS_FreeValue(ctx, ab);
    if (length > 65536)
        return JS_ThrowRangeError(ctx, "crypto.getRandomValues: at most 65536 bytes per call");
    if (!data || fill_random(data + offset, length) < 0)
        return JS_ThrowInternalError(ctx, "crypto.getRandomValues: no entropy");
    return JS_DupValue(ctx, argv[0]);
}

static JSValue js_random_uuid(JSContext *ctx, JSValueConst this_val, int argc,
                              JSValueConst *argv) {
    (void)this_val, (void)argc, (void)argv;
    uint8_t b[16];
    if (fill_random(b, sizeof b) < 0)
        return JS_ThrowInternalError(ctx, "crypto.randomUUID: no entropy");
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
    static const char hex[] = "0123456789abcdef";
    char out[37];
    int j = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) out[j++] = '-';
        out[j++] = hex[b[i] >> 4];
        out[j++] = hex[b[i] & 15];
    }
    out[j] = 0;
    return JS_NewString(ctx, out);
}

static void install_crypto(JSContext *ctx, JSValueConst global) {
    JSValue crypto = JS_NewObject(ctx);
    JS_SetPropertyStr(ctx, crypto, "getRandomValues",
                      JS_NewCFunction(ctx, js_get_random_values, "getRandomValues", 1));
    JS_SetPropertyStr(ctx, crypto, "randomUUID",
                      JS_NewCFunction(ctx, js_random_uuid, "randomUUID", 0));
    JS_SetPropertyStr(ctx, global, "crypto", crypto);
}

/* ---- Math.random, performance.now -------------------------------------- */
/* Ours rather than QuickJS's: executions start from a snapshot of an
 * initialized guest (engine.py), so per-execution state must be set in
 * fb_globals_reset, not at context creation. */

static uint64_t rng_state = 1;
static double time_origin_ms;

static double monotonic_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static JSValue js_math_random(JSContext *ctx, JSValueConst this_val, int argc,
                              JSValueConst *argv) {
    (void)this_val, (void)argc, (void)argv;
    /* xorshift64* */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    uint64_t v = rng_state * 0x2545F4914F6CDD1DULL;
    return JS_NewFloat64(ctx, (double)(v >> 11) * 0x1.0p-53);
}

static JSValue js_performance_now(JSContext *ctx, JSValueConst this_val, int argc,
                                  JSValueConst *argv) {
    (void)this_val, (void)argc, (void)argv;
    /* Whole milliseconds: a finer clock is a timer for side channels. */
    return JS_NewFloat64(ctx, floor(monotonic_ms() - time_origin_ms));
}

static void install_clock_and_random(JSContext *ctx, JSValueConst global) {
    JSValue math = JS_GetPropertyStr(ctx, global, "Math");
    JS_SetPropertyStr(ctx, math, "random", JS_NewCFunction(ctx, js_math_random, "random", 0));
    JS_FreeValue(ctx, math);
    /* QuickJS's performance object keeps a read-only origin from context
     * creation, which a snapshot would freeze; replace the whole object. */
    JSValue perf = JS_NewObject(ctx);
    JS_SetPropertyStr(ctx, perf, "now", JS_NewCFunction(ctx, js_performance_now, "now", 0));
    JS_DefinePropertyValueStr(ctx, global, "performance", perf,
                              JS_PROP_CONFIGURABLE | JS_PROP_WRITABLE);
}

void fb_globals_reset(JSContext *ctx) {
    if (fill_random((uint8_t *)&rng_state, sizeof rng_state) < 0 || rng_state == 0)
        rng_state = 0x9E3779B97F4A7C15ULL;
    time_origin_ms = monotonic_ms();
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    JSValue global = JS_GetGlobalObject(ctx);
    JSValue perf = JS_GetPropertyStr(ctx, global, "performance");
    JS_SetPropertyStr(ctx, perf, "timeOrigin",
                      JS_NewFloat64(ctx, (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6));
    JS_FreeValue(ctx, perf);
    JS_FreeValue(ctx, global);
}

/* ---- structuredClone --------------------------------------------------- */

static JSValue js_structured_clone(JSContext *ctx, JSValueConst this_val, int argc,
                                   JSValueConst *argv) {
    (void)this_val;
    JSValueConst v = argc ? argv[0] : JS_UNDEFINED;
    size_t len;
    uint8_t *buf = JS_WriteObject(ctx, &len, v, JS_WRITE_OBJ_REFERENCE);
    if (!buf) {
        JS_FreeValue(ctx, JS_GetException(ctx));
        return JS_ThrowTypeError(ctx, "structuredClone: value could not be cloned (DataCloneError)");
    }
    JSValue copy = JS_ReadObject(ctx, buf, len, JS_READ_OBJ_REFERENCE);
    js_free(ctx, buf);
    return copy;
}


/* ---- the web platform, written in JavaScript (js/) --------------------- */

/* Evaluated in this order when the guest starts, so that they are in the
 * snapshot every execution starts from (snapshot.py): each is a function
 * (native, g) returning the classes it defines, `g` holding those of the
 * scripts before it. Names starting with "__" are passed on in `g` but
 * not made globals. */
static const char *const runtime_scripts[] = {"encoding", "events", "streams", "blob",
                                              "fetch", "subtle"};

static JSValue js_utf8_encode(JSContext *ctx, JSValueConst this_val, int argc,
                              JSValueConst *argv) {
    (void)this_val;
    size_t len;
    const char *s = JS_ToCStringLen(ctx, &len, argc ? argv[0] : JS_UNDEFINED);
    if (!s) return JS_EXCEPTION;
    JSValue out = JS_NewUint8ArrayCopy(ctx, (const uint8_t *)s, len);
    JS_FreeCString(ctx, s);
    return out;
}

static JSValue js_utf8_decode(JSContext *ctx, JSValueConst this_val, int argc,
                              JSValueConst *argv) {
    (void)this_val;
    size_t len = 0;
    uint8_t *p = argc ? JS_GetUint8Array(ctx, &len, argv[0]) : NULL;
    if (!p) return JS_EXCEPTION;
    return JS_NewStringLen(ctx, (const char *)p, len);
}

static JSValue native_object(JSContext *ctx) {
    JSValue native = JS_NewObject(ctx);
    JS_SetPropertyStr(ctx, native, "utf8Encode",
                      JS_NewCFunction(ctx, js_utf8_encode, "utf8Encode", 1));
    JS_SetPropertyStr(ctx, native, "utf8Decode",
                      JS_NewCFunction(ctx, js_utf8_decode, "utf8Decode", 1));
    JS_SetPropertyStr(ctx, native, "call", JS_NewCFunction(ctx, fb_native_call, "call", 2));
    JS_FreezeObject(ctx, native);
    return native;
}

static int define_all(JSContext *ctx, JSValueConst from, JSValueConst global, JSValueConst g) {
    JSPropertyEnum *props;
    uint32_t n;
    if (JS_GetOwnPropertyNames(ctx, &props, &n, from, JS_GPN_STRING_MASK) < 0) return -1;
    for (uint32_t i = 0; i < n; i++) {
        JSValue v = JS_GetProperty(ctx, from, props[i].atom);
        const char *name = JS_AtomToCString(ctx, props[i].atom);
        if (name && strncmp(name, "__", 2) != 0)
            JS_DefineProperty(ctx, global, props[i].atom, v, JS_UNDEFINED, JS_UNDEFINED,
                              JS_PROP_HAS_VALUE | JS_PROP_HAS_WRITABLE | JS_PROP_WRITABLE |
                              JS_PROP_HAS_CONFIGURABLE | JS_PROP_CONFIGURABLE |
                              JS_PROP_HAS_ENUMERABLE);
        JS_SetProperty(ctx, g, props[i].atom, v);
        JS_FreeCString(ctx, name);
    }
    JS_FreePropertyEnum(ctx, props, n);
    return 0;
}

static int install_runtime(JSContext *ctx, JSValueConst global) {
    JSValue native = native_object(ctx);
    JSValue g = JS_NewObjectProto(ctx, JS_NULL);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < sizeof runtime_scripts / sizeof *runtime_scripts; i++) {
        JSValue factory = fb_builtin_eval_script(ctx, runtime_scripts[i]);
        JSValueConst args[2] = {native, g};
        JSValue classes = JS_IsException(factory)
            ? JS_EXCEPTION : JS_Call(ctx, factory, JS_UNDEFINED, 2, args);
        JS_FreeValue(ctx, factory);
        rc = JS_IsException(classes) ? -1 : define_all(ctx, classes, global, g);
        JS_FreeValue(ctx, classes);
    }
    JS_FreeValue(ctx, g);
    JS_FreeValue(ctx, native);
    return rc;
}

int fb_globals_install(JSContext *ctx) {
    JSValue global = JS_GetGlobalObject(ctx);
    install_console(ctx, global);
    install_crypto(ctx, global);
    install_clock_and_random(ctx, global);
    JS_SetPropertyStr(ctx, global, "structuredClone",
                      JS_NewCFunction(ctx, js_structured_clone, "structuredClone", 1));
#ifdef FB_NO_WEB_RUNTIME /* the baseline that bench/runtime.py measures against */
    int rc = 0;
    (void)install_runtime;
#else
    int rc = install_runtime(ctx, global);
#endif
    JS_FreeValue(ctx, global);
    return rc;
}
