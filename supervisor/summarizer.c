/* supervisor/summarizer.c — prompt, generation under a time limit,
 * verification and choice of the alert summary; the worker thread that keeps
 * the model off the alert path.  See summarizer.h for the picture. */
#include "supervisor/summarizer.h"
#include "supervisor/cli.h"
#include "local_llm/llm.h"
#include "validator/strbuf.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>


const char *summ_source_line(summ_source s)
{
	return s == SUMM_SOURCE_MODEL ? "summary written by the local model, checked against the facts"
	                              : "summary generated from the facts";
}

const char *summ_source_name(summ_source s)
{
	return s == SUMM_SOURCE_MODEL ? "model" : "facts";
}

void summ_result_free(summ_result *r)
{
	if (!r) return;
	free(r->text);
	free(r->candidate);
	r->text = r->candidate = NULL;
}

void summ_result_describe(const summ_result *r, char *buf, size_t n)
{
	int k;
	if (r->source == SUMM_SOURCE_MODEL) {
		snprintf(buf, n, "summary from model: accepted (%d tokens, %.2f s)", r->tokens, r->gen_s);
		return;
	}
	if (!r->candidate) {
		snprintf(buf, n, "summary from facts: %s", r->note[0] ? r->note : "no model");
		return;
	}
	k = snprintf(buf, n, "summary from facts: model candidate rejected (");
	for (int i = 0; i < VAL_SUM_RULES && k > 0 && (size_t)k < n; i++)
		if (r->verdict.broken & (1u << i))
			k += snprintf(buf + k, n - (size_t)k, "%s%s", k > 46 ? "; " : "", r->verdict.why[i]);
	if (r->note[0] && k > 0 && (size_t)k < n)
		k += snprintf(buf + k, n - (size_t)k, "%s%s", k > 46 ? "; " : "", r->note);
	if (k > 0 && (size_t)k < n) snprintf(buf + k, n - (size_t)k, ")");
}

/* ---- options ------------------------------------------------------------------------ */

int summ_opts_from_config(summ_opts *o, const vigil_config *cfg, char *err, size_t errlen)
{
	*o = (summ_opts){ .backend = "auto", .time_limit_s = 5, .max_tokens = 160, .seed = 42 };
	if (!cfg) return 0;
	const char *v;
	if ((v = cfg_get(cfg, "llm_model")) && v[0]) o->model_path = v;
	if ((v = cfg_get(cfg, "llm_backend"))) {
		if (strcmp(v, "auto") && strcmp(v, "cpu") && strcmp(v, "cuda") && strcmp(v, "off")) {
			snprintf(err, errlen, "llm_backend: expected auto, cpu, cuda or off, not \"%s\"", v);
			return -1;
		}
		o->backend = v;
	}
	char *end;
	if ((v = cfg_get(cfg, "llm_threads"))) {
		long n = strtol(v, &end, 10);
		if (!*v || *end || n < 0 || n > 256) {
			snprintf(err, errlen, "llm_threads: expected a number of threads 0 to 256");
			return -1;
		}
		o->threads = (int)n;
	}
	if ((v = cfg_get(cfg, "llm_time_limit"))) {
		long long s; const char *why;
		if (vigil_parse_duration(v, &s, &why) || s < 1 || s > 600) {
			snprintf(err, errlen, "llm_time_limit: expected a duration from 1s to 10m");
			return -1;
		}
		o->time_limit_s = (double)s;
	}
	if ((v = cfg_get(cfg, "llm_max_tokens"))) {
		long n = strtol(v, &end, 10);
		if (!*v || *end || n < 8 || n > 1024) {
			snprintf(err, errlen, "llm_max_tokens: expected 8 to 1024");
			return -1;
		}
		o->max_tokens = (int)n;
	}
	if ((v = cfg_get(cfg, "llm_seed"))) {
		unsigned long long n = strtoull(v, &end, 10);
		if (!*v || *end) { snprintf(err, errlen, "llm_seed: expected a whole number"); return -1; }
		o->seed = n;
	}
	if ((v = cfg_get(cfg, "llm_temperature"))) {
		double t = strtod(v, &end);
		if (!*v || *end || !(t >= 0 && t <= 2)) {
			snprintf(err, errlen, "llm_temperature: expected 0 to 2");
			return -1;
		}
		o->temperature = (float)t;
	}
	return 0;
}

