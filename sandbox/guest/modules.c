/* Built-in JavaScript (the files in js/, embedded by the build as js_sources.h) and
 * the import policy: user modules may import the built-in modules
 * `cloudflare:workers` and `cloudflare:workflows`, nothing else. */
#include <string.h>
#include "guest.h"
#include "js_sources.h"

static const char *find_source(const char *name, int *is_module) {
    for (size_t i = 0; i < sizeof(fb_js_sources) / sizeof(fb_js_sources[0]); i++) {
        if (strcmp(fb_js_sources[i].name, name) == 0) {
            *is_module = fb_js_sources[i].is_module;
            return fb_js_sources[i].source;
        }
    }
    return NULL;
}

static char *normalize(JSContext *ctx, const char *base, const char *name, void *opaque) {
    (void)base, (void)opaque;
    return js_strdup(ctx, name);
}

static JSModuleDef *load(JSContext *ctx, const char *name, void *opaque) {
    (void)opaque;
    int is_module = 0;
    const char *src = find_source(name, &is_module);
    if (!src || !is_module) {
        JS_ThrowReferenceError(ctx,
                               "cannot import '%s': only 'cloudflare:workers' and "
                               "'cloudflare:workflows' can be imported",
                               name);
        return NULL;
    }
    JSValue fn = JS_Eval(ctx, src, strlen(src), name,
                         JS_EVAL_TYPE_MODULE | JS_EVAL_FLAG_COMPILE_ONLY);
    if (JS_IsException(fn)) return NULL;
    JSModuleDef *m = JS_VALUE_GET_PTR(fn);
    JS_FreeValue(ctx, fn);
    return m;
}

void fb_modules_install(JSRuntime *rt) {
    JS_SetModuleLoaderFunc(rt, normalize, load, NULL);
}

/* Evaluates a built-in script (not a module) and returns its value. */
JSValue fb_builtin_eval_script(JSContext *ctx, const char *name) {
    int is_module = 0;
    const char *src = find_source(name, &is_module);
    if (!src || is_module) return JS_ThrowInternalError(ctx, "no built-in script %s", name);
    return JS_Eval(ctx, src, strlen(src), name, JS_EVAL_TYPE_GLOBAL | JS_EVAL_FLAG_STRICT);
}
