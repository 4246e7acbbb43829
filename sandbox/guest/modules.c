/* Built-in JavaScript (the files in js/, embedded by the build as js_sources.h) and
 * the import policy: user modules may import the built-in modules
 * `cloudflare:workers` and `cloudflare:workflows`, nothing else. The built-in
 * modules themselves may also import `flowbox:internal`, a C module that
 * holds what they share with the shim (the `env` object). */
#include <string.h>
#include "guest.h"
#include "js_sources.h"

#define INTERNAL "flowbox:internal"
/* What a user module's import of an internal name becomes: a name the
 * loader refuses, so user code can never reach the internal module. */
#define REFUSED_PREFIX "!"

/* `env` of `cloudflare:workers`: made by fb_init (so it is in the snapshot),
 * filled with the execution's bindings before the entry point runs. */
static JSValue env_object;

static const char *find_source(const char *name, int *is_module) {
    for (size_t i = 0; i < sizeof(fb_js_sources) / sizeof(fb_js_sources[0]); i++) {
        if (strcmp(fb_js_sources[i].name, name) == 0) {
            *is_module = fb_js_sources[i].is_module;
            return fb_js_sources[i].source;
        }
    }
    return NULL;
}

static int is_builtin(const char *name) {
    return strncmp(name, "cloudflare:", 11) == 0 || strncmp(name, "flowbox:", 8) == 0;
}

static char *normalize(JSContext *ctx, const char *base, const char *name, void *opaque) {
    (void)opaque;
    if (strncmp(name, "flowbox:", 8) == 0 && !is_builtin(base)) {
        size_t n = strlen(name);
        char *refused = js_malloc(ctx, n + 2);
        if (!refused) return NULL;
        refused[0] = REFUSED_PREFIX[0];
        memcpy(refused + 1, name, n + 1);
        return refused;
    }
    return js_strdup(ctx, name);
}

static int internal_init(JSContext *ctx, JSModuleDef *m) {
    return JS_SetModuleExport(ctx, m, "env", JS_DupValue(ctx, env_object));
}

static JSModuleDef *load(JSContext *ctx, const char *name, void *opaque) {
    (void)opaque;
    if (strcmp(name, INTERNAL) == 0) {
        JSModuleDef *m = JS_NewCModule(ctx, INTERNAL, internal_init);
        if (m) JS_AddModuleExport(ctx, m, "env");
        return m;
    }
    int is_module = 0;
    const char *src = find_source(name, &is_module);
    if (!src || !is_module) {
        const char *shown = name[0] == REFUSED_PREFIX[0] ? name + 1 : name;
        JS_ThrowReferenceError(ctx,
                               "cannot import '%s': only 'cloudflare:workers' and "
                               "'cloudflare:workflows' can be imported",
                               shown);
        return NULL;
    }
    JSValue fn = JS_Eval(ctx, src, strlen(src), name,
                         JS_EVAL_TYPE_MODULE | JS_EVAL_FLAG_COMPILE_ONLY);
    if (JS_IsException(fn)) return NULL;
    JSModuleDef *m = JS_VALUE_GET_PTR(fn);
    JS_FreeValue(ctx, fn);
    return m;
}

int fb_modules_install(JSContext *ctx) {
    JS_SetModuleLoaderFunc(JS_GetRuntime(ctx), normalize, load, NULL);
    env_object = JS_NewObject(ctx);
    return JS_IsException(env_object) ? -1 : 0;
}

/* Copies the bindings' own properties onto `env` (cloudflare:workers). */
int fb_modules_set_env(JSContext *ctx, JSValueConst bindings) {
    JSPropertyEnum *props;
    uint32_t n;
    if (JS_GetOwnPropertyNames(ctx, &props, &n, bindings,
                               JS_GPN_STRING_MASK | JS_GPN_ENUM_ONLY) < 0)
        return -1;
    int rc = 0;
    for (uint32_t i = 0; i < n && rc == 0; i++) {
        JSValue v = JS_GetProperty(ctx, bindings, props[i].atom);
        if (JS_IsException(v) || JS_SetProperty(ctx, env_object, props[i].atom, v) < 0) rc = -1;
    }
    JS_FreePropertyEnum(ctx, props, n);
    return rc;
}

/* Evaluates a built-in script (not a module) and returns its value. */
JSValue fb_builtin_eval_script(JSContext *ctx, const char *name) {
    int is_module = 0;
    const char *src = find_source(name, &is_module);
    if (!src || is_module) return JS_ThrowInternalError(ctx, "no built-in script %s", name);
    return JS_Eval(ctx, src, strlen(src), name, JS_EVAL_TYPE_GLOBAL | JS_EVAL_FLAG_STRICT);
}