/* ---- the prompt --------------------------------------------------------------------- */



/* The last line of an output tail, at most 60 bytes. */
static void last_line(const char *tail, char *buf, size_t n)
{
	buf[0] = 0;
	if (!tail) return;
	const char *e = tail + strlen(tail);
	while (e > tail && (e[-1] == '\n' || e[-1] == ' ' || e[-1] == '\r')) e--;
	const char *s = e;
	while (s > tail && s[-1] != '\n') s--;
	size_t len = (size_t)(e - s);
	if (len > 60) {
		len = 60;
		while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80) len--;
	}
	if (len >= n) len = n - 1;
	memcpy(buf, s, len);
	buf[len] = 0;
	for (char *p = buf; *p; p++) if (*p == '"' || (unsigned char)*p < 0x20) *p = ' ';
}

static const char *what(const val_fact_check *k)
{
	if (k->state == VAL_FACT_UP) return "recovered";
	if (k->state == VAL_FACT_UNKNOWN) return "is in an unknown state";
	switch (k->reason) {
	case VAL_FACT_FAIL: case VAL_FACT_EXIT: return "failed";
	case VAL_FACT_HUNG: return "is hung: started";
	case VAL_FACT_NEVER_PINGED: return "has never pinged";
	case VAL_FACT_LATE: return k->state == VAL_FACT_GRACE ? "is late (in its grace period)" : "is late";
	default: return "down";
	}
}

char *summ_prompt(const val_facts *f)
{
	strbuf b = {0};
	char w[48];
	val_facts_when(f, f->generated_at, w, sizeof w);
	strbuf_printf(&b,
		"Summarize these cron job alerts for the operator in 1 to 3 short sentences "
		"(under 300 characters). Name every check exactly as written. Copy times and "
		"exit codes exactly; add no other numbers. Do not say anything was fixed, "
		"restarted or is being handled. No links, mentions or markdown.\n\n"
		"Alerts on host %s at %s:\n", f->host && f->host[0] ? f->host : "?", w);
	for (size_t i = 0; i < f->n_checks; i++) {
		const val_fact_check *k = &f->checks[i];
		strbuf_printf(&b, "- %s %s", k->slug, what(k));
		long long t = k->state == VAL_FACT_UP ? (k->since != VAL_NO_TIME ? k->since : k->last_success)
		            : (k->reason == VAL_FACT_FAIL || k->reason == VAL_FACT_EXIT) ? k->last_fail
		            : k->reason == VAL_FACT_HUNG ? k->last_start : VAL_NO_TIME;
		if (t != VAL_NO_TIME) { val_facts_when(f, t, w, sizeof w); strbuf_printf(&b, " at %s", w); }
		if (k->exit_status > 0 && k->state != VAL_FACT_UP) strbuf_printf(&b, " with exit %d", k->exit_status);
		if (k->state != VAL_FACT_UP && k->expected_at != VAL_NO_TIME &&
		    (k->reason == VAL_FACT_LATE || k->reason == VAL_FACT_NEVER_PINGED)) {
			val_facts_when(f, k->expected_at, w, sizeof w);
			strbuf_printf(&b, " (expected at %s)", w);
		}
		char q[64];
		last_line(k->output_tail, q, sizeof q);
		if (q[0] && k->state != VAL_FACT_UP) strbuf_printf(&b, ", output \"%s\"", q);
		if (k->muted) strbuf_printf(&b, " (muted)");
		strbuf_printf(&b, ".\n");
	}
	if (b.oom) { free(b.p); return NULL; }
	return b.p;
}

/* ---- the model adapter: the only code that knows local_llm ---------------------------- */

typedef struct summ_gen {
	int max_tokens;
	unsigned long long seed;
	float temperature;
	double deadline;              /* CLOCK_MONOTONIC seconds */
	const volatile int *stop;
	int tokens;                   /* out: tokens generated */
	int timed_out;                /* out: the deadline stopped it */
	int incomplete;               /* out: budget or time cut its only sentence */
} summ_gen;


struct summ_model {
	llm_model *m;
};
typedef struct summ_model summ_model;

