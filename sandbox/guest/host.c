/* The one door to the host: `flowbox.call`. A request is the JSON text
 * [capability, method, args]; the reply is one status byte followed by JSON:
 *   'o' value          the call succeeded
 *   'e' {name,message} the call failed; user code sees a rejected promise
 *   'f' (anything)     a limit was breached; the execution must stop now
 *   'p' id             the host started an operation that ends later (a
 *                      fetch): the promise stays pending until the event
 *                      loop's ["loop","wait",[ms]] lists the id among those
 *                      that ended, and ["loop","result",[id]] brings its
 *                      reply ('o' or 'e', as above)
 * Bytes travel raw, not as JSON: the first Uint8Array argument is sent as
 * NUL, u32 argument index, bytes after the request's JSON (its slot holds
 * null), and an 'o' reply may end with NUL and bytes, which makes the
 * promise resolve to [value, ArrayBuffer]. (JSON text never holds a NUL.)
 * Small replies land in a static scratch buffer (one crossing). A reply that
 * does not fit is kept by the host and fetched with a second call whose
 * request is empty. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "guest.h"

FB_IMPORT("call")
int32_t flowbox_call(const char *req, uint32_t req_len, uint8_t *reply, uint32_t cap);

#define SCRATCH_SIZE 8192
static uint8_t scratch[SCRATCH_SIZE];

/* The host said stop (a limit it enforces was breached). The host already
 * knows why; trapping makes sure user code cannot catch and carry on. */
static _Noreturn void fatal(void) { __builtin_trap(); }

typedef struct {
    int32_t index;      /* the argument the bytes stand for; -1: none */
    JSValueConst array; /* that Uint8Array */
} attachment;

/* Sends `prefix` + JSON(args) + "]" where prefix is '["cap","method",',
 * then the attachment, if any. */
static int request(JSContext *ctx, const char *prefix, size_t prefix_len, JSValueConst args,
                   const attachment *bin, fb_reply *reply) {
    JSValue text = JS_JSONStringify(ctx, args, JS_UNDEFINED, JS_UNDEFINED);
    if (JS_IsException(text)) return -1;
    size_t args_len;
    const char *a = JS_ToCStringLen(ctx, &args_len, text);
    JS_FreeValue(ctx, text);
    if (!a) return -1;
    /* Only now: stringifying the other arguments runs user code (toJSON),
     * which could detach the array's buffer. */
    size_t bin_len = 0;
    const uint8_t *bin_data = NULL;
    if (bin->index >= 0) {
        bin_data = JS_GetUint8Array(ctx, &bin_len, bin->array);
        if (!bin_data) {
            JS_FreeCString(ctx, a);
            return -1;
        }
    }
    size_t json_len = prefix_len + args_len + 1;
    size_t len = json_len + (bin->index >= 0 ? 5 + bin_len : 0);
    char *req = malloc(len);
    if (!req) {
        JS_FreeCString(ctx, a);
        JS_ThrowOutOfMemory(ctx);
        return -1;
    }
    memcpy(req, prefix, prefix_len);
    memcpy(req + prefix_len, a, args_len);
    req[json_len - 1] = ']';
    if (bin->index >= 0) {
        uint32_t i = (uint32_t)bin->index;
        char *p = req + json_len;
        p[0] = 0;
        p[1] = (char)i, p[2] = (char)(i >> 8), p[3] = (char)(i >> 16), p[4] = (char)(i >> 24);
        if (bin_len) memcpy(p + 5, bin_data, bin_len);
    }
    JS_FreeCString(ctx, a);
    /* One byte is kept back: JS_ParseJSON wants NUL-terminated text. */
    int32_t n = flowbox_call(req, (uint32_t)len, scratch, SCRATCH_SIZE - 1);
    free(req);
    if (n < 1) fatal();
    uint8_t *buf = scratch;
    reply->owned = NULL;
    if (n > SCRATCH_SIZE - 1) {
        buf = malloc((size_t)n + 1);
        if (!buf) fatal();
        if (flowbox_call(NULL, 0, buf, (uint32_t)n) != n) fatal();
        reply->owned = buf;
    }
    buf[n] = 0;
    if (buf[0] == 'f') fatal();
    reply->status = (char)buf[0];
    reply->json = (const char *)buf + 1;
    reply->json_len = (size_t)n - 1;
    reply->bytes = NULL;
    reply->bytes_len = 0;
    const uint8_t *nul = memchr(buf + 1, 0, (size_t)n - 1);
    if (nul) { /* the NUL also ends the JSON text, as JS_ParseJSON wants */
        reply->json_len = (size_t)(nul - (buf + 1));
        reply->bytes = nul + 1;
        reply->bytes_len = (size_t)n - 2 - reply->json_len;
    }
    return 0;
}

