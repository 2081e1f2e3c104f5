// hakmem's C++ operators for a static link: include this header in exactly one source file
// of the program (it defines the replaceable operator new and delete, which must be defined
// once). libhakmem.so under LD_PRELOAD needs no header: it exports the operators itself.
//
// Every form is here: plain, array, nothrow, sized (C++14) and aligned (C++17). new runs the
// new-handler loop and throws std::bad_alloc; the nothrow forms return nullptr instead.
#ifndef HAKMEM_NEW_DELETE_HPP
#define HAKMEM_NEW_DELETE_HPP

#include <cstddef>
#include <new>

#include "hakmem/hakmem.h"

// The caller of the operator: the call site the heap profile shows.
#define HAKMEM_NEW_SITE __builtin_return_address(0)

namespace hakmem_detail {

inline void *new_loop(std::size_t size, std::size_t alignment, int array, bool nothrow,
                      const void *site) {
    for (;;) {
        if (void *p = hak_new(size, alignment, array, site))
            return p;
        std::new_handler handler = std::get_new_handler();
        if (!handler) {
            if (nothrow)
                return nullptr;
            throw std::bad_alloc();
        }
        if (!nothrow) {
            handler();
            continue;
        }
        try {
            handler();
        } catch (const std::bad_alloc &) {
            return nullptr;
        }
    }
}

} // namespace hakmem_detail

void *operator new(std::size_t n) {
    return hakmem_detail::new_loop(n, 0, 0, false, HAKMEM_NEW_SITE);
}
void *operator new[](std::size_t n) {
    return hakmem_detail::new_loop(n, 0, 1, false, HAKMEM_NEW_SITE);
}
void *operator new(std::size_t n, const std::nothrow_t &) noexcept {
    return hakmem_detail::new_loop(n, 0, 0, true, HAKMEM_NEW_SITE);
}
void *operator new[](std::size_t n, const std::nothrow_t &) noexcept {
    return hakmem_detail::new_loop(n, 0, 1, true, HAKMEM_NEW_SITE);
}
void operator delete(void *p) noexcept { hak_delete(p, 0, 0, 0); }
void operator delete[](void *p) noexcept { hak_delete(p, 0, 0, 1); }
void operator delete(void *p, const std::nothrow_t &) noexcept { hak_delete(p, 0, 0, 0); }
void operator delete[](void *p, const std::nothrow_t &) noexcept { hak_delete(p, 0, 0, 1); }

#if defined(__cpp_sized_deallocation)
void operator delete(void *p, std::size_t n) noexcept { hak_delete(p, n, 0, 0); }
void operator delete[](void *p, std::size_t n) noexcept { hak_delete(p, n, 0, 1); }
#endif

#if defined(__cpp_aligned_new)
void *operator new(std::size_t n, std::align_val_t a) {
    return hakmem_detail::new_loop(n, static_cast<std::size_t>(a), 0, false, HAKMEM_NEW_SITE);
}
void *operator new[](std::size_t n, std::align_val_t a) {
    return hakmem_detail::new_loop(n, static_cast<std::size_t>(a), 1, false, HAKMEM_NEW_SITE);
}
void *operator new(std::size_t n, std::align_val_t a, const std::nothrow_t &) noexcept {
    return hakmem_detail::new_loop(n, static_cast<std::size_t>(a), 0, true, HAKMEM_NEW_SITE);
}
void *operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t &) noexcept {
    return hakmem_detail::new_loop(n, static_cast<std::size_t>(a), 1, true, HAKMEM_NEW_SITE);
}
void operator delete(void *p, std::align_val_t a) noexcept {
    hak_delete(p, 0, static_cast<std::size_t>(a), 0);
}
void operator delete[](void *p, std::align_val_t a) noexcept {
    hak_delete(p, 0, static_cast<std::size_t>(a), 1);
}
void operator delete(void *p, std::size_t n, std::align_val_t a) noexcept {
    hak_delete(p, n, static_cast<std::size_t>(a), 0);
}
void operator delete[](void *p, std::size_t n, std::align_val_t a) noexcept {
    hak_delete(p, n, static_cast<std::size_t>(a), 1);
}
void operator delete(void *p, std::align_val_t a, const std::nothrow_t &) noexcept {
    hak_delete(p, 0, static_cast<std::size_t>(a), 0);
}
void operator delete[](void *p, std::align_val_t a, const std::nothrow_t &) noexcept {
    hak_delete(p, 0, static_cast<std::size_t>(a), 1);
}
#endif

#undef HAKMEM_NEW_SITE

#endif // HAKMEM_NEW_DELETE_HPP