static summ_model *summ_model_load(const char *path, const char *backend, int threads,
                                   char *err, size_t errlen)
{
	llm_load_opts lo;
	llm_load_opts_init(&lo);
	lo.n_threads = threads;
	lo.n_ctx = 2048;              /* prompt (a few hundred tokens) + the summary */
	lo.backend = !strcmp(backend, "cpu") ? LLM_BACKEND_CPU
	           : !strcmp(backend, "cuda") ? LLM_BACKEND_CUDA : LLM_BACKEND_AUTO;
	summ_model *sm = calloc(1, sizeof *sm);
	if (!sm) { snprintf(err, errlen, "out of memory"); return NULL; }
	llm_error le = {{0}};
	sm->m = llm_load(path, &lo, &le);
	if (!sm->m) {
		snprintf(err, errlen, "%s", le.msg[0] ? le.msg : "cannot load the model");
		free(sm);
		return NULL;
	}
	return sm;
}

static void summ_model_free(summ_model *sm)
{
	if (!sm) return;
	llm_free(sm->m);
	free(sm);
}

static double mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Stops generation when the caller abandoned the request. */
static int on_token(void *user, int32_t tok, const char *text, size_t len)
{
	const summ_gen *g = user;
	return g->stop && *g->stop;
}

static const char system_prompt[] =
	"You write short, factual alert summaries of cron job failures for a system operator. "
	"You state only what the facts say.";

/* Returns the model's text (caller frees) or NULL with the reason in note. */
static char *summ_model_generate(summ_model *sm, const char *prompt, summ_gen *g, char *note, size_t nlen)
{
	llm_gen_opts go;
	llm_gen_opts_init(&go);
	go.max_tokens = g->max_tokens;
	go.temperature = g->temperature;
	go.seed = g->seed;
	static const char *const stops[] = { "\n\n" };
	go.stop = stops;
	go.n_stop = 1;
	double left = g->deadline - mono_s();
	if (left <= 0.01) {
		g->timed_out = 1;
		snprintf(note, nlen, "no time left");
		return NULL;
	}
	go.time_limit_s = left;
	llm_gen_result res;
	memset(&res, 0, sizeof res);
	if (llm_generate_chat(sm->m, system_prompt, prompt, &go, on_token, g, &res)) {
		snprintf(note, nlen, "generation failed: %s", llm_last_error(sm->m));
		llm_gen_result_clear(&res);
		return NULL;
	}
	g->tokens = res.n_gen;
	g->timed_out = res.stop == LLM_STOP_TIME;
	char *text = res.text ? strdup(res.text) : NULL;
	if (text && (res.stop == LLM_STOP_MAX_TOKENS || res.stop == LLM_STOP_TIME)) {
		/* The budget or the time limit cut it: keep the complete sentences
		 * only (the verifier then decides whether they are enough). */
		char *last = NULL;
		for (char *p = text; *p; p++)
			if ((*p == '.' || *p == '!' || *p == '?') && (p[1] == 0 || p[1] == ' ' || p[1] == '\n')) last = p;
		if (last) last[1] = 0;
		else {
			g->incomplete = 1;
			if (res.stop == LLM_STOP_TIME)
				snprintf(note, nlen, "time limit reached mid-sentence after %d tokens", res.n_gen);
			else
				snprintf(note, nlen, "token budget (%d) reached mid-sentence", g->max_tokens);
		}
	}
	llm_gen_result_clear(&res);
	return text;
}

/* ---- the engine ------------------------------------------------------------------------- */

struct summ_engine {
	summ_opts o;
	summ_model *model;            /* NULL: deterministic only */
	char why_none[160];           /* why there is no model */
	pthread_mutex_t lock;         /* one generation at a time */
};

summ_engine *summ_open(const summ_opts *o, char *err, size_t errlen)
{
	summ_engine *e = calloc(1, sizeof *e);
	if (!e) { snprintf(err, errlen, "out of memory"); return NULL; }
	e->o = *o;
	if (e->o.time_limit_s <= 0) e->o.time_limit_s = 5;
	if (e->o.max_tokens <= 0) e->o.max_tokens = 160;
	if (!e->o.backend) e->o.backend = "auto";
	pthread_mutex_init(&e->lock, NULL);
	if (!o->model_path || !o->model_path[0]) {
		snprintf(e->why_none, sizeof e->why_none, "no model configured (llm_model)");
	} else if (!strcmp(e->o.backend, "off")) {
		snprintf(e->why_none, sizeof e->why_none, "the model is off (llm_backend off)");
	} else {
		e->model = summ_model_load(o->model_path, e->o.backend, e->o.threads, err, errlen);
		if (!e->model) { summ_close(e); return NULL; }
	}
	return e;
}

