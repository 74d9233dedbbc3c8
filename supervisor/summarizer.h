/* supervisor/summarizer.h — alert summaries: the model writes a candidate
 * from the facts, validator/ checks it (rules S1-S8), and the deterministic
 * summary is sent whenever the model is absent, slow, or wrong.
 *
 *   facts ──▶ summ_prompt ──▶ local model (time limit) ──▶ candidate
 *                                                            │
 *   facts ──▶ val_summary_verify(candidate) ── accepted? ──▶ model text
 *                                         └── rejected ───▶ val_summary_from_facts
 *
 * The model is loaded once (summ_open) and kept.  The alert sender calls
 * summ_worker_summarize(), which hands the batch to a worker thread and waits
 * at most the time limit: an alert is never held longer than that, whatever
 * the model does. */
#ifndef VIGIL_SUMMARIZER_H
#define VIGIL_SUMMARIZER_H

#include "supervisor/config.h"
#include "validator/validator.h"

typedef enum { SUMM_SOURCE_FACTS = 0, SUMM_SOURCE_MODEL = 1 } summ_source;

/* The context line the Slack message carries for a summary of this source. */
const char *summ_source_line(summ_source s);
/* "model" or "facts". */
const char *summ_source_name(summ_source s);

typedef struct summ_opts {
	const char *model_path;     /* GGUF file; NULL or "": deterministic summaries only */
	const char *backend;        /* "auto" (default), "cpu", "cuda", "off" */
	int threads;                /* 0: the engine's default */
	double time_limit_s;        /* hard limit on one summary's generation (default 5) */
	int max_tokens;             /* token budget (default 160) */
	unsigned long long seed;    /* sampling seed (default 42) */
	float temperature;          /* 0 (default): greedy */
} summ_opts;

/* Defaults, then the config keys llm_model, llm_backend, llm_threads,
 * llm_time_limit (a duration), llm_max_tokens, llm_seed, llm_temperature.
 * Returns 0, or -1 with "KEY: what was expected" in err. */
int summ_opts_from_config(summ_opts *o, const vigil_config *cfg, char *err, size_t errlen);

typedef struct summ_result {
	char *text;                 /* the summary sent; owned, free with summ_result_free */
	summ_source source;
	char *candidate;            /* the model's text, NULL when the model did not answer */
	val_sum_verdict verdict;    /* the verifier's verdict on candidate (when not NULL) */
	char note[200];             /* why there is no candidate, or why generation stopped */
	double gen_s;               /* seconds spent in the model */
	int tokens;                 /* tokens generated */
	int timed_out;              /* the time limit stopped generation */
} summ_result;

void summ_result_free(summ_result *r);
/* One log line on how the summary was chosen, e.g.
 *   "summary from facts: model candidate rejected (S3: \"exit 2\" does not ...; S4: ...)"
 *   "summary from model: accepted (41 tokens, 1.92 s)"
 *   "summary from facts: no model configured (llm_model)" */
void summ_result_describe(const summ_result *r, char *buf, size_t n);

typedef struct summ_engine summ_engine;

/* Loads the model named in o (once; the engine keeps it).  With no model, or
 * backend "off", the engine writes deterministic summaries only.  On a load
 * error returns NULL with the reason in err.  Free with summ_close(). */
summ_engine *summ_open(const summ_opts *o, char *err, size_t errlen);
void summ_close(summ_engine *e);
/* 1 when a model is loaded. */
int summ_has_model(const summ_engine *e);
/* The loaded model's backend ("cpu", "cuda") and, when llm_backend auto fell
 * back to the CPU, why (else ""); NULL and "" without a model. */
const char *summ_backend(const summ_engine *e, const char **note);

/* The prompt given to the model for these facts (chat-template free: the
 * user turn).  Caller frees; NULL on OOM. */
char *summ_prompt(const val_facts *f);

/* Summarizes one batch on the calling thread: prompt, generation under the
 * time limit, verification, choice.  `registered` as for val_summary_verify.
 * `stop` (may be NULL) is polled during generation; non-zero stops it.
 * Always yields a text except on OOM (-1); fills out (caller frees). */
int summ_run(summ_engine *e, const val_facts *f, const char *const *registered,
             const volatile int *stop, summ_result *out);

/* ---- the worker thread ----------------------------------------------------------- */
typedef struct summ_worker summ_worker;

/* Starts the worker thread over e (borrowed: e must outlive the worker).
 * NULL on failure. */
summ_worker *summ_worker_start(summ_engine *e);
/* Asks the worker for a summary of f and waits at most the time limit (plus
 * 50 ms).  If the worker has not answered by then, the request is abandoned
 * (the worker stops generating) and the deterministic summary is returned.
 * The facts are copied; f may be freed as soon as this returns. */
int summ_worker_summarize(summ_worker *w, const val_facts *f, const char *const *registered,
                          summ_result *out);
/* Stops the worker (after the current generation, which is told to stop) and frees it. */
void summ_worker_stop(summ_worker *w);

#endif
