/* Internal to the superslab room: the two providers behind hak_slab_acquire/release. */
#ifndef HAKMEM_SUPERSLAB_PROVIDER_H
#define HAKMEM_SUPERSLAB_PROVIDER_H

#include "core/purge.h"
#include "superslab/slab.h"

hak_slab *hak_superslab_acquire(void);
void      hak_superslab_release(hak_slab *s);
/* The room's purge hook (core/purge.h): dirty slabs and empty SuperSlabs. */
size_t    hak_superslab_purge(hak_purge_req *req);
void      hak_superslab_lock_all(void);
void      hak_superslab_unlock_all(void);
void      hak_superslab_reset_locks(void);

hak_slab *hak_pageslab_acquire(void);
void      hak_pageslab_release(hak_slab *s);
void      hak_pageslab_lock_all(void);
void      hak_pageslab_unlock_all(void);
void      hak_pageslab_reset_locks(void);

#endif
