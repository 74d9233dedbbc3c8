/* local_llm/llm_cmd.c — the `llm` command line (run, info, tokenize, mkmodel,
 * bench), shared by `vigil llm` and the standalone `vigil-llm`.  This is the
 * command layer: the only file of local_llm that prints. */
#include "local_llm/llm.h"
#include "local_llm/llm_internal.h"
#include "local_llm/mkmodel.h"
#include "local_llm/quant.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

enum { EX_OK = 0, EX_FAIL = 1, EX_USAGE = 2, EX_INTERNAL = 4 };

static const char *prog = "vigil llm";

static int usage(void)
{
	fprintf(stderr,
	        "usage: %s run --model F.gguf (--prompt TEXT | --chat TEXT) [--system TEXT] [-n N]\n"
	        "              [--temp T] [--top-k K] [--top-p P] [--repeat-penalty R] [--seed S]\n"
	        "              [--threads N] [--ctx N] [--backend auto|cpu|cuda] [--stop TEXT]...\n"
	        "              [--time-limit SEC] [--stats]\n"
	        "       %s info F.gguf\n"
	        "       %s tokenize --model F.gguf (--text TEXT | --file F) [--no-special]\n"
	        "       %s mkmodel --arch llama|qwen2|qwen3 --out F.gguf [--layers N] [--embd N]\n"
	        "              [--heads N] [--kv-heads N] [--head-dim N] [--ff N] [--type T]\n"
	        "              [--embd-type T] [--untied] [--seed S] [--scale X] [--tokenizer-from F.gguf]\n"
	        "       %s bench --model F.gguf [-p PROMPT_TOKENS] [-n GEN_TOKENS] [--threads N]\n"
	        "              [--ctx N] [--backend B]\n"
	        "types: f32 f16 bf16 q8_0 q4_0 q4_1 q4_K q6_K\n",
	        prog, prog, prog, prog, prog);
	return EX_USAGE;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int parse_int(const char *opt, const char *s, long lo, long hi, int *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || *end || end == s || v < lo || v > hi) {
		fprintf(stderr, "%s: %s: expected an integer in %ld..%ld, got \"%s\"\n", prog, opt, lo, hi, s);
		return -1;
	}
	*out = (int)v;
	return 0;
}

static int parse_float(const char *opt, const char *s, double lo, double hi, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || *end || end == s || !(v >= lo && v <= hi)) {
		fprintf(stderr, "%s: %s: expected a number in %g..%g, got \"%s\"\n", prog, opt, lo, hi, s);
		return -1;
	}
	*out = v;
	return 0;
}

static int parse_type(const char *opt, const char *s, int *out)
{
	for (int t = 0; t < LLM_TYPE_COUNT; t++)
		if (llm_type_supported(t) && llm_type_name(t) && !strcasecmp(llm_type_name(t), s)) {
			*out = t;
			return 0;
		}
	fprintf(stderr, "%s: %s: unknown type \"%s\" (f32 f16 bf16 q8_0 q4_0 q4_1 q4_K q6_K)\n", prog, opt, s);
	return -1;
}

/* Common model options; returns 1 if argv[*i] was one of them, -1 on error. */
static int model_opt(int argc, char **argv, int *i, const char **model, llm_load_opts *lo)
{
	const char *a = argv[*i];
	if (*i + 1 >= argc)
		return 0;
	if (!strcmp(a, "--model")) {
		*model = argv[++*i];
		return 1;
	}
	if (!strcmp(a, "--threads"))
		return parse_int(a, argv[++*i], 1, 256, &lo->n_threads) ? -1 : 1;
	if (!strcmp(a, "--ctx"))
		return parse_int(a, argv[++*i], 16, 1 << 20, &lo->n_ctx) ? -1 : 1;
	if (!strcmp(a, "--backend")) {
		const char *b = argv[++*i];
		if (!strcmp(b, "auto"))
			lo->backend = LLM_BACKEND_AUTO;
		else if (!strcmp(b, "cpu"))
			lo->backend = LLM_BACKEND_CPU;
		else if (!strcmp(b, "cuda"))
			lo->backend = LLM_BACKEND_CUDA;
		else {
			fprintf(stderr, "%s: --backend: expected auto, cpu or cuda, got \"%s\"\n", prog, b);
			return -1;
		}
		return 1;
	}
	return 0;
}

