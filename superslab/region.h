/* Internal to the superslab room: the SuperSlab region (superslab/region.c). */
#ifndef HAKMEM_SUPERSLAB_REGION_H
#define HAKMEM_SUPERSLAB_REGION_H

/* A committed, zero-filled, 2 MiB-aligned SuperSlab-sized range inside the region, or NULL
 * when there is no region (not reservable) or it is full: the caller then maps one of its
 * own. The first call reserves the region. */
void *hak_superslab_region_take(void);
/* Gives back a SuperSlab taken from the region: decommitted (pages and commit charge go
 * back to the OS), its range kept for the next take. */
void  hak_superslab_region_give_back(void *ss);

void hak_superslab_region_lock(void);
void hak_superslab_region_unlock(void);
void hak_superslab_region_reset_lock(void);

#endif
