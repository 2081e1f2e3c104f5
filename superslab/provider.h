/* Internal to the superslab room: the two providers behind hak_slab_acquire/release. */
#ifndef HAKMEM_SUPERSLAB_PROVIDER_H
#define HAKMEM_SUPERSLAB_PROVIDER_H

#include "superslab/slab.h"

hak_slab *hak_superslab_acquire(void);
void      hak_superslab_release(hak_slab *s);
void      hak_superslab_lock_all(void);
void      hak_superslab_unlock_all(void);
void      hak_superslab_reset_locks(void);

hak_slab *hak_pageslab_acquire(void);
void      hak_pageslab_release(hak_slab *s);
void      hak_pageslab_lock_all(void);
void      hak_pageslab_unlock_all(void);
void      hak_pageslab_reset_locks(void);

#endif
