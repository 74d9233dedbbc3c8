/* cli_summarize.c — `vigil summarize`: the alert summary of a facts file.
 *
 *   vigil summarize --facts F.json [--model F.gguf] [--explain] [--slugs A,B,...]
 *       prints the summary that would be sent; --explain first prints the
 *       model's candidate, each rule's verdict and which text was chosen.
 *       --facts may be repeated: the model is loaded once, and each batch's
 *       output follows a line "== F.json".
 *   vigil summarize verify --facts F.json --text-file T [--slugs A,B,...]
 *       checks a given text: exit 0 accepted, 1 rejected (one line per broken
 *       rule on stdout).
 *   vigil summarize prompt --facts F.json
 *       prints the prompt the model is given.
 * --slugs names every registered check (rule S1 rejects a registered check
 * that is not in the batch). */
#include "supervisor/cli.h"
#include "supervisor/summarizer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage_line[] =
	"usage: vigil summarize --facts F.json [--facts F2.json ...] [--model F.gguf] [--explain] [--slugs A,B,...]\n"
	"       vigil summarize verify --facts F.json --text-file T [--slugs A,B,...]\n"
	"       vigil summarize prompt --facts F.json\n";

/* Splits "a,b,c" into a NULL-terminated list (pointers into a copy).  Caller
 * frees the list and list[-1]... kept simple: both freed by free_list. */
static char **split_slugs(const char *s)
{
	size_t n = 1;
	for (const char *p = s; *p; p++) if (*p == ',') n++;
	char **l = calloc(n + 2, sizeof *l);
	char *copy = strdup(s);
	if (!l || !copy) { free(l); free(copy); return NULL; }
	l[0] = copy;                  /* l[0] owns the storage; the list starts at l + 1 */
	size_t k = 1;
	for (char *tok = strtok(copy, ", "); tok; tok = strtok(NULL, ", ")) l[k++] = tok;
	return l;
}

static void free_slugs(char **l)
{
	if (!l) return;
	free(l[0]);
	free(l);
}

static char *read_text(const char *path, char *err, size_t errlen)
{
	FILE *fp = strcmp(path, "-") ? fopen(path, "rb") : stdin;
	if (!fp) { snprintf(err, errlen, "%s: %s", path, strerror(errno)); return NULL; }
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	while (buf) {
		size_t r = fread(buf + len, 1, cap - len - 1, fp);
		len += r;
		if (r == 0) break;
		if (len + 1 == cap) {
			if (cap > (1u << 20)) { free(buf); buf = NULL; snprintf(err, errlen, "%s: larger than 1 MB", path); break; }
			char *nb = realloc(buf, cap *= 2);
			if (!nb) { free(buf); buf = NULL; snprintf(err, errlen, "out of memory"); break; }
			buf = nb;
		}
	}
	if (fp != stdin) fclose(fp);
	if (!buf) return NULL;
	buf[len] = 0;
	if (strlen(buf) != len) { free(buf); snprintf(err, errlen, "%s: contains a NUL byte", path); return NULL; }
	/* A text file's final newline is not part of the summary. */
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r')) buf[--len] = 0;
	return buf;
}

static void print_verdict(FILE *out, const val_sum_verdict *v, int all)
{
	for (int r = 1; r <= VAL_SUM_RULES; r++) {
		if (v->broken & (1u << (r - 1))) fprintf(out, "%s\n", v->why[r - 1]);
		else if (all) fprintf(out, "S%d: ok (%s)\n", r, val_summary_rule(r) + 3);
	}
}