/* For the guest's own calls (console, timer): names need no escaping. */
int fb_host_request(JSContext *ctx, const char *cap, const char *method,
                    JSValueConst args, fb_reply *reply) {
    char prefix[64];
    int n = snprintf(prefix, sizeof prefix, "[\"%s\",\"%s\",", cap, method);
    attachment none = {-1, JS_UNDEFINED};
    return request(ctx, prefix, (size_t)n, args, &none, reply);
}

void fb_reply_free(fb_reply *reply) {
    free(reply->owned);
    reply->owned = NULL;
}

/* An error of the class its name says, for the standard names (so that
 * `e instanceof TypeError` holds); a plain Error named so otherwise. */
static JSValue error_of_class(JSContext *ctx, JSValueConst name) {
    const char *n = JS_IsString(name) ? JS_ToCString(ctx, name) : NULL;
    JSValue err;
    if (n && strcmp(n, "TypeError") == 0) err = JS_NewTypeError(ctx, "%s", "");
    else if (n && strcmp(n, "RangeError") == 0) err = JS_NewRangeError(ctx, "%s", "");
    else if (n && strcmp(n, "SyntaxError") == 0) err = JS_NewSyntaxError(ctx, "%s", "");
    else if (n && strcmp(n, "ReferenceError") == 0) err = JS_NewReferenceError(ctx, "%s", "");
    else err = JS_NewError(ctx);
    JS_FreeCString(ctx, n);
    return err;
}

static JSValue reply_error(JSContext *ctx, JSValueConst detail) {
    JSValue message = JS_GetPropertyStr(ctx, detail, "message");
    JSValue name = JS_GetPropertyStr(ctx, detail, "name");
    JSValue err = error_of_class(ctx, name);
    JS_DefinePropertyValueStr(ctx, err, "message", message,
                              JS_PROP_WRITABLE | JS_PROP_CONFIGURABLE);
    if (JS_IsString(name))
        JS_DefinePropertyValueStr(ctx, err, "name", name,
                                  JS_PROP_WRITABLE | JS_PROP_CONFIGURABLE);
    else
        JS_FreeValue(ctx, name);
    return err;
}

/* A promise already resolved with `value` (or rejected, when `rejected`);
 * binding methods are async. Takes ownership of `value`. */
static JSValue settled_promise(JSContext *ctx, JSValue value, int rejected) {
    JSValue funcs[2];
    JSValue promise = JS_NewPromiseCapability(ctx, funcs);
    if (!JS_IsException(promise)) {
        JSValue r = JS_Call(ctx, funcs[rejected ? 1 : 0], JS_UNDEFINED, 1, &value);
        JS_FreeValue(ctx, r);
        JS_FreeValue(ctx, funcs[0]);
        JS_FreeValue(ctx, funcs[1]);
    }
    JS_FreeValue(ctx, value);
    return promise;
}

/* ---- operations that end later ---------------------------------------- */

typedef struct {
    int64_t id;
    JSValue funcs[2]; /* resolve, reject */
} fb_op;

static fb_op *ops;
static size_t n_ops, cap_ops;

int fb_ops_pending(void) { return n_ops > 0; }

static JSValue pending_promise(JSContext *ctx, fb_reply *reply) {
    JSValue idv = JS_ParseJSON(ctx, reply->json, reply->json_len, "<host>");
    fb_reply_free(reply);
    int64_t id;
    if (JS_IsException(idv) || JS_ToInt64(ctx, &id, idv) < 0) {
        JS_FreeValue(ctx, idv);
        return JS_EXCEPTION;
    }
    JS_FreeValue(ctx, idv);
    if (n_ops == cap_ops) {
        size_t want = cap_ops ? cap_ops * 2 : 16;
        fb_op *grown = realloc(ops, want * sizeof(fb_op));
        if (!grown) return JS_ThrowOutOfMemory(ctx);
        ops = grown;
        cap_ops = want;
    }
    fb_op *op = &ops[n_ops];
    JSValue promise = JS_NewPromiseCapability(ctx, op->funcs);
    if (JS_IsException(promise)) return promise;
    op->id = id;
    n_ops++;
    return promise;
}

