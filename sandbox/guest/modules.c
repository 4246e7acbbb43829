/* Built-in JavaScript (the files in js/, embedded by the build as js_sources.h) and
 * the import policy: user modules may import the built-in modules
 * `cloudflare:workers` and `cloudflare:workflows` and the script's own other
 * modules (uploaded with it, handed over by fb_modules), nothing else. The
 * built-in modules themselves may also import `flowbox:internal`, a C module
 * that holds what they share with the shim (the `env` object). */
#include <stdlib.h>
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

/* ---- the script's other modules ------------------------------------------ */

/* One module of the script besides the main one: its source ('s', compiled
 * when first imported, at compile time) or bytecode ('b', at run time).
 * Names and data point into the buffer the host wrote, which stays. */
typedef struct {
    const char *name;
    const char *data;
    uint32_t len;
    char kind;
    uint8_t *compiled; /* bytecode made from source here, for the artifact */
    size_t compiled_len;
} user_module;

#define MAX_USER_MODULES 256
static user_module user_modules[MAX_USER_MODULES];
static uint32_t user_module_count;

static uint32_t read_u32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Entries: kind byte, u32 name length, name, NUL, u32 data length, data,
 * NUL (QuickJS wants sources NUL-terminated). */
int fb_modules_set(const uint8_t *buf, uint32_t len) {
    uint32_t at = 0, n = 0;
    while (at < len) {
        if (n == MAX_USER_MODULES || len - at < 5) return -1;
        char kind = (char)buf[at];
        uint32_t name_len = read_u32(buf + at + 1);
        at += 5;
        if (len - at < (uint64_t)name_len + 5) return -1;
        const char *name = (const char *)buf + at;
        at += name_len + 1;
        uint32_t data_len = read_u32(buf + at);
        at += 4;
        if (len - at < (uint64_t)data_len + 1) return -1;
        user_modules[n++] = (user_module){name, (const char *)buf + at, data_len, kind, NULL, 0};
        at += data_len + 1;
    }
    user_module_count = n;
    return 0;
}

static user_module *find_user_module(const char *name) {
    for (uint32_t i = 0; i < user_module_count; i++)
        if (strcmp(user_modules[i].name, name) == 0) return &user_modules[i];
    return NULL;
}

/* The bytecode of the modules compiled from source, as entries of u32 name
 * length, name, u32 bytecode length, bytecode; *len gets the total. */
uint8_t *fb_modules_compiled(size_t *len) {
    size_t total = 0;
    for (uint32_t i = 0; i < user_module_count; i++)
        if (user_modules[i].compiled)
            total += 8 + strlen(user_modules[i].name) + user_modules[i].compiled_len;
    uint8_t *out = malloc(total ? total : 1);
    if (!out) return NULL;
    size_t at = 0;
    for (uint32_t i = 0; i < user_module_count; i++) {
        user_module *m = &user_modules[i];
        if (!m->compiled) continue;
        uint32_t lens[2] = {(uint32_t)strlen(m->name), (uint32_t)m->compiled_len};
        const void *parts[2] = {m->name, m->compiled};
        for (int k = 0; k < 2; k++) {
            for (int b = 0; b < 4; b++) out[at++] = (uint8_t)(lens[k] >> (8 * b));
            memcpy(out + at, parts[k], lens[k]);
            at += lens[k];
        }
    }
    *len = total;
    return out;
}

/* `name` relative to the directory of `base`, with `.` and `..` resolved;
 * NULL when it climbs above the script's root. */