int cli_summarize(int argc, char **argv, vigil_global *g)
{
	int rc = VIGIL_EXIT_USAGE;
	const char *facts_path = NULL, *model = NULL, *text_path = NULL, *slugs = NULL;
	int explain = 0, i = 1;
	enum { DO_SUMMARY, DO_VERIFY, DO_PROMPT } mode = DO_SUMMARY;
	val_facts *f = NULL;
	char **reg = NULL;
	char *text = NULL;
	summ_engine *e = NULL;
	char err[512];

	const char **more = calloc((size_t)argc + 1, sizeof *more);
	size_t n_more = 0;
	if (!more) return VIGIL_EXIT_INTERNAL;
	if (i < argc && !strcmp(argv[i], "verify")) { mode = DO_VERIFY; i++; }
	else if (i < argc && !strcmp(argv[i], "prompt")) { mode = DO_PROMPT; i++; }
	for (; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--facts") && i + 1 < argc && facts_path) {
			more[n_more++] = argv[++i];
			continue;
		}
		const char **dst = !strcmp(a, "--facts") ? &facts_path : !strcmp(a, "--model") ? &model
		                 : !strcmp(a, "--text-file") ? &text_path : !strcmp(a, "--slugs") ? &slugs : NULL;
		if (dst) {
			if (i + 1 >= argc) { fprintf(stderr, "vigil summarize: %s needs a value\n%s", a, usage_line); goto out; }
			*dst = argv[++i];
		} else if (!strcmp(a, "--explain") && mode == DO_SUMMARY) {
			explain = 1;
		} else {
			fprintf(stderr, "vigil summarize: unknown argument \"%s\"\n%s", a, usage_line);
			goto out;
		}
	}
	if (!facts_path) { fprintf(stderr, "vigil summarize: --facts FILE is required\n%s", usage_line); goto out; }
	if (n_more && mode != DO_SUMMARY) { fprintf(stderr, "vigil summarize: one --facts FILE only\n%s", usage_line); goto out; }
	if (mode == DO_VERIFY && !text_path) { fprintf(stderr, "vigil summarize verify: --text-file FILE is required\n%s", usage_line); goto out; }
	if (mode != DO_VERIFY && text_path) { fprintf(stderr, "vigil summarize: --text-file is for verify\n%s", usage_line); goto out; }
	if (mode != DO_SUMMARY && model) { fprintf(stderr, "vigil summarize: --model is for summaries\n%s", usage_line); goto out; }

	f = val_facts_load(facts_path, err, sizeof err);
	if (!f) { fprintf(stderr, "vigil summarize: %s\n", err); goto out; }
	if (slugs && !(reg = split_slugs(slugs))) { rc = VIGIL_EXIT_INTERNAL; goto out; }
	const char *const *registered = reg ? (const char *const *)reg + 1 : NULL;

	if (mode == DO_PROMPT) {
		char *p = summ_prompt(f);
		if (!p) { rc = VIGIL_EXIT_INTERNAL; goto out; }
		printf("%s\n", p);
		free(p);
		rc = VIGIL_EXIT_OK;
		goto out;
	}
	if (mode == DO_VERIFY) {
		text = read_text(text_path, err, sizeof err);
		if (!text) { fprintf(stderr, "vigil summarize verify: %s\n", err); goto out; }
		val_sum_verdict v;
		int n = val_summary_verify(f, text, registered, &v);
		if (n < 0) { rc = VIGIL_EXIT_INTERNAL; goto out; }
		print_verdict(stdout, &v, 0);
		rc = n ? VIGIL_EXIT_FAIL : VIGIL_EXIT_OK;
		goto out;
	}

	summ_opts o;
	if (summ_opts_from_config(&o, g->cfg, err, sizeof err)) {
		fprintf(stderr, "vigil summarize: %s\n", err);
		goto out;
	}
	if (model) o.model_path = model;
	e = summ_open(&o, err, sizeof err);
	if (!e) { fprintf(stderr, "vigil summarize: %s\n", err); rc = VIGIL_EXIT_FAIL; goto out; }
	for (size_t k = 0; k <= n_more; k++) {
		if (k > 0) {
			val_facts_free(f);
			f = val_facts_load(more[k - 1], err, sizeof err);
			if (!f) { fprintf(stderr, "vigil summarize: %s\n", err); rc = VIGIL_EXIT_USAGE; goto out; }
		}
		if (n_more) printf("== %s\n", k ? more[k - 1] : facts_path);
		summ_result res;
		if (summ_run(e, f, registered, NULL, &res)) { rc = VIGIL_EXIT_INTERNAL; goto out; }
		if (explain) {
			if (res.candidate) {
				printf("candidate (local model, %d tokens, %.2f s):\n  ", res.tokens, res.gen_s);
				for (const char *p = res.candidate; *p; p++) {
					putchar(*p);
					if (*p == '\n') fputs("  ", stdout);
				}
				putchar('\n');
				print_verdict(stdout, &res.verdict, 1);
				if (res.note[0]) printf("note: %s\n", res.note);
			} else {
				printf("candidate: none (%s)\n", res.note[0] ? res.note : "no model");
			}
			printf("chosen: %s (%s)\n", summ_source_name(res.source), summ_source_line(res.source));
			printf("summary:\n");
		}
		printf("%s\n", res.text);
		fflush(stdout);
		summ_result_free(&res);
	}
	rc = VIGIL_EXIT_OK;
out:
	free(more);
	summ_close(e);
	free(text);
	free_slugs(reg);
	val_facts_free(f);
	return rc;
}