static llm_model *load(const char *path, const llm_load_opts *lo)
{
	llm_error e;
	llm_model *m = llm_load(path, lo, &e);
	if (!m) {
		fprintf(stderr, "%s: %s\n", prog, e.msg);
		return NULL;
	}
	llm_info in;
	llm_get_info(m, &in);
	if (in.backend_note[0])
		fprintf(stderr, "%s: %s\n", prog, in.backend_note);
	return m;
}

static int print_cb(void *u, int32_t tok, const char *text, size_t len)
{
	(void)u;
	(void)tok;
	fwrite(text, 1, len, stdout);
	fflush(stdout);
	return 0;
}

static const char *stop_name(llm_stop_reason r)
{
	switch (r) {
	case LLM_STOP_EOS: return "eos";
	case LLM_STOP_STRING: return "stop string";
	case LLM_STOP_MAX_TOKENS: return "max tokens";
	case LLM_STOP_CTX_FULL: return "context full";
	case LLM_STOP_TIME: return "time limit";
	case LLM_STOP_CALLBACK: return "callback";
	}
	return "?";
}

static long peak_rss_kb(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

static int cmd_run(int argc, char **argv)
{
	const char *model = NULL, *prompt = NULL, *chat = NULL, *system = NULL;
	const char *stops[16];
	int stats = 0;
	llm_load_opts lo;
	llm_gen_opts go;
	llm_load_opts_init(&lo);
	llm_gen_opts_init(&go);
	go.stop = stops;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		int r = model_opt(argc, argv, &i, &model, &lo);
		double d;
		if (r < 0)
			return EX_USAGE;
		if (r)
			continue;
		if (!strcmp(a, "--stats")) {
			stats = 1;
			continue;
		}
		if (i + 1 >= argc) {
			fprintf(stderr, "%s run: unknown option or missing value: %s\n", prog, a);
			return usage();
		}
		const char *v = argv[++i];
		if (!strcmp(a, "--prompt"))
			prompt = v;
		else if (!strcmp(a, "--chat"))
			chat = v;
		else if (!strcmp(a, "--system"))
			system = v;
		else if (!strcmp(a, "-n") || !strcmp(a, "--max-tokens")) {
			if (parse_int(a, v, 0, 1 << 20, &go.max_tokens))
				return EX_USAGE;
		} else if (!strcmp(a, "--temp")) {
			if (parse_float(a, v, 0, 100, &d))
				return EX_USAGE;
			go.temperature = (float)d;
		} else if (!strcmp(a, "--top-k")) {
			if (parse_int(a, v, 0, 1 << 24, &go.top_k))
				return EX_USAGE;
		} else if (!strcmp(a, "--top-p")) {
			if (parse_float(a, v, 0, 1, &d))
				return EX_USAGE;
			go.top_p = (float)d;
		} else if (!strcmp(a, "--repeat-penalty")) {
			if (parse_float(a, v, 0.01, 100, &d))
				return EX_USAGE;
			go.repeat_penalty = (float)d;
		} else if (!strcmp(a, "--seed")) {
			char *end;
			errno = 0;
			go.seed = strtoull(v, &end, 10);
			if (errno || *end || end == v) {
				fprintf(stderr, "%s run: --seed: expected an unsigned integer, got \"%s\"\n", prog, v);
				return EX_USAGE;
			}
		} else if (!strcmp(a, "--stop")) {
			if (go.n_stop == 16) {
				fprintf(stderr, "%s run: at most 16 --stop strings\n", prog);
				return EX_USAGE;
			}
			stops[go.n_stop++] = v;
		} else if (!strcmp(a, "--time-limit")) {
			if (parse_float(a, v, 0, 1e6, &d))
				return EX_USAGE;
			go.time_limit_s = d;
		} else {
			fprintf(stderr, "%s run: unknown option %s\n", prog, a);
			return usage();
		}
	}
	if (!model || (!prompt == !chat)) {
		fprintf(stderr, "%s run: needs --model and exactly one of --prompt / --chat\n", prog);
		return usage();
	}
	llm_model *m = load(model, &lo);
	if (!m)
		return EX_FAIL;
	llm_gen_result res;
	int rc = chat ? llm_generate_chat(m, system, chat, &go, print_cb, NULL, &res)
	              : llm_generate(m, prompt, &go, print_cb, NULL, &res);
	if (rc < 0) {
		fprintf(stderr, "%s run: %s\n", prog, llm_last_error(m));
		llm_free(m);
		return EX_FAIL;
	}
	printf("\n");
	if (stats) {
		llm_info in;
		llm_get_info(m, &in);
		fprintf(stderr,
		        "%s: backend %s, %d threads; load %.3f s; prompt %d tokens in %.3f s (%.1f tok/s); "
		        "generated %d tokens in %.3f s (%.1f tok/s); stop: %s; peak RSS %ld MiB\n",
		        prog, in.backend, in.n_threads, res.load_s, res.n_prompt, res.prefill_s,
		        res.prefill_s > 0 ? res.n_prompt / res.prefill_s : 0, res.n_gen, res.decode_s,
		        res.decode_s > 0 ? res.n_gen / res.decode_s : 0, stop_name(res.stop), peak_rss_kb() / 1024);
	}
	llm_gen_result_clear(&res);
	llm_free(m);
	return EX_OK;
}

