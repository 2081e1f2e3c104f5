// Every replaceable operator new and delete, run with and without LD_PRELOAD=libhakmem.so
// (test_preload.c) and linked statically with <hakmem/new_delete.hpp> (HAKMEM_STATIC_NEW).
// stdout must be the same under every allocator.
//   cxx_operators                 every form, bad_alloc, the new-handler loop
//   cxx_operators MISMATCH        one mismatch (array-scalar, new-free, malloc-delete,
//                                 wrong-size): "not reported" when it goes unseen
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <initializer_list>
#include <new>

#ifdef HAKMEM_STATIC_NEW
#include "hakmem/new_delete.hpp"
#endif

static int handler_calls;
static void counting_handler() {
    handler_calls++;
    std::set_new_handler(nullptr); // the next failure throws
}

[[noreturn]] static void throwing_handler() {
    throw std::bad_alloc();
}

static int aligned(const void *p, std::size_t a) {
    return reinterpret_cast<std::uintptr_t>(p) % a == 0;
}

// Keeps the compiler from pairing or eliding what it sees.
static void *volatile sink;

static int every_form() {
    int bad = 0;
    const std::size_t sizes[] = {0, 1, 24, 1000, 40000, 1 << 20, 9 << 20};
    for (std::size_t n : sizes) {
        void *p = ::operator new(n);
        std::memset(p, 1, n);
        sink = p;
        ::operator delete(p);
        p = ::operator new[](n);
        sink = p;
        ::operator delete[](p);
        p = ::operator new(n, std::nothrow);
        bad += p == nullptr;
        ::operator delete(p, std::nothrow);
        p = ::operator new[](n, std::nothrow);
        bad += p == nullptr;
        ::operator delete[](p, std::nothrow);
        p = ::operator new(n);
        ::operator delete(p, n);
        p = ::operator new[](n);
        ::operator delete[](p, n);
        for (std::size_t a : {std::size_t(16), std::size_t(64), std::size_t(4096),
                              std::size_t(1) << 16, std::size_t(1) << 21}) {
            std::align_val_t al{a};
            p = ::operator new(n, al);
            bad += !aligned(p, a);
            std::memset(p, 2, n);
            ::operator delete(p, al);
            p = ::operator new[](n, al);
            bad += !aligned(p, a);
            ::operator delete[](p, al);
            p = ::operator new(n, al);
            ::operator delete(p, n, al);
            p = ::operator new[](n, al);
            ::operator delete[](p, n, al);
            p = ::operator new(n, al, std::nothrow);
            bad += p == nullptr || !aligned(p, a);
            ::operator delete(p, al, std::nothrow);
            p = ::operator new[](n, al, std::nothrow);
            bad += p == nullptr || !aligned(p, a);
            ::operator delete[](p, al, std::nothrow);
        }
    }
    std::printf("every form: %s\n", bad ? "FAIL" : "ok");
    return bad;
}

static int failures() {
    int bad = 0;
    const std::size_t impossible = SIZE_MAX / 4;
    try {
        sink = ::operator new(impossible);
        bad++;
    } catch (const std::bad_alloc &) {
        std::printf("new of an impossible size throws bad_alloc\n");
    }
    try {
        sink = ::operator new[](impossible, std::align_val_t{64});
        bad++;
    } catch (const std::bad_alloc &) {
        std::printf("aligned new[] of an impossible size throws bad_alloc\n");
    }
    std::printf("nothrow new of an impossible size: %s\n",
                ::operator new(impossible, std::nothrow) == nullptr ? "nullptr" : "FAIL");
    // A handler that throws: the nothrow forms catch it and return nullptr.
    std::set_new_handler(throwing_handler);
    void *q = ::operator new(impossible, std::nothrow);
    void *qa = ::operator new[](impossible, std::align_val_t{256}, std::nothrow);
    std::printf("nothrow new under a throwing new-handler: %s\n",
                q == nullptr && qa == nullptr ? "nullptr" : "FAIL");
    bad += q != nullptr || qa != nullptr;
    std::set_new_handler(counting_handler);
    try {
        sink = ::operator new(impossible);
        bad++;
    } catch (const std::bad_alloc &) {
        std::printf("the new-handler ran %d time(s), then bad_alloc\n", handler_calls);
    }
    return bad;
}

int main(int argc, char **argv) {
    Dl_info info{};
    void *(*plain_new)(std::size_t) = &::operator new;
    if (dladdr(reinterpret_cast<void *>(plain_new), &info) && info.dli_fname)
        std::fprintf(stderr, "operator new is in %s\n", info.dli_fname);
    if (argc > 1) {
        const char *m = argv[1];
        if (!std::strcmp(m, "array-scalar"))
            ::operator delete(::operator new[](1 << 20));
        else if (!std::strcmp(m, "new-free"))
            std::free(::operator new(1 << 20));
        else if (!std::strcmp(m, "malloc-delete"))
            ::operator delete(std::malloc(1 << 20));
        else if (!std::strcmp(m, "wrong-size"))
            ::operator delete(::operator new(1 << 20), std::size_t(4) << 20);
        else
            return 2;
        std::printf("not reported\n");
        return 0;
    }
    int bad = every_form() + failures();
    return bad ? 1 : 0;
}
