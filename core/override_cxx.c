/* libhakmem.so only: every replaceable C++ operator new and delete, by their mangled names
 * (x86-64 Itanium ABI: size_t is 'm'), written in C so that the library needs no C++
 * runtime of its own. The sizes and alignments the compiler passes are used: aligned forms
 * go to the aligned path, sized and aligned deletes are checked under core.check_free, and
 * the family (new, new[]) is recorded for the mismatch check.
 *
 * new must run the new-handler loop and throw std::bad_alloc. Both live in the program's
 * libstdc++: std::get_new_handler and std::__throw_bad_alloc are looked up when first
 * needed (a C program that never calls new never loads them). This file is built with
 * -fexceptions so that the exception unwinds through it. */
#include <dlfcn.h>
#include <stdlib.h>

#include "core/front.h"
#include "core/report.h"

typedef void (*new_handler_fn)(void);

static void *cxx_symbol(const char *name) {
    return dlsym(RTLD_DEFAULT, name);
}

/* std::get_new_handler(), or NULL without a C++ runtime. */
static new_handler_fn current_new_handler(void) {
    static new_handler_fn (*get)(void);
    if (!get)
        get = (new_handler_fn(*)(void))cxx_symbol("_ZSt15get_new_handlerv");
    return get ? get() : NULL;
}

__attribute__((noreturn)) static void throw_bad_alloc(size_t size) {
    static void (*thrower)(void);
    if (!thrower)
        thrower = (void (*)(void))cxx_symbol("_ZSt17__throw_bad_allocv");
    if (thrower)
        thrower();
    hak_report("operator new(%zu): out of memory, and no C++ runtime to throw std::bad_alloc",
               size);
    abort();
}

/* The new-handler loop ([new.delete.single]): retry after each call of the handler; none
 * installed: throw (nothrow forms return NULL). */
static HAK_NOINLINE void *new_slow(size_t size, size_t alignment, unsigned family, int nothrow,
                                   uintptr_t site) {
    if (alignment > HAK_MIN_ALIGN && !HAK_IS_POW2(alignment)) {
        if (nothrow)
            return NULL;
        throw_bad_alloc(size);
    }
    for (;;) {
        void *p = hak_front_alloc_slow(size, alignment, site, HAK_ALLOC_FAMILY(family));
        if (p)
            return p;
        new_handler_fn h = current_new_handler();
        if (!h) {
            if (nothrow)
                return NULL;
            throw_bad_alloc(size);
        }
        h();
    }
}

/* The small path is malloc's; everything else (large, aligned, failures) is new_slow. */
#define NEW_BODY(size, alignment, family, nothrow)                                               \
    do {                                                                                         \
        if ((alignment) <= HAK_MIN_ALIGN) {                                                      \
            void *hak_p_ = hak_front_malloc_fast(size);                                          \
            if (hak_likely(hak_p_ != NULL))                                                      \
                return hak_p_;                                                                   \
        }                                                                                        \
        return new_slow((size), (alignment), (family), (nothrow), HAK_CALLER_SITE());           \
    } while (0)

#define MODE_NEW       HAK_FREE_MODE(HAK_FOREIGN_LIBC, HAK_FAMILY_NEW)
#define MODE_NEW_ARRAY HAK_FREE_MODE(HAK_FOREIGN_LIBC, HAK_FAMILY_NEW_ARRAY)

/* operator new(size_t), new[](size_t), and their nothrow forms */
HAK_API void *_Znwm(size_t n) { NEW_BODY(n, 0, HAK_FAMILY_NEW, 0); }
HAK_API void *_Znam(size_t n) { NEW_BODY(n, 0, HAK_FAMILY_NEW_ARRAY, 0); }
HAK_API void *_ZnwmRKSt9nothrow_t(size_t n, const void *tag) {
    (void)tag;
    NEW_BODY(n, 0, HAK_FAMILY_NEW, 1);
}
HAK_API void *_ZnamRKSt9nothrow_t(size_t n, const void *tag) {
    (void)tag;
    NEW_BODY(n, 0, HAK_FAMILY_NEW_ARRAY, 1);
}

/* operator new(size_t, align_val_t), new[], and their nothrow forms */
HAK_API void *_ZnwmSt11align_val_t(size_t n, size_t a) { NEW_BODY(n, a, HAK_FAMILY_NEW, 0); }
HAK_API void *_ZnamSt11align_val_t(size_t n, size_t a) {
    NEW_BODY(n, a, HAK_FAMILY_NEW_ARRAY, 0);
}
HAK_API void *_ZnwmSt11align_val_tRKSt9nothrow_t(size_t n, size_t a, const void *tag) {
    (void)tag;
    NEW_BODY(n, a, HAK_FAMILY_NEW, 1);
}
HAK_API void *_ZnamSt11align_val_tRKSt9nothrow_t(size_t n, size_t a, const void *tag) {
    (void)tag;
    NEW_BODY(n, a, HAK_FAMILY_NEW_ARRAY, 1);
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