static char *join_path(JSContext *ctx, const char *base, const char *name) {
    size_t cap = strlen(base) + strlen(name) + 2;
    char *out = js_malloc(ctx, cap);
    if (!out) return NULL;
    size_t len = 0;
    const char *slash = strrchr(base, '/');
    if (name[0] != '/' && slash) {
        len = (size_t)(slash - base);
        memcpy(out, base, len);
    }
    const char *p = name;
    while (*p) {
        while (*p == '/') p++;
        const char *end = strchr(p, '/');
        size_t seg = end ? (size_t)(end - p) : strlen(p);
        int dot = seg == 1 && p[0] == '.';
        if (seg == 2 && p[0] == '.' && p[1] == '.') {
            if (len == 0) {
                js_free(ctx, out);
                return NULL;
            }
            while (len > 0 && out[len - 1] != '/') len--;
            if (len > 0) len--;
        } else if (seg > 0 && !dot) {
            if (len > 0) out[len++] = '/';
            memcpy(out + len, p, seg);
            len += seg;
        }
        p += seg;
    }
    out[len] = 0;
    return out;
}

/* The uploaded module a specifier means: the name itself, or, as a
 * TypeScript project writes imports, with .ts/.js added, .js read as .ts,
 * or /index.ts|js. NULL when the script has no such module. */
static const char *match_user_module(const char *name) {
    static const char *suffixes[] = {"", ".ts", ".js", ".mts", ".mjs", "/index.ts", "/index.js"};
    static char buf[1024];
    size_t n = strlen(name);
    for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        size_t k = strlen(suffixes[i]);
        if (n + k >= sizeof(buf)) return NULL;
        memcpy(buf, name, n);
        memcpy(buf + n, suffixes[i], k + 1);
        user_module *m = find_user_module(buf);
        if (m) return m->name;
    }
    if (n > 3 && strcmp(name + n - 3, ".js") == 0 && n < sizeof(buf)) {
        memcpy(buf, name, n - 3);
        memcpy(buf + n - 3, ".ts", 4);
        user_module *m = find_user_module(buf);
        if (m) return m->name;
    }
    return NULL;
}

static char *refuse(JSContext *ctx, const char *name) {
    size_t n = strlen(name);
    char *refused = js_malloc(ctx, n + 2);
    if (!refused) return NULL;
    refused[0] = REFUSED_PREFIX[0];
    memcpy(refused + 1, name, n + 1);
    return refused;
}

static char *normalize(JSContext *ctx, const char *base, const char *name, void *opaque) {
    (void)opaque;
    if (strncmp(name, "flowbox:", 8) == 0 && !is_builtin(base)) return refuse(ctx, name);
    if (is_builtin(name)) return js_strdup(ctx, name);
    char *path = (name[0] == '.' || name[0] == '/') ? join_path(ctx, base, name)
                                                     : js_strdup(ctx, name);
    if (!path) return refuse(ctx, name);
    const char *found = match_user_module(path);
    if (!found) return path;
    js_free(ctx, path);
    return js_strdup(ctx, found);
}

static JSModuleDef *load_user_module(JSContext *ctx, user_module *m) {
    JSValue fn;
    if (m->kind == 'b') {
        fn = JS_ReadObject(ctx, (const uint8_t *)m->data, m->len, JS_READ_OBJ_BYTECODE);
    } else {
        fn = JS_Eval(ctx, m->data, m->len, m->name,
                     JS_EVAL_TYPE_MODULE | JS_EVAL_FLAG_COMPILE_ONLY);
        if (!JS_IsException(fn) && !m->compiled) {
            m->compiled = JS_WriteObject(ctx, &m->compiled_len, fn, JS_WRITE_OBJ_BYTECODE);
            if (!m->compiled) {
                JS_FreeValue(ctx, fn);
                return NULL;
            }
        }
    }
    if (JS_IsException(fn)) return NULL;
    JSModuleDef *def = JS_VALUE_GET_PTR(fn);
    JS_FreeValue(ctx, fn);
    return def;
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
    user_module *own = find_user_module(name);
    if (own) return load_user_module(ctx, own);
    int is_module = 0;
    const char *src = find_source(name, &is_module);
    if (!src || !is_module) {
        const char *shown = name[0] == REFUSED_PREFIX[0] ? name + 1 : name;
        JS_ThrowReferenceError(ctx,
                               "cannot import '%s': only 'cloudflare:workers', "
                               "'cloudflare:workflows' and the script's own modules "
                               "(uploaded with it) can be imported",
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
