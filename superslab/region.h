/* Internal to the superslab room: the SuperSlab region (superslab/region.c). */
#ifndef HAKMEM_SUPERSLAB_REGION_H
#define HAKMEM_SUPERSLAB_REGION_H

/* A mapped, zero-filled, 2 MiB-aligned SuperSlab-sized range at the region's next slot or
 * a given-back one, or NULL when there is no region (no free range was found, or it was
 * given up) or it cannot grow: the caller then maps one of its own. The first call picks
 * the region's base. */
void *hak_superslab_region_take(void);
/* Gives back a SuperSlab taken from the region: decommitted (pages and commit charge go
 * back to the OS), its range kept for the next take. */
void  hak_superslab_region_give_back(void *ss);
/* Unmaps the given-back slots at the region's end and lowers its extent over them: their
 * address space goes back to the OS (decommitted slots still count under RLIMIT_AS).
 * Returns the bytes unmapped. */
size_t hak_superslab_region_shrink(void);

void hak_superslab_region_lock(void);
void hak_superslab_region_unlock(void);
void hak_superslab_region_reset_lock(void);

#endif
