/* Heap profile by call site (prof.sample_bytes). One block per prof.sample_bytes allocated
 * (on average: exponential intervals) is sampled; the front door serves a sampled small
 * request with a fallback block (so that its free reaches the slow path) and records its
 * call site here. The tables are mapped from the OS, never allocated through hakmem.
 *
 * How a sample is drawn without a counter on the fast path: while the profile is on, tiny
 * keeps no blocks in a thread's lists (tiny/tiny.c sets every class limit to 0), so every
 * small allocation and free takes the slow path, where the bytes are counted. */
#ifndef HAKMEM_CORE_PROF_H
#define HAKMEM_CORE_PROF_H

#include <stddef.h>
#include <stdint.h>

/* Set once at init from prof.sample_bytes (not changeable at run time: the tiny lists are
 * sized at init). */
extern int hak_prof_active;

void hak_prof_init(void);
/* Counts size bytes allocated by this thread; 1 when this request is to be sampled. */
int  hak_prof_tick(size_t size);
/* Records a sampled block of size bytes made for the call site. */
void hak_prof_record(const void *p, size_t size, uintptr_t site);
/* A block is freed (or moved by realloc): drops its sample if it had one. */
void hak_prof_forget(const void *p);
/* The exit report, per prof.format. */
void hak_prof_report(int fd);
/* Fork: the profile's locks are held across fork (its tables stay whole in the child) and
 * released in both processes. */
void hak_prof_fork_prepare(void);
void hak_prof_fork_release(void);

#endif
