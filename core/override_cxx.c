/* libhakmem.so only: every replaceable C++ operator new and delete, by their mangled names
 * (x86-64 Itanium ABI: size_t is 'm'), written in C so that the library needs no C++
 * runtime of its own. The sizes and alignments the compiler passes are used: aligned forms
 * go to the aligned path, sized and aligned deletes are checked under core.check_free, and
 * the family (new, new[]) is recorded for the mismatch check.
 *
 * When hakmem has no memory, the same operator of the next library in the search order
 * (libstdc++'s or libc++'s) takes over: it runs the new-handler loop over malloc (ours)
 * and throws std::bad_alloc, and its nothrow forms catch what a handler throws, which C
 * cannot. This file is built with -fexceptions so that the exception unwinds through it. */
#include <dlfcn.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "core/front.h"
#include "core/options.h"
#include "core/report.h"

typedef void *(*new_fn)(size_t, size_t, const void *); /* every form fits: unused args */

/* The next definition of the operator, or NULL without a C++ runtime (a C program that
 * calls the mangled name directly: nothing can have installed a handler). */
static new_fn next_operator(const char *name, void *_Atomic *cache) {
    void *f = atomic_load_explicit(cache, memory_order_acquire);
    if (!f) {
        f = dlsym(RTLD_NEXT, name);
        atomic_store_explicit(cache, f, memory_order_release);
    }
    return (new_fn)f;
}

/* The rare path: aligned, large or out of memory. */
static HAK_NOINLINE void *new_slow(size_t size, size_t alignment, unsigned family, int nothrow,
                                   uintptr_t site, const char *name, void *_Atomic *cache) {
    void *p = NULL;
    if (alignment <= HAK_MIN_ALIGN || HAK_IS_POW2(alignment))
        p = hak_front_alloc_slow(size, alignment, site, HAK_ALLOC_FAMILY(family));
    if (hak_likely(p != NULL))
        return p;
    new_fn next = next_operator(name, cache);
    if (!next) {
        if (nothrow)
            return NULL;
        hak_report("operator new(%zu): out of memory, and no C++ runtime to throw "
                   "std::bad_alloc", size);
        abort();
    }
    /* Throws, or returns what a new-handler made room for (through our malloc). */
    static const char tag; /* std::nothrow: its address only is passed */
    p = alignment ? next(size, alignment, &tag) : next(size, (size_t)&tag, NULL);
    if (p && hak_unlikely(hak_option(HAK_OPT_CORE_CHECK_FREE))) {
        hak_map_block *b = hak_map_block_find(p);
        if (b)
            b->family = (uint16_t)family;
    }
    return p;
}

/* The small path is malloc's; everything else (large, aligned, failures) is new_slow. */
#define NEW_BODY(size, alignment, family, nothrow, mangled)                                      \
    do {                                                                                         \
        static void *_Atomic hak_next_;                                                          \
        if ((alignment) <= HAK_MIN_ALIGN) {                                                      \
            void *hak_p_ = hak_front_malloc_fast(size);                                          \
            if (hak_likely(hak_p_ != NULL))                                                      \
                return hak_p_;                                                                   \
        }                                                                                        \
        return new_slow((size), (alignment), (family), (nothrow), HAK_CALLER_SITE(), (mangled), \
                        &hak_next_);                                                             \
    } while (0)

#define MODE_NEW       HAK_FREE_MODE(HAK_FOREIGN_LIBC, HAK_FAMILY_NEW)
#define MODE_NEW_ARRAY HAK_FREE_MODE(HAK_FOREIGN_LIBC, HAK_FAMILY_NEW_ARRAY)

