/* The QuickJS allocator with a byte budget. QuickJS's own limit throws a
 * catchable error; we also want to know afterwards that memory ran out, so
 * that the host can report the memory limit rather than a plain error. */
#include <malloc.h>
#include <stdlib.h>
#include "guest.h"

static size_t limit_bytes;
static size_t used_bytes;
static int oom_seen;

void fb_alloc_set_limit(size_t limit) { limit_bytes = limit; }
int fb_alloc_oom_seen(void) { return oom_seen; }

/* QuickJS collects cycles only when its heap grows by half since the last
 * collection, which can lie beyond the limit: a program whose garbage is
 * cyclic (promise chains) would run out of memory with most of it garbage.
 * The event loop asks this between jobs and collects early. */
int fb_alloc_wants_gc(void) {
    static size_t used_after_gc;
    if (!limit_bytes || used_bytes < limit_bytes / 4 * 3) return 0;
    if (used_bytes < used_after_gc + limit_bytes / 16) return 0;
    used_after_gc = used_bytes;
    return 1;
}

static int over_budget(size_t extra) {
    if (limit_bytes && used_bytes + extra > limit_bytes) {
        oom_seen = 1;
        return 1;
    }
    return 0;
}

static void *track(void *p) {
    if (!p) {
        oom_seen = 1;
        return NULL;
    }
    used_bytes += malloc_usable_size(p);
    return p;
}

static void *fb_malloc(void *opaque, size_t size) {
    (void)opaque;
    if (over_budget(size)) return NULL;
    return track(malloc(size));
}

static void *fb_calloc(void *opaque, size_t count, size_t size) {
    (void)opaque;
    if (size && count > SIZE_MAX / size) return NULL;
    if (over_budget(count * size)) return NULL;
    return track(calloc(count, size));
}

static void fb_free(void *opaque, void *ptr) {
    (void)opaque;
    if (!ptr) return;
    used_bytes -= malloc_usable_size(ptr);
    free(ptr);
}

static void *fb_realloc(void *opaque, void *ptr, size_t size) {
    (void)opaque;
    size_t old = ptr ? malloc_usable_size(ptr) : 0;
    if (size == 0) {
        fb_free(opaque, ptr);
        return NULL;
    }
    if (size > old && over_budget(size - old)) return NULL;
    void *p = realloc(ptr, size);
    if (!p) {
        oom_seen = 1;
        return NULL;
    }
    used_bytes = used_bytes - old + malloc_usable_size(p);
    return p;
}

static size_t fb_usable_size(const void *ptr) {
    return malloc_usable_size((void *)ptr);
}

const JSMallocFunctions fb_malloc_functions = {
    fb_calloc, fb_malloc, fb_free, fb_realloc, fb_usable_size,
};
