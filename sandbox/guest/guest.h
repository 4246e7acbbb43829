/* Shared declarations of the Flowbox guest: a QuickJS-NG runtime compiled
 * to a wasm32-wasi reactor. The host drives it through the fb_* exports
 * (shim.c); the guest reaches the host through one import (host.c). */
#ifndef FLOWBOX_GUEST_H
#define FLOWBOX_GUEST_H

#include <stddef.h>
#include <stdint.h>
#include "quickjs.h"

#define FB_EXPORT(name) __attribute__((export_name(name)))
#define FB_IMPORT(name) __attribute__((import_module("flowbox"), import_name(name)))

/* Why a run ended without a value; mirrored by sandbox/protocol.py. */
#define FB_REASON_SYNTAX "syntax"
#define FB_REASON_MODULE "module"
#define FB_REASON_INPUT "input"
#define FB_REASON_THREW "threw"
#define FB_REASON_NEVER_SETTLED "never_settled"
#define FB_REASON_MEMORY "memory"
#define FB_REASON_STACK "stack"
#define FB_REASON_RESULT "not_serializable"

/* alloc.c: allocator with a byte limit and an out-of-memory flag. */
extern const JSMallocFunctions fb_malloc_functions;
void fb_alloc_set_limit(size_t limit);
int fb_alloc_oom_seen(void);
int fb_alloc_wants_gc(void);

/* host.c: the single host import. */
typedef struct {
    char status;        /* 'o' ok, 'e' error reply */
    const char *json;   /* reply payload (JSON text), owned by the reply */
    size_t json_len;
    const uint8_t *bytes; /* the reply's binary attachment, or NULL */
    size_t bytes_len;
    uint8_t *owned;     /* heap buffer to free, or NULL when in scratch */
} fb_reply;
int fb_host_request(JSContext *ctx, const char *cap, const char *method,
                    JSValueConst args, fb_reply *reply);
void fb_reply_free(fb_reply *reply);
JSValue fb_capability_new(JSContext *ctx, JSValueConst name, JSValueConst methods);
JSValue fb_native_call(JSContext *ctx, JSValueConst this_val, int argc, JSValueConst *argv);
int fb_ops_pending(void);
void fb_ops_wait(JSContext *ctx, int64_t timeout_ms);

/* globals.c: console, crypto, encoding, structuredClone, fetch stub. */
int fb_globals_install(JSContext *ctx);
void fb_globals_reset(JSContext *ctx);
void fb_report_uncaught(JSContext *ctx, const char *where);
/* timers.c */
int fb_timers_install(JSContext *ctx);
int64_t fb_timers_next_delay_ms(void);   /* -1: no timer pending */
void fb_timers_fire_due(JSContext *ctx);
/* modules.c: built-in modules and the import policy. */
int fb_modules_install(JSContext *ctx);
int fb_modules_set_env(JSContext *ctx, JSValueConst bindings);
JSValue fb_builtin_eval_script(JSContext *ctx, const char *name);
int fb_modules_set(const uint8_t *buf, uint32_t len);
uint8_t *fb_modules_compiled(size_t *len);

#endif
