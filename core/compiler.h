/* Small compiler helpers shared by every room. */
#ifndef HAKMEM_CORE_COMPILER_H
#define HAKMEM_CORE_COMPILER_H

#define hak_likely(x)   __builtin_expect(!!(x), 1)
#define hak_unlikely(x) __builtin_expect(!!(x), 0)
#define HAK_INLINE      static inline __attribute__((always_inline))
#define HAK_NOINLINE    __attribute__((noinline))
#define HAK_WEAK        __attribute__((weak))
/* Thread-local state never goes through __tls_get_addr (which may call malloc). */
#define HAK_TLS         __thread __attribute__((tls_model("initial-exec")))
/* Symbols of the public API: exported from libhakmem.so, everything else stays hidden. */
#define HAK_API         __attribute__((visibility("default")))
/* On an extern declaration: defined inside libhakmem.so, so addressed directly rather than
 * through the GOT (-fvisibility=hidden covers definitions only). */
#define HAK_HIDDEN      __attribute__((visibility("hidden")))

/* A spin-wait hint to the CPU (x86 pause, arm yield). */
#if defined(__x86_64__) || defined(__i386__)
#define hak_cpu_relax() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define hak_cpu_relax() __asm__ __volatile__("yield")
#else
#define hak_cpu_relax() ((void)0)
#endif

#define HAK_ALIGN_UP(x, a)   (((x) + ((a) - 1)) & ~((uintptr_t)(a) - 1))
#define HAK_IS_POW2(x)       ((x) != 0 && ((x) & ((x) - 1)) == 0)

#endif