void summ_close(summ_engine *e)
{
	if (!e) return;
	summ_model_free(e->model);
	pthread_mutex_destroy(&e->lock);
	free(e);
}

int summ_has_model(const summ_engine *e)
{
	return e && e->model;
}

const char *summ_backend(const summ_engine *e, const char **note)
{
	*note = "";
	if (!e || !e->model) return NULL;
	llm_info in;
	llm_get_info(e->model->m, &in);
	*note = in.backend_note;
	return in.backend;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Tidies the model's text: drops blanks around it and a list marker. */
static void tidy(char *s)
{
	size_t n = strlen(s), a = 0;
	while (a < n && (s[a] == ' ' || s[a] == '\n' || s[a] == '\r' || s[a] == '\t')) a++;
	memmove(s, s + a, n - a + 1);
	n -= a;
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == '\t')) s[--n] = 0;
	/* a one-item list the model made of it: "- new-etl has never pinged." */
	if ((s[0] == '-' || s[0] == '*') && s[1] == ' ' && !strchr(s, '\n')) memmove(s, s + 2, n - 1);
}

int summ_run(summ_engine *e, const val_facts *f, const char *const *registered,
             const volatile int *stop, summ_result *out)
{
	memset(out, 0, sizeof *out);
	out->source = SUMM_SOURCE_FACTS;
	if (e && e->model) {
		char *prompt = summ_prompt(f);
		if (!prompt) return -1;
		double t0 = now_s();
		pthread_mutex_lock(&e->lock);
		summ_gen g = { .max_tokens = e->o.max_tokens, .seed = e->o.seed,
		               .temperature = e->o.temperature, .deadline = t0 + e->o.time_limit_s,
		               .stop = stop };
		char *cand = summ_model_generate(e->model, prompt, &g, out->note, sizeof out->note);
		pthread_mutex_unlock(&e->lock);
		free(prompt);
		out->gen_s = now_s() - t0;
		out->tokens = g.tokens;
		out->timed_out = g.timed_out;
		if (!cand && g.timed_out) {
			snprintf(out->note, sizeof out->note, "time limit (%.1f s) reached after %d tokens",
			         e->o.time_limit_s, g.tokens);
		} else if (cand && stop && *stop) {
			snprintf(out->note, sizeof out->note, "abandoned by the alert sender");
			free(cand);
			cand = NULL;
		}
		if (cand) {
			tidy(cand);
			if (!cand[0]) {      /* nothing written: no candidate */
				free(cand);
				cand = NULL;
				if (g.timed_out || g.incomplete)
					snprintf(out->note, sizeof out->note, "time limit (%.1f s) reached before any text",
					         e->o.time_limit_s);
				else
					snprintf(out->note, sizeof out->note, "the model wrote nothing");
			}
		}
		if (cand) {
			out->candidate = cand;
			if (val_summary_verify(f, cand, registered, &out->verdict) < 0) return -1;
			if (!out->verdict.broken && !g.incomplete) {
				out->text = strdup(cand);
				if (!out->text) return -1;
				out->source = SUMM_SOURCE_MODEL;
				return 0;
			}
		}
	} else if (e) {
		snprintf(out->note, sizeof out->note, "%s", e->why_none);
	} else {
		snprintf(out->note, sizeof out->note, "no summarizer");
	}
	out->text = val_summary_from_facts(f);
	return out->text ? 0 : -1;
}

/* ---- the worker ------------------------------------------------------------------------- */

/* One request.  Shared by the caller and the worker: whoever lets go of it
 * last (refs reaches 0) frees it. */
typedef struct job {
	struct job *next;
	char *facts_json;
	char **registered;            /* NULL-terminated copies */
	volatile int stop;            /* set by an abandoning caller */
	int done, refs;
	summ_result res;
	int rc;
} job;

struct summ_worker {
	summ_engine *e;
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;            /* new job or quit (worker waits) */
	pthread_cond_t done_cv;       /* a job finished (callers wait) */
	job *head, *tail;
	int quit;
	job *current;
};

static void job_unref(job *j)   /* called with the worker's mutex held */
{
	if (--j->refs > 0) return;
	free(j->facts_json);
	if (j->registered) for (char **r = j->registered; *r; r++) free(*r);
	free(j->registered);
	summ_result_free(&j->res);
	free(j);
}

