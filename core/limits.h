/* Routing limits shared by core and the rooms it routes to. */
#ifndef HAKMEM_CORE_LIMITS_H
#define HAKMEM_CORE_LIMITS_H

/* Requests up to this size go to tiny (when linked and enabled); larger ones to the large
 * room. Tiny must serve every size up to it. */
#define HAK_SMALL_MAX ((size_t)32768)

/* Every block is at least this aligned (8 B blocks may be 8-aligned). */
#define HAK_MIN_ALIGN ((size_t)16)

#endif
