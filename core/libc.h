/* The C library's own allocator. glibc exports these under GLIBC_2.2.5; they never come
 * back to us even when libhakmem.so replaces malloc (dlsym(RTLD_NEXT) would: it calls
 * calloc). */
#ifndef HAKMEM_CORE_LIBC_H
#define HAKMEM_CORE_LIBC_H

#include <stddef.h>

extern void *__libc_malloc(size_t size);
extern void  __libc_free(void *p);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t size);
extern void *__libc_memalign(size_t alignment, size_t size);

#endif
