/* setTimeout / setInterval and their clear functions. Timers live here; the
 * run loop (shim.c) asks for the next delay and has the host sleep, so a
 * timer can never outlast the execution's wall-clock deadline. */
#include <stdlib.h>
#include <time.h>
#include "guest.h"

typedef struct fb_timer {
    struct fb_timer *next;
    int32_t id;
    int64_t due_ms;
    int64_t interval_ms; /* 0 for a one-shot timer */
    JSValue fn;
    int argc;
    JSValue *argv;
} fb_timer;

static fb_timer *timers;
static fb_timer *firing;      /* the timer whose callback runs now */
static int firing_cleared;    /* its callback cleared it */
static int32_t next_id = 1;
#define MAX_TIMERS 10000

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int count_timers(void) {
    int n = 0;
    for (fb_timer *t = timers; t; t = t->next) n++;
    return n;
}

static void insert_sorted(fb_timer *t) {
    fb_timer **p = &timers;
    while (*p && (*p)->due_ms <= t->due_ms) p = &(*p)->next;
    t->next = *p;
    *p = t;
}

static void timer_free(JSContext *ctx, fb_timer *t) {
    JS_FreeValue(ctx, t->fn);
    for (int i = 0; i < t->argc; i++) JS_FreeValue(ctx, t->argv[i]);
    free(t->argv);
    free(t);
}

static JSValue add_timer(JSContext *ctx, int argc, JSValueConst *argv, int repeat) {
    if (argc < 1 || !JS_IsFunction(ctx, argv[0]))
        return JS_ThrowTypeError(ctx, "timer callback must be a function");
    if (count_timers() >= MAX_TIMERS)
        return JS_ThrowRangeError(ctx, "too many timers (at most %d)", MAX_TIMERS);
    double delay = 0;
    if (argc > 1 && JS_ToFloat64(ctx, &delay, argv[1]) < 0) return JS_EXCEPTION;
    if (!(delay >= 0)) delay = 0;
    if (delay > 2147483647.0) delay = 2147483647.0;
    fb_timer *t = calloc(1, sizeof(*t));
    if (!t) return JS_ThrowOutOfMemory(ctx);
    t->id = next_id++;
    t->interval_ms = repeat ? (int64_t)delay : 0;
    if (repeat && t->interval_ms < 1) t->interval_ms = 1;
    t->due_ms = now_ms() + (int64_t)delay;
    t->fn = JS_DupValue(ctx, argv[0]);
    t->argc = argc > 2 ? argc - 2 : 0;
    if (t->argc) {
        t->argv = calloc((size_t)t->argc, sizeof(JSValue));
        for (int i = 0; i < t->argc; i++) t->argv[i] = JS_DupValue(ctx, argv[i + 2]);
    }
    insert_sorted(t);
    return JS_NewInt32(ctx, t->id);
}

static JSValue js_set_timeout(JSContext *ctx, JSValueConst this_val, int argc,
                              JSValueConst *argv, int magic) {
    (void)this_val;
    return add_timer(ctx, argc, argv, magic);
}

static JSValue js_clear_timer(JSContext *ctx, JSValueConst this_val, int argc,
                              JSValueConst *argv) {
    (void)this_val;
    int32_t id;
    if (argc < 1 || JS_ToInt32(ctx, &id, argv[0]) < 0) return JS_UNDEFINED;
    if (firing && firing->id == id) {
        firing_cleared = 1;
        return JS_UNDEFINED;
    }
    for (fb_timer **p = &timers; *p; p = &(*p)->next) {
        if ((*p)->id == id) {
            fb_timer *t = *p;
            *p = t->next;
            timer_free(ctx, t);
            break;
        }
    }
    return JS_UNDEFINED;
}

int64_t fb_timers_next_delay_ms(void) {
    if (!timers) return -1;
    int64_t d = timers->due_ms - now_ms();
    return d > 0 ? d : 0;
}

/* Fires every timer that is due now; a callback that throws is reported
 * like an uncaught error in a browser: logged, not fatal. */
void fb_timers_fire_due(JSContext *ctx) {
    int64_t now = now_ms();
    while (timers && timers->due_ms <= now) {
        fb_timer *t = timers;
        timers = t->next;
        firing = t;
        firing_cleared = 0;
        JSValue r = JS_Call(ctx, t->fn, JS_UNDEFINED, t->argc, (JSValueConst *)t->argv);
        firing = NULL;
        if (JS_IsException(r)) fb_report_uncaught(ctx, "Uncaught (in timer callback)");
        JS_FreeValue(ctx, r);
        if (t->interval_ms && !firing_cleared) {
            t->due_ms = now + t->interval_ms;
            insert_sorted(t);
        } else {
            timer_free(ctx, t);
        }
    }
}

int fb_timers_install(JSContext *ctx) {
    JSValue global = JS_GetGlobalObject(ctx);
    JS_SetPropertyStr(ctx, global, "setTimeout",
                      JS_NewCFunctionMagic(ctx, js_set_timeout, "setTimeout", 2,
                                           JS_CFUNC_generic_magic, 0));
    JS_SetPropertyStr(ctx, global, "setInterval",
                      JS_NewCFunctionMagic(ctx, js_set_timeout, "setInterval", 2,
                                           JS_CFUNC_generic_magic, 1));
    JS_SetPropertyStr(ctx, global, "clearTimeout",
                      JS_NewCFunction(ctx, js_clear_timer, "clearTimeout", 1));
    JS_SetPropertyStr(ctx, global, "clearInterval",
                      JS_NewCFunction(ctx, js_clear_timer, "clearInterval", 1));
    JS_FreeValue(ctx, global);
    return 0;
}
