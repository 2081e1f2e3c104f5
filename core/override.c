/* libhakmem.so only: the whole malloc family and glibc's extensions, so that LD_PRELOAD
 * replaces the C library's allocator in unmodified programs (C++'s operators are in
 * override_cxx.c). Pointers we do not own came from the C library before we took over:
 * they go back to it. */
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <stddef.h>
#include <unistd.h>

#include "core/front.h"
#include "core/init.h"
#include "core/libc.h"

HAK_API void *malloc(size_t size) {
    HAK_FRONT_MALLOC_ENTRY(size);
}

HAK_API void free(void *ptr) {
    hak_front_free(ptr, HAK_FREE_LIBC);
}

/* C23. With core.check_free, a size above the block's (or an alignment it lacks) is
 * reported. */
HAK_API void free_sized(void *ptr, size_t size) {
    hak_front_free_sized(ptr, size, 0, HAK_FREE_LIBC, "free_sized");
}

HAK_API void free_aligned_sized(void *ptr, size_t alignment, size_t size) {
    hak_front_free_sized(ptr, size, alignment, HAK_FREE_LIBC, "free_aligned_sized");
}

HAK_API void *calloc(size_t count, size_t size) {
    return hak_front_calloc(count, size, HAK_CALLER_SITE());
}

HAK_API void *realloc(void *ptr, size_t size) {
    return hak_front_realloc(ptr, size, HAK_CALLER_SITE(), HAK_FREE_LIBC);
}

HAK_API void *reallocarray(void *ptr, size_t count, size_t size) {
    size_t total;
    if (__builtin_mul_overflow(count, size, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    return hak_front_realloc(ptr, total, HAK_CALLER_SITE(), HAK_FREE_LIBC);
}

HAK_API int posix_memalign(void **out, size_t alignment, size_t size) {
    return hak_front_posix_memalign(out, alignment, size, HAK_CALLER_SITE());
}

HAK_API void *aligned_alloc(size_t alignment, size_t size) {
    return hak_front_aligned_alloc(alignment, size, HAK_CALLER_SITE());
}

/* glibc's memalign rounds an alignment that is not a power of two up to one. */
static size_t round_alignment(size_t alignment) {
    if (alignment <= HAK_MIN_ALIGN)
        return HAK_MIN_ALIGN;
    if (HAK_IS_POW2(alignment))
        return alignment;
    if (alignment > ((size_t)1 << 62))
        return 0;
    return (size_t)1 << (64 - __builtin_clzll(alignment));
}

HAK_API void *memalign(size_t alignment, size_t size) {
    size_t a = round_alignment(alignment);
    if (!a) {
        errno = EINVAL;
        return NULL;
    }
    return hak_front_aligned(a, size, HAK_CALLER_SITE());
}

HAK_API void *valloc(size_t size) {
    return hak_front_aligned((size_t)getpagesize(), size, HAK_CALLER_SITE());
}

HAK_API void *pvalloc(size_t size) {
    size_t page = (size_t)getpagesize();
    if (size > (size_t)PTRDIFF_MAX) {
        errno = ENOMEM;
        return NULL;
    }
    size_t rounded = size == 0 ? page : HAK_ALIGN_UP(size, page);
    return hak_front_aligned(page, rounded, HAK_CALLER_SITE());
}

/* For pointers the C library made before we took over, ask the C library. Looked up on
 * first use (dlsym may allocate, which is fine once we are initialised). */
static size_t libc_usable_size(void *p) {
    static size_t (*real)(void *);
    if (!real) {
        real = (size_t(*)(void *))dlsym(RTLD_NEXT, "malloc_usable_size");
        if (!real || real == (size_t(*)(void *))malloc_usable_size)
            return 0;
    }
    return real(p);
}

/* glibc's: gives memory back to the OS, 1 if any went back. hakmem gives back everything it
 * caches (hak_trim); pad, the bytes glibc keeps at the top of its heap, has no meaning
 * here. */
HAK_API int malloc_trim(size_t pad) {
    (void)pad;
    return hak_trim();
}

HAK_API size_t malloc_usable_size(void *ptr) {
    if (!ptr)
        return 0;
    size_t n = hak_front_usable_size(ptr);
    return n || HAK_FRONT_IN_SMALL_HEAP(ptr) ? n : libc_usable_size(ptr);
}

/* glibc's introspection and tuning, answered by hakmem (core/stats.c says what each field
 * and parameter means here). */
HAK_API struct mallinfo2 mallinfo2(void) {
    return hak_mallinfo2();
}

HAK_API struct mallinfo mallinfo(void) {
    return hak_mallinfo();
}

HAK_API void malloc_stats(void) {
    hak_counters_print(2);
}

HAK_API int malloc_info(int options, FILE *fp) {
    return hak_malloc_info(options, fp);
}

HAK_API int mallopt(int param, int value) {
    return hak_mallopt(param, value);
}