static void *worker_main(void *arg)
{
	summ_worker *w = arg;
	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (!w->head && !w->quit) pthread_cond_wait(&w->cv, &w->mu);
		if (w->quit && !w->head) break;
		job *j = w->head;
		w->head = j->next;
		if (!w->head) w->tail = NULL;
		w->current = j;
		pthread_mutex_unlock(&w->mu);
		int rc = -1;
		summ_result res = {0};
		if (!j->stop) {
			char err[256];
			val_facts *f = val_facts_parse(j->facts_json, strlen(j->facts_json), err, sizeof err);
			if (f) {
				rc = summ_run(w->e, f, (const char *const *)j->registered, &j->stop, &res);
				val_facts_free(f);
			}
		}
		pthread_mutex_lock(&w->mu);
		w->current = NULL;
		j->res = res;
		j->rc = rc;
		j->done = 1;
		pthread_cond_broadcast(&w->done_cv);
		job_unref(j);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

summ_worker *summ_worker_start(summ_engine *e)
{
	summ_worker *w = calloc(1, sizeof *w);
	if (!w) return NULL;
	w->e = e;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	pthread_cond_init(&w->done_cv, NULL);
	if (pthread_create(&w->th, NULL, worker_main, w)) {
		pthread_mutex_destroy(&w->mu);
		pthread_cond_destroy(&w->cv);
		pthread_cond_destroy(&w->done_cv);
		free(w);
		return NULL;
	}
	return w;
}

void summ_worker_stop(summ_worker *w)
{
	if (!w) return;
	pthread_mutex_lock(&w->mu);
	w->quit = 1;
	for (job *j = w->head; j; j = j->next) j->stop = 1;
	if (w->current) w->current->stop = 1;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->th, NULL);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	pthread_cond_destroy(&w->done_cv);
	free(w);
}

static char **copy_list(const char *const *l)
{
	size_t n = 0;
	if (l) while (l[n]) n++;
	char **c = calloc(n + 1, sizeof *c);
	if (!c) return NULL;
	for (size_t i = 0; i < n; i++)
		if (!(c[i] = strdup(l[i]))) {
			for (size_t k = 0; k < i; k++) free(c[k]);
			free(c);
			return NULL;
		}
	return c;
}

int summ_worker_summarize(summ_worker *w, const val_facts *f, const char *const *registered,
                          summ_result *out)
{
	memset(out, 0, sizeof *out);
	job *j = calloc(1, sizeof *j);
	if (!j) return -1;
	j->facts_json = val_facts_to_json(f);
	j->registered = copy_list(registered);
	j->refs = 2;
	if (!j->facts_json || !j->registered) {
		j->refs = 1;
		pthread_mutex_lock(&w->mu);
		job_unref(j);
		pthread_mutex_unlock(&w->mu);
		return -1;
	}
	double limit = w->e->o.time_limit_s + 0.05;
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl);
	double secs = floor(limit);
	dl.tv_sec += (time_t)secs;
	dl.tv_nsec += (long)((limit - secs) * 1e9);
	if (dl.tv_nsec >= 1000000000L) { dl.tv_sec++; dl.tv_nsec -= 1000000000L; }

	pthread_mutex_lock(&w->mu);
	if (w->tail) w->tail->next = j; else w->head = j;
	w->tail = j;
	pthread_cond_signal(&w->cv);
	int to = 0;
	while (!j->done && !to) to = pthread_cond_timedwait(&w->done_cv, &w->mu, &dl) == ETIMEDOUT;
	int rc;
	if (j->done && j->rc == 0) {
		*out = j->res;
		memset(&j->res, 0, sizeof j->res);
		rc = 0;
	} else {
		/* Too slow (or failed): the worker stops, the alert goes out now. */
		j->stop = 1;
		int timed_out = !j->done;
		pthread_mutex_unlock(&w->mu);
		out->source = SUMM_SOURCE_FACTS;
		out->text = val_summary_from_facts(f);
		out->timed_out = timed_out;
		snprintf(out->note, sizeof out->note, timed_out ? "no answer within the time limit (%.1f s)"
		         : "the summarizer failed", w->e->o.time_limit_s);
		rc = out->text ? 0 : -1;
		pthread_mutex_lock(&w->mu);
	}
	job_unref(j);
	pthread_mutex_unlock(&w->mu);
	return rc;
}
