/* Core's fallback for large requests when the large room is not linked: blocks from the C
 * library with a small header, registered in the block map so hak_free knows them. */
#ifndef HAKMEM_CORE_FALLBACK_H
#define HAKMEM_CORE_FALLBACK_H

#include <stddef.h>

#include "core/map.h"

void  *hak_fallback_alloc(size_t size, size_t alignment, int zero);
void   hak_fallback_free(hak_map_block *b);
size_t hak_fallback_usable_size(const hak_map_block *b);

#endif