/* operator new(size_t), new[](size_t), and their nothrow forms */
HAK_API void *_Znwm(size_t n) { NEW_BODY(n, 0, HAK_FAMILY_NEW, 0, "_Znwm"); }
HAK_API void *_Znam(size_t n) { NEW_BODY(n, 0, HAK_FAMILY_NEW_ARRAY, 0, "_Znam"); }
HAK_API void *_ZnwmRKSt9nothrow_t(size_t n, const void *tag) {
    (void)tag;
    NEW_BODY(n, 0, HAK_FAMILY_NEW, 1, "_ZnwmRKSt9nothrow_t");
}
HAK_API void *_ZnamRKSt9nothrow_t(size_t n, const void *tag) {
    (void)tag;
    NEW_BODY(n, 0, HAK_FAMILY_NEW_ARRAY, 1, "_ZnamRKSt9nothrow_t");
}

/* operator new(size_t, align_val_t), new[], and their nothrow forms */
HAK_API void *_ZnwmSt11align_val_t(size_t n, size_t a) {
    NEW_BODY(n, a, HAK_FAMILY_NEW, 0, "_ZnwmSt11align_val_t");
}
HAK_API void *_ZnamSt11align_val_t(size_t n, size_t a) {
    NEW_BODY(n, a, HAK_FAMILY_NEW_ARRAY, 0, "_ZnamSt11align_val_t");
}
HAK_API void *_ZnwmSt11align_val_tRKSt9nothrow_t(size_t n, size_t a, const void *tag) {
    (void)tag;
    NEW_BODY(n, a, HAK_FAMILY_NEW, 1, "_ZnwmSt11align_val_tRKSt9nothrow_t");
}
HAK_API void *_ZnamSt11align_val_tRKSt9nothrow_t(size_t n, size_t a, const void *tag) {
    (void)tag;
    NEW_BODY(n, a, HAK_FAMILY_NEW_ARRAY, 1, "_ZnamSt11align_val_tRKSt9nothrow_t");
}

/* operator delete(void*), delete[](void*), and their nothrow forms */
HAK_API void _ZdlPv(void *p) { hak_front_free(p, MODE_NEW); }
HAK_API void _ZdaPv(void *p) { hak_front_free(p, MODE_NEW_ARRAY); }
HAK_API void _ZdlPvRKSt9nothrow_t(void *p, const void *tag) {
    (void)tag;
    hak_front_free(p, MODE_NEW);
}
HAK_API void _ZdaPvRKSt9nothrow_t(void *p, const void *tag) {
    (void)tag;
    hak_front_free(p, MODE_NEW_ARRAY);
}

/* Sized (C++14) and aligned (C++17) deletes: what the compiler emits for most deletes. */
HAK_API void _ZdlPvm(void *p, size_t n) {
    hak_front_free_sized(p, n, 0, MODE_NEW, "operator delete");
}
HAK_API void _ZdaPvm(void *p, size_t n) {
    hak_front_free_sized(p, n, 0, MODE_NEW_ARRAY, "operator delete[]");
}
HAK_API void _ZdlPvSt11align_val_t(void *p, size_t a) {
    hak_front_free_sized(p, 0, a, MODE_NEW, "operator delete");
}
HAK_API void _ZdaPvSt11align_val_t(void *p, size_t a) {
    hak_front_free_sized(p, 0, a, MODE_NEW_ARRAY, "operator delete[]");
}
HAK_API void _ZdlPvmSt11align_val_t(void *p, size_t n, size_t a) {
    hak_front_free_sized(p, n, a, MODE_NEW, "operator delete");
}
HAK_API void _ZdaPvmSt11align_val_t(void *p, size_t n, size_t a) {
    hak_front_free_sized(p, n, a, MODE_NEW_ARRAY, "operator delete[]");
}
HAK_API void _ZdlPvSt11align_val_tRKSt9nothrow_t(void *p, size_t a, const void *tag) {
    (void)tag;
    hak_front_free_sized(p, 0, a, MODE_NEW, "operator delete");
}
HAK_API void _ZdaPvSt11align_val_tRKSt9nothrow_t(void *p, size_t a, const void *tag) {
    (void)tag;
    hak_front_free_sized(p, 0, a, MODE_NEW_ARRAY, "operator delete[]");
}
