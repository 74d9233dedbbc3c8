/* strbuf.h — a growing, NUL-terminated string for text that is built piece
 * by piece (summaries, prompts, Slack messages).  An allocation failure sets
 * oom and turns later appends into no-ops, so callers check once at the end. */
#ifndef VIGIL_STRBUF_H
#define VIGIL_STRBUF_H

#include <stddef.h>

typedef struct strbuf { char *p; size_t len, cap; int oom; } strbuf;

void strbuf_printf(strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void strbuf_puts(strbuf *b, const char *s);
/* The string (malloc'd; "" when nothing was added), NULL when out of memory. */
char *strbuf_take(strbuf *b);

#endif