static int cmd_info(int argc, char **argv)
{
	const char *model = NULL;
	llm_load_opts lo;
	llm_load_opts_init(&lo);
	lo.backend = LLM_BACKEND_CPU;
	lo.n_ctx = 16;
	lo.n_threads = 1;
	for (int i = 1; i < argc; i++) {
		if (argv[i][0] != '-' && !model)
			model = argv[i];
		else {
			fprintf(stderr, "%s info: unexpected argument %s\n", prog, argv[i]);
			return usage();
		}
	}
	if (!model)
		return usage();
	llm_model *m = load(model, &lo);
	if (!m)
		return EX_FAIL;
	llm_info in;
	llm_get_info(m, &in);
	printf("file:          %s\n", model);
	printf("name:          %s\n", in.name);
	printf("architecture:  %s\n", in.arch);
	printf("layers:        %d\n", in.n_layer);
	printf("embedding:     %d\n", in.n_embd);
	printf("heads:         %d (kv %d, head_dim %d)\n", in.n_head, in.n_head_kv, in.head_dim);
	printf("feed_forward:  %d\n", in.n_ff);
	printf("vocabulary:    %d\n", in.n_vocab);
	printf("context:       %d (trained)\n", in.n_ctx_train);
	printf("weights:       %.1f MiB; %s\n", in.weight_bytes / 1048576.0, in.weight_types);
	printf("tokens:        bos %d, eos %d, end-of-turn %d\n", in.bos, in.eos, in.eot);
	printf("chat template: %s\n", in.template_name);
	printf("cpu kernels:   %s\n", llm_cpu_level_name(llm_cpu_level()));
	llm_free(m);
	return EX_OK;
}

