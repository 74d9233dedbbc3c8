/* strbuf.c — see strbuf.h. */
#include "validator/strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void strbuf_printf(strbuf *b, const char *fmt, ...)
{
	if (b->oom) return;
	for (;;) {
		va_list ap;
		va_start(ap, fmt);
		size_t room = b->cap - b->len;
		int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? room : 0, fmt, ap);
		va_end(ap);
		if (n < 0) { b->oom = 1; return; }
		if (b->p && (size_t)n < room) { b->len += (size_t)n; return; }
		size_t nc = (b->cap ? b->cap * 2 : 256) + (size_t)n + 1;
		char *np = realloc(b->p, nc);
		if (!np) { b->oom = 1; return; }
		b->p = np;
		b->cap = nc;
	}
}

void strbuf_puts(strbuf *b, const char *s) { strbuf_printf(b, "%s", s); }

char *strbuf_take(strbuf *b)
{
	if (b->oom) { free(b->p); return NULL; }
	if (!b->p) return strdup("");
	return b->p;
}
