/* What core calls in the other rooms. Every reference is weak: a program may link core
 * with any subset of the rooms, and core falls back when one is absent (small requests go
 * to the large path when tiny is absent, large requests to core's fallback block when the
 * large room is absent). Each room defines hak_component_<name>; its CMake target adds
 * "-u hak_component_<name>" to the link so the archive member is pulled in. */
#ifndef HAKMEM_CORE_COMPONENTS_H
#define HAKMEM_CORE_COMPONENTS_H

#include <stddef.h>
#include <stdint.h>

#include "core/compiler.h"
#include "core/map.h"
#include "core/purge.h"
#include "hakmem/hakmem.h"

typedef struct hak_component {
    const char *name;
    void (*init)(void);          /* once, from hak_init, in dependency order */
    void (*fork_prepare)(void);  /* take the room's locks */
    void (*fork_parent)(void);   /* release them */
    void (*fork_child)(void);    /* reset them; only the forking thread lives on */
    /* Memory return (core/purge.h): gives back what the room caches, as req asks; returns
     * the bytes given back. Called with no hakmem lock held, the top room first. */
    size_t (*purge)(hak_purge_req *req);
} hak_component;

/* The rooms present in this program, in dependency order (the bottom room first), NULL
 * after the last; returns how many. */
#define HAK_COMPONENTS_MAX 8
int hak_components_present(const hak_component **out);

extern const hak_component hak_component_policy HAK_WEAK;
extern const hak_component hak_component_superslab HAK_WEAK;
extern const hak_component hak_component_tiny HAK_WEAK;
extern const hak_component hak_component_batch HAK_WEAK;
extern const hak_component hak_component_bigcache HAK_WEAK;
extern const hak_component hak_component_large HAK_WEAK;

#ifdef HAKMEM_SHARED_LIBRARY
#define HAK_HAS(room) 1 /* libhakmem.so holds every room */
#else
#define HAK_HAS(room) (&hak_component_##room != NULL)
#endif

/* tiny (tiny/tiny.h has the full interface) */
void  *hak_tiny_alloc(size_t size) HAK_WEAK;        /* from the thread's list, else refilled */
void  *hak_tiny_alloc_cached(size_t size) HAK_WEAK; /* from the thread's list, else NULL */
void  *hak_tiny_alloc_aligned(size_t size, size_t alignment) HAK_WEAK;
void   hak_tiny_free(void *p, void *slab) HAK_WEAK;
size_t hak_tiny_usable_size(const void *p, void *slab) HAK_WEAK;
extern const unsigned hak_tiny_class_count HAK_WEAK; /* for malloc_info */
extern uint32_t hak_tiny_class_size[] HAK_WEAK;      /* block size of each class */
extern uint32_t hak_tiny_limit[] HAK_WEAK;           /* blocks a thread's list may keep */

/* large (large/large.h) */
void  *hak_large_alloc(size_t size, size_t alignment, uintptr_t site, int zero) HAK_WEAK;
void   hak_large_free(hak_map_block *b) HAK_WEAK;
size_t hak_large_usable_size(const hak_map_block *b) HAK_WEAK;
void  *hak_large_realloc(hak_map_block *b, size_t size, uintptr_t site) HAK_WEAK;
void   hak_large_flush(void) HAK_WEAK;

/* policy (public API, include/hakmem/hakmem.h) */
extern __typeof__(hak_policy_select) hak_policy_select HAK_WEAK;
extern __typeof__(hak_policy_current) hak_policy_current HAK_WEAK;

#endif
