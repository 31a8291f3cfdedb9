/* pages.h: zeroed memory for the large, long-lived buffers of an engine
 * (weights, the KV cache).
 *
 * Small requests (under 2 MiB) come from malloc, zeroed, 64-byte aligned.
 * Larger ones are anonymous pages straight from the kernel: zero without a
 * pass of memset, aligned to 2 MiB and advised as transparent huge pages
 * (MADV_HUGEPAGE; the kernel's "madvise" mode, Debian's default, gives them
 * only to regions that ask).  On a virtual machine every 4 KiB page fault
 * is a trip through the hypervisor: loading Qwen3-0.6B spent half its time
 * faulting in the weights page by page, and a GEMV streaming the weights
 * walks the page tables every 4 KiB.  Where the kernel has no huge page to
 * give, the region simply stays in small pages.
 *
 * Free with rt_pages_free and the same byte count. */
#ifndef RT_PAGES_H
#define RT_PAGES_H
#include <stddef.h>
void *rt_pages_alloc(size_t bytes); /* NULL when out of memory */
void rt_pages_free(void *p, size_t bytes);
#endif