static int cmd_tokenize(int argc, char **argv)
{
	const char *model = NULL, *text = NULL, *file = NULL;
	int special = 1;
	llm_load_opts lo;
	llm_load_opts_init(&lo);
	lo.backend = LLM_BACKEND_CPU;
	lo.n_ctx = 16;
	lo.n_threads = 1;
	for (int i = 1; i < argc; i++) {
		int r = model_opt(argc, argv, &i, &model, &lo);
		if (r < 0)
			return EX_USAGE;
		if (r)
			continue;
		if (!strcmp(argv[i], "--no-special"))
			special = 0;
		else if (!strcmp(argv[i], "--text") && i + 1 < argc)
			text = argv[++i];
		else if (!strcmp(argv[i], "--file") && i + 1 < argc)
			file = argv[++i];
		else {
			fprintf(stderr, "%s tokenize: unknown option %s\n", prog, argv[i]);
			return usage();
		}
	}
	if (!model || !text == !file)
		return usage();
	char *buf = NULL;
	size_t len = 0;
	if (file) {
		FILE *f = fopen(file, "rb");
		if (!f) {
			fprintf(stderr, "%s tokenize: %s: %s\n", prog, file, strerror(errno));
			return EX_USAGE;
		}
		size_t cap = 0;
		for (;;) {
			if (len + 4096 > cap) {
				cap = (cap + 4096) * 2;
				char *nb = realloc(buf, cap);
				if (!nb) {
					free(buf);
					fclose(f);
					return EX_INTERNAL;
				}
				buf = nb;
			}
			size_t r = fread(buf + len, 1, 4096, f);
			len += r;
			if (r < 4096)
				break;
		}
		fclose(f);
		text = buf;
	} else {
		len = strlen(text);
	}
	llm_model *m = load(model, &lo);
	int rc = EX_FAIL;
	if (m) {
		int n = llm_tokenize(m, text, len, special, NULL, 0);
		int32_t *ids = n > 0 ? malloc((size_t)n * sizeof *ids) : NULL;
		if (n >= 0 && (n == 0 || ids)) {
			llm_tokenize(m, text, len, special, ids, n);
			for (int i = 0; i < n; i++)
				printf("%s%d", i ? " " : "", ids[i]);
			printf("\n");
			rc = EX_OK;
		}
		free(ids);
		llm_free(m);
	}
	free(buf);
	return rc;
}

static int cmd_mkmodel(int argc, char **argv)
{
	llm_mkmodel_opts o;
	llm_mkmodel_opts_init(&o);
	const char *out = NULL;
	int ctx = o.n_ctx;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--untied")) {
			o.tied = 0;
			continue;
		}
		if (i + 1 >= argc) {
			fprintf(stderr, "%s mkmodel: unknown option or missing value: %s\n", prog, a);
			return usage();
		}
		const char *v = argv[++i];
		double d;
		int r = 0;
		if (!strcmp(a, "--arch"))
			o.arch = v;
		else if (!strcmp(a, "--out"))
			out = v;
		else if (!strcmp(a, "--tokenizer-from"))
			o.tokenizer_from = v;
		else if (!strcmp(a, "--layers"))
			r = parse_int(a, v, 1, 256, &o.n_layer);
		else if (!strcmp(a, "--embd"))
			r = parse_int(a, v, 8, 16384, &o.n_embd);
		else if (!strcmp(a, "--heads"))
			r = parse_int(a, v, 1, 256, &o.n_head);
		else if (!strcmp(a, "--kv-heads"))
			r = parse_int(a, v, 1, 256, &o.n_head_kv);
		else if (!strcmp(a, "--head-dim"))
			r = parse_int(a, v, 2, 1024, &o.head_dim);
		else if (!strcmp(a, "--ff"))
			r = parse_int(a, v, 8, 65536, &o.n_ff);
		else if (!strcmp(a, "--ctx"))
			r = parse_int(a, v, 16, 1 << 20, &ctx);
		else if (!strcmp(a, "--type"))
			r = parse_type(a, v, &o.type);
		else if (!strcmp(a, "--embd-type"))
			r = parse_type(a, v, &o.embd_type);
		else if (!strcmp(a, "--seed")) {
			char *end;
			o.seed = strtoull(v, &end, 10);
			r = *end || end == v ? -1 : 0;
			if (r)
				fprintf(stderr, "%s mkmodel: --seed: expected an unsigned integer\n", prog);
		} else if (!strcmp(a, "--scale")) {
			r = parse_float(a, v, 1e-3, 1e3, &d);
			o.scale = (float)d;
		} else if (!strcmp(a, "--rope-theta")) {
			r = parse_float(a, v, 2, 1e9, &d);
			o.rope_theta = (float)d;
		} else {
			fprintf(stderr, "%s mkmodel: unknown option %s\n", prog, a);
			return usage();
		}
		if (r)
			return EX_USAGE;
	}
	o.n_ctx = ctx;
	if (!out) {
		fprintf(stderr, "%s mkmodel: --out is required\n", prog);
		return usage();
	}
	char err[512];
	if (llm_mkmodel(&o, out, err, sizeof err) < 0) {
		fprintf(stderr, "%s mkmodel: %s\n", prog, err);
		return EX_FAIL;
	}
	return EX_OK;
}