static JSValue reply_value(JSContext *ctx, fb_reply *reply, int *rejected);

/* Settles the operation `id` with its reply, fetched from the host. */
static void complete_op(JSContext *ctx, int64_t id) {
    size_t i = 0;
    while (i < n_ops && ops[i].id != id) i++;
    if (i == n_ops) return;
    fb_op op = ops[i];
    ops[i] = ops[--n_ops];
    JSValue args = JS_NewArray(ctx);
    JS_SetPropertyUint32(ctx, args, 0, JS_NewInt64(ctx, id));
    fb_reply reply;
    int rejected = 1;
    JSValue value = fb_host_request(ctx, "loop", "result", args, &reply) == 0
        ? reply_value(ctx, &reply, &rejected) : JS_EXCEPTION;
    JS_FreeValue(ctx, args);
    if (JS_IsException(value)) value = JS_GetException(ctx);
    JSValue r = JS_Call(ctx, op.funcs[rejected ? 1 : 0], JS_UNDEFINED, 1, &value);
    JS_FreeValue(ctx, r);
    JS_FreeValue(ctx, value);
    JS_FreeValue(ctx, op.funcs[0]);
    JS_FreeValue(ctx, op.funcs[1]);
}

/* Blocks in the host until an operation ends or `timeout_ms` passes (-1:
 * until one ends), then settles every operation that ended. */
void fb_ops_wait(JSContext *ctx, int64_t timeout_ms) {
    JSValue args = JS_NewArray(ctx);
    JS_SetPropertyUint32(ctx, args, 0, JS_NewInt64(ctx, timeout_ms));
    fb_reply reply;
    int rc = fb_host_request(ctx, "loop", "wait", args, &reply);
    JS_FreeValue(ctx, args);
    if (rc < 0) {
        JS_FreeValue(ctx, JS_GetException(ctx));
        return;
    }
    JSValue ended = JS_ParseJSON(ctx, reply.json, reply.json_len, "<host>");
    fb_reply_free(&reply);
    int64_t n = 0;
    if (JS_IsException(ended) || JS_GetLength(ctx, ended, &n) < 0) n = 0;
    for (int64_t i = 0; i < n; i++) {
        JSValue v = JS_GetPropertyUint32(ctx, ended, (uint32_t)i);
        int64_t id;
        if (JS_ToInt64(ctx, &id, v) == 0) complete_op(ctx, id);
        JS_FreeValue(ctx, v);
    }
    JS_FreeValue(ctx, ended);
}

/* The reply's value: parsed JSON (paired with an ArrayBuffer when bytes
 * came along), or the error it describes (*rejected set). */
static JSValue reply_value(JSContext *ctx, fb_reply *reply, int *rejected) {
    JSValue value = JS_ParseJSON(ctx, reply->json, reply->json_len, "<host>");
    if (!JS_IsException(value) && reply->bytes && reply->status == 'o') {
        JSValue pair = JS_NewArray(ctx);
        JS_SetPropertyUint32(ctx, pair, 0, value);
        JS_SetPropertyUint32(ctx, pair, 1,
                             JS_NewArrayBufferCopy(ctx, reply->bytes, reply->bytes_len));
        value = pair;
    }
    char status = reply->status;
    fb_reply_free(reply);
    *rejected = status != 'o';
    if (JS_IsException(value) || status == 'o') return value;
    JSValue err = reply_error(ctx, value);
    JS_FreeValue(ctx, value);
    return err;
}

static JSValue reply_to_promise(JSContext *ctx, fb_reply *reply) {
    if (reply->status == 'p') return pending_promise(ctx, reply);
    int rejected;
    JSValue value = reply_value(ctx, reply, &rejected);
    if (JS_IsException(value)) return JS_EXCEPTION;
    return settled_promise(ctx, value, rejected);
}

/* Sends one call whose request prefix is '["cap","method",' and returns
 * the promise of its reply. */
static JSValue call_with_prefix(JSContext *ctx, const char *prefix, size_t prefix_len,
                                int argc, JSValueConst *argv) {
    JSValue args = JS_NewArray(ctx);
    attachment bin = {-1, JS_UNDEFINED};
    for (int i = 0; i < argc; i++) {
        if (bin.index < 0 && JS_GetTypedArrayType(argv[i]) == JS_TYPED_ARRAY_UINT8) {
            bin.index = i;
            bin.array = argv[i];
            JS_SetPropertyUint32(ctx, args, (uint32_t)i, JS_NULL);
            continue;
        }
        JS_SetPropertyUint32(ctx, args, (uint32_t)i, JS_DupValue(ctx, argv[i]));
    }
    fb_reply reply;
    int rc = request(ctx, prefix, prefix_len, args, &bin, &reply);
    JS_FreeValue(ctx, args);
    /* Arguments that JSON cannot carry: reject like any async failure. */
    if (rc < 0) return settled_promise(ctx, JS_GetException(ctx), 1);
    return reply_to_promise(ctx, &reply);
}

static JSValue capability_call(JSContext *ctx, JSValueConst this_val, int argc,
                               JSValueConst *argv, int magic, JSValueConst *data) {
    (void)this_val;
    (void)magic;
    size_t prefix_len;
    const char *prefix = JS_ToCStringLen(ctx, &prefix_len, data[0]);
    if (!prefix) return settled_promise(ctx, JS_GetException(ctx), 1);
    JSValue r = call_with_prefix(ctx, prefix, prefix_len, argc, argv);
    JS_FreeCString(ctx, prefix);
    return r;
}

/* The request prefix '["cap","method",' as a string (JSON-quoted once),
 * or JS_EXCEPTION. */
static JSValue request_prefix(JSContext *ctx, JSValueConst cap, JSValueConst method) {
    JSValue pair = JS_NewArray(ctx);
    JS_SetPropertyUint32(ctx, pair, 0, JS_ToString(ctx, cap));
    JS_SetPropertyUint32(ctx, pair, 1, JS_ToString(ctx, method));
    JSValue quoted = JS_JSONStringify(ctx, pair, JS_UNDEFINED, JS_UNDEFINED);
    JS_FreeValue(ctx, pair);
    size_t qlen;
    const char *q = JS_IsString(quoted) ? JS_ToCStringLen(ctx, &qlen, quoted) : NULL;
    JS_FreeValue(ctx, quoted);
    if (!q) return JS_EXCEPTION;
    char *prefix = malloc(qlen);
    JSValue out;
    if (prefix) {
        memcpy(prefix, q, qlen - 1);
        prefix[qlen - 1] = ',';
        out = JS_NewStringLen(ctx, prefix, qlen);
        free(prefix);
    } else {
        out = JS_ThrowOutOfMemory(ctx);
    }
    JS_FreeCString(ctx, q);
    return out;
}

/* `native.call(cap, method, ...args)` for the built-in JavaScript (fetch,
 * crypto.subtle): like a capability method, the capability named per call. */
JSValue fb_native_call(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv) {
    (void)this_val;
    if (argc < 2) return JS_ThrowTypeError(ctx, "native.call(cap, method, ...args)");
    JSValue prefix = request_prefix(ctx, argv[0], argv[1]);
    if (JS_IsException(prefix)) return prefix;
    JSValue r = capability_call(ctx, JS_UNDEFINED, argc - 2, argv + 2, 0, &prefix);
    JS_FreeValue(ctx, prefix);
    return r;
}

/* A frozen object whose methods forward to the host capability `name`. */
JSValue fb_capability_new(JSContext *ctx, JSValueConst name, JSValueConst methods) {
    JSValue obj = JS_NewObject(ctx);
    int64_t n = 0;
    if (JS_GetLength(ctx, methods, &n) < 0) n = 0;
    for (int64_t i = 0; i < n; i++) {
        JSValue method = JS_GetPropertyUint32(ctx, methods, (uint32_t)i);
        const char *mname = JS_ToCString(ctx, method);
        JSValue prefix = mname ? request_prefix(ctx, name, method) : JS_EXCEPTION;
        if (!JS_IsException(prefix)) {
            JSValue fn = JS_NewCFunctionData2(ctx, capability_call, mname, 0, 0, 1, &prefix);
            JS_FreeValue(ctx, prefix);
            JS_SetPropertyStr(ctx, obj, mname, fn);
        } else {
            JS_FreeValue(ctx, JS_GetException(ctx));
        }
        JS_FreeCString(ctx, mname);
        JS_FreeValue(ctx, method);
    }
    JS_FreezeObject(ctx, obj);
    return obj;
}