static int cmd_bench(int argc, char **argv)
{
	const char *model = NULL;
	int np = 600, ng = 80, reps = 1;
	llm_load_opts lo;
	llm_load_opts_init(&lo);
	for (int i = 1; i < argc; i++) {
		int r = model_opt(argc, argv, &i, &model, &lo);
		if (r < 0)
			return EX_USAGE;
		if (r)
			continue;
		if (i + 1 >= argc)
			return usage();
		const char *a = argv[i], *v = argv[++i];
		if (!strcmp(a, "-p"))
			r = parse_int(a, v, 1, 1 << 20, &np);
		else if (!strcmp(a, "-n"))
			r = parse_int(a, v, 1, 1 << 20, &ng);
		else if (!strcmp(a, "--reps"))
			r = parse_int(a, v, 1, 100, &reps);
		else {
			fprintf(stderr, "%s bench: unknown option %s\n", prog, a);
			return usage();
		}
		if (r)
			return EX_USAGE;
	}
	if (!model)
		return usage();
	if (!lo.n_ctx)
		lo.n_ctx = np + ng + 8;
	double t0 = now_s();
	llm_model *m = load(model, &lo);
	if (!m)
		return EX_FAIL;
	double load_s = now_s() - t0;
	llm_info in;
	llm_get_info(m, &in);
	int32_t *toks = malloc((size_t)(np + ng) * sizeof *toks);
	float *logits = malloc((size_t)in.n_vocab * sizeof *logits);
	if (!toks || !logits) {
		free(toks);
		free(logits);
		llm_free(m);
		return EX_INTERNAL;
	}
	/* a fixed pseudo-random prompt (ids in the ordinary part of the vocabulary) */
	uint64_t s = 12345;
	for (int i = 0; i < np + ng; i++) {
		s = s * 6364136223846793005ULL + 1442695040888963407ULL;
		toks[i] = (int32_t)((s >> 33) % (uint64_t)(in.n_vocab / 2));
	}
	double best_p = 1e30, best_g = 1e30;
	int rc = EX_OK;
	for (int r = 0; r < reps && rc == EX_OK; r++) {
		double a = now_s();
		if (llm_eval(m, toks, np, 0, 0, logits) < 0)
			rc = EX_FAIL;
		double b = now_s();
		for (int i = 0; i < ng && rc == EX_OK; i++)
			if (llm_eval(m, toks + np + i, 1, np + i, 0, logits) < 0)
				rc = EX_FAIL;
		double c = now_s();
		if (b - a < best_p)
			best_p = b - a;
		if (c - b < best_g)
			best_g = c - b;
	}
	if (rc != EX_OK)
		fprintf(stderr, "%s bench: %s\n", prog, llm_last_error(m));
	else
		printf("model=%s arch=%s backend=%s threads=%d kernels=%s load_s=%.3f "
		       "prefill_tokens=%d prefill_s=%.3f prefill_tok_s=%.1f "
		       "decode_tokens=%d decode_s=%.3f decode_tok_s=%.1f total_s=%.3f peak_rss_mib=%ld\n",
		       model, in.arch, in.backend, in.n_threads, llm_cpu_level_name(llm_cpu_level()),
		       load_s, np, best_p, np / best_p, ng, best_g, ng / best_g, best_p + best_g,
		       peak_rss_kb() / 1024);
	free(toks);
	free(logits);
	llm_free(m);
	return rc;
}

int llm_cmd(int argc, char **argv, const char *progname)
{
	if (progname)
		prog = progname;
	if (argc < 1)
		return usage();
	const char *c = argv[0];
	if (!strcmp(c, "run"))
		return cmd_run(argc, argv);
	if (!strcmp(c, "info"))
		return cmd_info(argc, argv);
	if (!strcmp(c, "tokenize"))
		return cmd_tokenize(argc, argv);
	if (!strcmp(c, "mkmodel"))
		return cmd_mkmodel(argc, argv);
	if (!strcmp(c, "bench"))
		return cmd_bench(argc, argv);
	if (!strcmp(c, "-h") || !strcmp(c, "--help") || !strcmp(c, "help")) {
		usage();
		return EX_OK;
	}
	fprintf(stderr, "%s: unknown command \"%s\"\n", prog, c);
	return usage();
}
