/* tests/gpu/check_kernels.cu — CPU references, checkers and timings for every
 * kernel in kernels/kern_ops.cu.
 *
 *   check_kernels test [quick]   checks on fresh random inputs; exit 1 on any failure
 *   check_kernels bench          timings at Qwen2.5-0.5B / Qwen3-0.6B shapes and
 *                                the card's device-to-device copy bandwidth
 *   check_kernels none           prints the device and exits (does the binary run here)
 *   check_kernels ffn            the fused feed-forward against the two matvecs (timings)
 *
 * Every check draws new random inputs (seed from the clock unless KSEED is set,
 * printed), poisons the output with NaN bytes first (so an unwritten element
 * fails), and compares with a reference computed here in double precision from
 * the raw GGUF blocks (this file's own dequantisation, independent of the
 * kernels').  Tolerances are stated beside each check. */
#include "kernels/kern.h"

#include <cuda_runtime.h>
#include <cuda_fp16.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <vector>
#include <algorithm>

#define CK(x) do { int e_ = (int)(x); if (e_) { fprintf(stderr, "%s:%d: %s -> %d (%s)\n", __FILE__, __LINE__, #x, e_, cudaGetErrorString((cudaError_t)e_)); exit(2); } } while (0)

enum { T_F32 = 0, T_F16 = 1, T_Q4_0 = 2, T_Q4_1 = 3, T_Q5_0 = 6, T_Q8_0 = 8, T_Q4_K = 12, T_Q6_K = 14, T_BF16 = 30 };
static const int ALL_TYPES[] = {T_F32, T_F16, T_BF16, T_Q8_0, T_Q4_0, T_Q4_1, T_Q5_0, T_Q4_K, T_Q6_K};

static const char *tname(int t)
{
	switch (t) {
	case T_F32: return "f32"; case T_F16: return "f16"; case T_BF16: return "bf16";
	case T_Q8_0: return "q8_0"; case T_Q4_0: return "q4_0"; case T_Q4_1: return "q4_1"; case T_Q5_0: return "q5_0";
	case T_Q4_K: return "q4_K"; case T_Q6_K: return "q6_K"; default: return "?";
	}
}

/* ---- random numbers ---------------------------------------------------------- */
static uint64_t rng_state;
static uint64_t rnd64(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}
static double urand(void) { return (double)(rnd64() >> 11) / 9007199254740992.0; }
static float frand(float lo, float hi) { return lo + (hi - lo) * (float)urand(); }
static int irand(int n) { return (int)(rnd64() % (uint64_t)n); }

/* ---- half / bfloat16 on the host ------------------------------------------------ */
static float h2f(uint16_t h)
{
	uint32_t s = (uint32_t)(h >> 15) << 31, e = (h >> 10) & 31, m = h & 1023, u;
	if (e == 0) {
		if (m == 0) u = s;
		else { /* subnormal */
			float f = ldexpf((float)m, -24);
			return s ? -f : f;
		}
	} else if (e == 31) u = s | 0x7f800000u | (m << 13);
	else u = s | ((e + 112) << 23) | (m << 13);
	float f;
	memcpy(&f, &u, 4);
	return f;
}
static uint16_t f2h(float f) { return __half_as_ushort(__float2half_rn(f)); }
static float bf2f(uint16_t b) { uint32_t u = (uint32_t)b << 16; float f; memcpy(&f, &u, 4); return f; }
static uint16_t f2bf(float f)
{
	uint32_t u;
	memcpy(&u, &f, 4);
	u += 0x7fff + ((u >> 16) & 1);
	return (uint16_t)(u >> 16);
}

/* ---- GGUF rows: random blocks and the reference dequantisation --------------------- */
static size_t row_bytes(int t, int cols)
{
	switch (t) {
	case T_F32: return (size_t)cols * 4;
	case T_F16: case T_BF16: return (size_t)cols * 2;
	case T_Q8_0: return (size_t)cols / 32 * 34;
	case T_Q4_0: return (size_t)cols / 32 * 18;
	case T_Q4_1: return (size_t)cols / 32 * 20;
	case T_Q5_0: return (size_t)cols / 32 * 22;
	case T_Q4_K: return (size_t)cols / 256 * 144;
	case T_Q6_K: return (size_t)cols / 256 * 210;
	}
	return 0;
}
static int block_elems(int t)
{
	return t == T_Q4_K || t == T_Q6_K ? 256 : (t == T_Q8_0 || t == T_Q4_0 || t == T_Q4_1 || t == T_Q5_0) ? 32 : 1;
}
static void put16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static uint16_t get16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }

static void random_row(int t, int cols, uint8_t *dst)
{
	size_t nb = row_bytes(t, cols);
	for (size_t i = 0; i < nb; i++) dst[i] = (uint8_t)rnd64();
	switch (t) {
	case T_F32:
		for (int i = 0; i < cols; i++) { float f = frand(-1, 1); memcpy(dst + 4 * i, &f, 4); }
		break;
	case T_F16:
		for (int i = 0; i < cols; i++) put16(dst + 2 * i, f2h(frand(-1, 1)));
		break;
	case T_BF16:
		for (int i = 0; i < cols; i++) put16(dst + 2 * i, f2bf(frand(-1, 1)));
		break;
	case T_Q8_0:
		for (int b = 0; b < cols / 32; b++) put16(dst + b * 34, f2h(frand(0.001f, 0.02f)));
		break;
	case T_Q4_0:
		for (int b = 0; b < cols / 32; b++) put16(dst + b * 18, f2h(frand(0.01f, 0.2f)));
		break;
	case T_Q4_1:
		for (int b = 0; b < cols / 32; b++) {
			put16(dst + b * 20, f2h(frand(0.01f, 0.2f)));
			put16(dst + b * 20 + 2, f2h(frand(-1.5f, 0.5f)));
		}
		break;
	case T_Q5_0:
		for (int b = 0; b < cols / 32; b++) put16(dst + b * 22, f2h(frand(0.005f, 0.1f)));
		break;
	case T_Q4_K:
		for (int b = 0; b < cols / 256; b++) {
			put16(dst + b * 144, f2h(frand(0.001f, 0.01f)));
			put16(dst + b * 144 + 2, f2h(frand(0.001f, 0.02f)));
		}
		break;
	case T_Q6_K:
		for (int b = 0; b < cols / 256; b++) put16(dst + b * 210 + 208, f2h(frand(0.0005f, 0.005f)));
		break;
	}
}

/* Written from the block descriptions in local_llm/llm_internal.h. */
static void ref_dequant(int t, const uint8_t *src, int cols, double *y)
{
	switch (t) {
	case T_F32:
		for (int i = 0; i < cols; i++) { float f; memcpy(&f, src + 4 * i, 4); y[i] = f; }
		return;
	case T_F16:
		for (int i = 0; i < cols; i++) y[i] = h2f(get16(src + 2 * i));
		return;
	case T_BF16:
		for (int i = 0; i < cols; i++) y[i] = bf2f(get16(src + 2 * i));
		return;
	case T_Q8_0:
		for (int b = 0; b < cols / 32; b++) {
			const uint8_t *p = src + b * 34;
			double d = h2f(get16(p));
			for (int j = 0; j < 32; j++) y[b * 32 + j] = d * (int8_t)p[2 + j];
		}
		return;
	case T_Q4_0:
	case T_Q4_1:
		for (int b = 0; b < cols / 32; b++) {
			int hb = t == T_Q4_0 ? 2 : 4;
			const uint8_t *p = src + b * (hb + 16);
			double d = h2f(get16(p)), m = t == T_Q4_1 ? h2f(get16(p + 2)) : 0;
			for (int j = 0; j < 16; j++) {
				int lo = p[hb + j] & 15, hi = p[hb + j] >> 4;
				y[b * 32 + j] = t == T_Q4_0 ? d * (lo - 8) : d * lo + m;
				y[b * 32 + 16 + j] = t == T_Q4_0 ? d * (hi - 8) : d * hi + m;
			}
		}
		return;
	case T_Q5_0: /* d; qh (bit j = fifth bit of value j); qs as Q4_0 */
		for (int b = 0; b < cols / 32; b++) {
			const uint8_t *p = src + b * 22;
			double d = h2f(get16(p));
			uint32_t qh;
			memcpy(&qh, p + 2, 4);
			for (int j = 0; j < 16; j++) {
				int lo = (p[6 + j] & 15) | (int)(((qh >> j) & 1) << 4);
				int hi = (p[6 + j] >> 4) | (int)(((qh >> (j + 16)) & 1) << 4);
				y[b * 32 + j] = d * (lo - 16);
				y[b * 32 + 16 + j] = d * (hi - 16);
			}
		}
		return;
	case T_Q4_K:
		for (int b = 0; b < cols / 256; b++) {
			const uint8_t *p = src + b * 144, *sc = p + 4, *qs = p + 16;
			double d = h2f(get16(p)), dmin = h2f(get16(p + 2));
			for (int sub = 0; sub < 8; sub++) {
				int s, m;
				if (sub < 4) {
					s = sc[sub] & 63;
					m = sc[sub + 4] & 63;
				} else {
					s = (sc[sub + 4] & 15) | ((sc[sub - 4] >> 6) << 4);
					m = (sc[sub + 4] >> 4) | ((sc[sub] >> 6) << 4);
				}
				/* sub-blocks 2c and 2c+1 share the 32 bytes qs[32c..]: low then high nibbles */
				int c = sub / 2;
				for (int l = 0; l < 32; l++) {
					int q = (sub & 1) ? (qs[32 * c + l] >> 4) : (qs[32 * c + l] & 15);
					y[b * 256 + sub * 32 + l] = d * s * q - dmin * m;
				}
			}
		}
		return;
	case T_Q6_K:
		for (int b = 0; b < cols / 256; b++) {
			const uint8_t *p = src + b * 210;
			double d = h2f(get16(p + 208));
			for (int half = 0; half < 2; half++) {
				const uint8_t *ql = p + 64 * half, *qh = p + 128 + 32 * half;
				const int8_t *sc = (const int8_t *)(p + 192) + 8 * half;
				for (int l = 0; l < 32; l++) {
					int q[4];
					q[0] = ((ql[l] & 15) | (((qh[l] >> 0) & 3) << 4)) - 32;
					q[1] = ((ql[l + 32] & 15) | (((qh[l] >> 2) & 3) << 4)) - 32;
					q[2] = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
					q[3] = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
					for (int k = 0; k < 4; k++)
						y[b * 256 + half * 128 + k * 32 + l] = d * sc[l / 16 + 2 * k] * q[k];
				}
			}
		}
		return;
	}
}

/* ---- device helpers ---------------------------------------------------------------- */
template <typename T> static T *dalloc(size_t n)
{
	T *p = NULL;
	CK(cudaMalloc(&p, n * sizeof(T) + 16));
	return p;
}
static void poison(void *d, size_t bytes) { CK(cudaMemset(d, 0xff, bytes)); } /* NaN floats, NaN halves */
static void up(void *d, const void *h, size_t b) { CK(cudaMemcpy(d, h, b, cudaMemcpyHostToDevice)); }
static void down(void *h, const void *d, size_t b) { CK(cudaMemcpy(h, d, b, cudaMemcpyDeviceToHost)); }

static int n_fail = 0, n_pass = 0;
static void report(const char *what, double worst, double tol_note, int bad, long n)
{
	printf("%-6s %-58s worst err/tol %.3g  (%ld values%s)\n", bad ? "FAIL" : "ok", what, worst, n,
	       bad ? ", some outside tolerance or unwritten" : "");
	(void)tol_note;
	if (bad) n_fail++;
	else n_pass++;
}

/* Uploads rows of GGUF data as a kern_mat. */
static kern_mat make_mat(int t, int rows, int cols, const std::vector<uint8_t> &gg)
{
	kern_mat m;
	CK(kern_mat_alloc(&m, t, rows, cols));
	CK(kern_mat_set_rows(&m, 0, rows, gg.data()));
	return m;
}

/* ---- matvec ------------------------------------------------------------------------ */
/* The reference input of a matvec: x, or RMSNorm(x) * g in double. */
static void ref_rmsnorm(const std::vector<float> &x, const std::vector<float> &g, int use_norm, float eps,
                        std::vector<double> &xn)
{
	size_t cols = x.size();
	double rs = 1;
	if (use_norm) {
		double ss = 0;
		for (size_t i = 0; i < cols; i++) ss += (double)x[i] * x[i];
		rs = 1 / sqrt(ss / (double)cols + eps);
	}
	for (size_t i = 0; i < cols; i++) xn[i] = use_norm ? x[i] * rs * g[i] : x[i];
}

/* v's elements as an accumulator of nc copies (kern.h), each copy after the
 * first holding a random part of each element, the first the rest. */
static std::vector<long long> fix_copies(const std::vector<long long> &v, int nc)
{
	int n = (int)v.size(), fs = kern_fix_stride(n);
	std::vector<long long> a(KERN_FIX_BYTES(n, nc) / 8, 0);
	for (int i = 0; i < n; i++) {
		long long rest = v[i];
		for (int k = 1; k < nc; k++) {
			long long p = llrint(frand(-1, 1) * KERN_FIX_SCALE);
			a[(size_t)k * fs + i] = p;
			rest -= p;
		}
		a[i] = rest;
	}
	return a;
}
/* The n elements of an accumulator in a (nc copies): the sums. */
static std::vector<long long> fix_sums(const std::vector<long long> &a, int n, int nc)
{
	std::vector<long long> v(n, 0);
	for (int k = 0; k < nc; k++)
		for (int i = 0; i < n; i++) v[i] += a[(size_t)k * kern_fix_stride(n) + i];
	return v;
}

/* The types whose kernels round x to int16 in 32-value blocks first (kern_int_dot, like
 * the CPU path's integer dots): the most that rounding can move w . x, half a step (the
 * block's amax / 32767) per element: sum_k |w_k| amax_k / 65534. */
static double xq_err(int t, const std::vector<double> &w, const std::vector<double> &xn)
{
	if (!kern_int_dot(t)) return 0;
	double e = 0;
	for (size_t b = 0; b + 32 <= xn.size(); b += 32) {
		double am = 0, sw = 0;
		for (size_t i = b; i < b + 32; i++) {
			am = std::max(am, fabs(xn[i]));
			sw += fabs(w[i]);
		}
		e += sw * am / 65534;
	}
	return e;
}

/* Tolerance: |y - ref| <= 2e-5 * sum_k |w_k x_k| + 1e-6 (f32 accumulation of exact
 * products) + xq_err (the integer-path types); SwiGLU: 2e-5 * (1.1 S_g |u| + |silu(g)| S_u) + 1e-6, with
 * xq_err of g and of u through the same factors. */
static const char *g_mv_label = "";
static int g_heads = 2; /* query heads per block set with kern_attn_dec_heads */
static void check_matvec(int t, int rows, int cols, int use_norm, int accumulate, int swiglu)
{
	int rows_w = swiglu ? 2 * rows : rows;
	std::vector<uint8_t> gg(row_bytes(t, cols) * rows_w);
	for (int r = 0; r < rows_w; r++) random_row(t, cols, gg.data() + r * row_bytes(t, cols));
	std::vector<float> x(cols), g(cols), y0(rows), y(rows);
	for (auto &v : x) v = frand(-2, 2);
	for (auto &v : g) v = frand(0.5f, 1.5f);
	for (auto &v : y0) v = frand(-1, 1);
	float eps = 1e-6f;
	/* every other call without SwiGLU: the argmax of y found by the same kernel;
	 * every third: a fixed-point part of the residual (d_fix) added to y (with
	 * accumulate) or to x, rounded once to float as the kernel does */
	static int n_calls = 0;
	int call = n_calls++, with_am = !swiglu && (call & 1), with_fix = !swiglu && call % 3 == 1;
	int nfix = accumulate ? rows : cols;
	std::vector<long long> fix(nfix);
	for (auto &v : fix) v = llrint(frand(-1, 1) * KERN_FIX_SCALE);
	std::vector<float> xe(x), ye(y0);
	if (with_fix)
		for (int i = 0; i < nfix; i++) {
			float &e = accumulate ? ye[i] : xe[i];
			e = (float)((double)e + (double)fix[i] / KERN_FIX_SCALE);
		}
	std::vector<double> xn(cols), wrow(cols);
	ref_rmsnorm(xe, g, use_norm, eps, xn);
	kern_mat m = make_mat(t, rows_w, cols, gg);
	float *dx = dalloc<float>(cols), *dg = dalloc<float>(cols), *dy = dalloc<float>(rows);
	/* 1 to KERN_FIX_MAX_COPIES copies of the accumulator, holding random parts of each value */
	int nfc = 1 + (call / 3) % KERN_FIX_MAX_COPIES;
	size_t fbytes = KERN_FIX_BYTES(nfix, nfc);
	long long *dfix = with_fix ? (long long *)dalloc<char>(fbytes) : NULL;
	up(dx, x.data(), cols * 4);
	up(dg, g.data(), cols * 4);
	if (with_fix) up(dfix, fix_copies(fix, nfc).data(), fbytes);
	if (accumulate) up(dy, y0.data(), rows * 4);
	else poison(dy, rows * 4);
	kern_mv_opts o = {use_norm ? dg : NULL, eps, accumulate, swiglu, NULL, NULL, NULL, dfix, nfc};
	int *dam = NULL;
	unsigned char *dscr = NULL;
	if (with_am) {
		dam = dalloc<int>(1);
		dscr = dalloc<unsigned char>(KERN_ARGMAX_SCRATCH);
		poison(dam, 4);
		CK(cudaMemset(dscr, 0, KERN_ARGMAX_SCRATCH));
		o.d_argmax = dam;
		o.d_argmax_scr = dscr;
	}
	CK(kern_matvec(&m, dx, dy, &o, NULL));
	CK(cudaDeviceSynchronize());
	down(y.data(), dy, rows * 4);
	int am_bad = 0;
	if (with_am) { /* the index of the largest y the GPU wrote (lowest on ties), and the scratch zeroed again */
		int got = -2, want = -1;
		unsigned char scr[KERN_ARGMAX_SCRATCH];
		down(&got, dam, 4);
		down(scr, dscr, KERN_ARGMAX_SCRATCH);
		for (int r = 0; r < rows; r++)
			if (y[r] == y[r] && (want < 0 || y[r] > y[want])) want = r;
		for (int i = 0; i < KERN_ARGMAX_SCRATCH; i++) am_bad |= scr[i] != 0;
		am_bad |= got != want;
		if (am_bad) printf("       argmax %d, want %d%s\n", got, want, got == want ? " (scratch left non-zero)" : "");
		cudaFree(dam);
		cudaFree(dscr);
	}
	double worst = 0;
	int bad = 0;
	for (int r = 0; r < rows; r++) {
		double a = 0, sa = 0, b = 0, sb = 0;
		ref_dequant(t, gg.data() + r * row_bytes(t, cols), cols, wrow.data());
		for (int i = 0; i < cols; i++) { a += wrow[i] * xn[i]; sa += fabs(wrow[i] * xn[i]); }
		double ref, tol, qa = xq_err(t, wrow, xn);
		if (swiglu) {
			ref_dequant(t, gg.data() + (r + rows) * row_bytes(t, cols), cols, wrow.data());
			for (int i = 0; i < cols; i++) { b += wrow[i] * xn[i]; sb += fabs(wrow[i] * xn[i]); }
			double sg = a / (1 + exp(-a)), qb = xq_err(t, wrow, xn);
			ref = sg * b;
			tol = (2e-5 * sa + qa) * 1.1 * fabs(b) + fabs(sg) * (2e-5 * sb + qb) + 1e-6;
		} else {
			ref = a;
			tol = 2e-5 * sa + qa + 1e-6;
		}
		if (accumulate) ref += ye[r];
		double err = fabs((double)y[r] - ref) / tol;
		if (!(err <= 1)) bad = 1;
		if (err > worst || err != err) worst = err;
	}
	char what[128];
	snprintf(what, sizeof what, "matvec %s %dx%d%s%s%s%s%s%s", tname(t), rows_w, cols, use_norm ? " +norm" : "",
	         accumulate ? " +acc" : "", swiglu ? " +swiglu" : "", with_am ? " +argmax" : "", with_fix ? " +fix" : "",
	         g_mv_label);
	report(what, worst, 0, bad || am_bad, rows);
	kern_mat_free(&m);
	cudaFree(dx); cudaFree(dg); cudaFree(dy);
	if (dfix) cudaFree(dfix);
}

/* ---- feed-forward with the down projection fused (kern_ffn_fused) -----------------------
 * acc = acc0 + Wd (silu(G xn) * (U xn)) in units of 2^-32, acc0 = y0 2^32.  Tolerance per
 * row r: the matvec SwiGLU bound tol_h of every h_j carried through |Wd_rj|, plus 3e-5
 * (sum_j |Wd_rj h_j| + |y0_r|) for the f32 sums, + 1e-6.  y0 is random, so a block that
 * adds nothing leaves rows off by its whole share.  Two runs must give the same bits
 * (integer sums: the blocks' order does not matter); the zeroed buffer (with_zero) must
 * be all zero; unaligned or overlapping buffers are refused. */
static void check_ffn_fused(int t, int cols, int n_ff, int use_norm, int with_zero)
{
	int rows_w = 2 * n_ff;
	{
		kern_mat a = {}, d = {};
		a.type = d.type = t;
		a.rows = rows_w; a.cols = cols;
		d.rows = cols; d.cols = n_ff;
		if (!kern_ffn_fused_ok(&a, &d)) { /* shared memory of this device too small */
			printf("skip   ffn fused %s %dx%d%s: not covered on this device\n", tname(t), cols, n_ff, g_mv_label);
			return;
		}
	}
	size_t rb = row_bytes(t, cols), rbd = row_bytes(t, n_ff);
	std::vector<uint8_t> gg(rb * rows_w), gd(rbd * cols);
	for (int r = 0; r < rows_w; r++) random_row(t, cols, gg.data() + r * rb);
	for (int r = 0; r < cols; r++) random_row(t, n_ff, gd.data() + r * rbd);
	std::vector<float> x(cols), g(cols), y0(cols), y(cols), y2(cols);
	for (auto &v : x) v = frand(-2, 2);
	for (auto &v : g) v = frand(0.5f, 1.5f);
	for (auto &v : y0) v = frand(-1, 1);
	float eps = 1e-6f;
	std::vector<double> xn(cols), wrow(std::max(cols, n_ff)), h(n_ff), th(n_ff);
	ref_rmsnorm(x, g, use_norm, eps, xn);
	for (int j = 0; j < n_ff; j++) {
		double a = 0, sa = 0, b = 0, sb = 0;
		ref_dequant(t, gg.data() + j * rb, cols, wrow.data());
		for (int i = 0; i < cols; i++) { a += wrow[i] * xn[i]; sa += fabs(wrow[i] * xn[i]); }
		double qa = xq_err(t, wrow, xn);
		ref_dequant(t, gg.data() + (size_t)(j + n_ff) * rb, cols, wrow.data());
		for (int i = 0; i < cols; i++) { b += wrow[i] * xn[i]; sb += fabs(wrow[i] * xn[i]); }
		double sg = a / (1 + exp(-a)), qb = xq_err(t, wrow, xn);
		h[j] = sg * b;
		th[j] = (2e-5 * sa + qa) * 1.1 * fabs(b) + fabs(sg) * (2e-5 * sb + qb) + 1e-6;
	}
	kern_mat mg = make_mat(t, rows_w, cols, gg), md = make_mat(t, cols, n_ff, gd);
	float *dx = dalloc<float>(cols), *dg = dalloc<float>(cols);
	/* the two runs add into 1 and 2 or 2 and 1 copies (by call) */
	static int n_ffn = 0;
	int nc0 = 1 + n_ffn++ % KERN_FIX_MAX_COPIES;
	size_t fw = KERN_FIX_BYTES(cols, KERN_FIX_MAX_COPIES) / 8; /* room for any count of copies */
	long long *dacc = dalloc<long long>(2 * fw), *dz = with_zero ? dacc + fw : NULL;
	std::vector<long long> acc0(cols), acc(cols), acc2(cols), got(fw), zb(fw);
	for (int r = 0; r < cols; r++) acc0[r] = llrint((double)y0[r] * KERN_FIX_SCALE);
	up(dx, x.data(), cols * 4);
	up(dg, g.data(), cols * 4);
	double worst = 0;
	int bad = 0, same = 1, zeroed = 1;
	for (int run = 0; run < 2; run++) { /* twice: the same sums, whatever the order and the copies the blocks add into */
		int nc = 1 + (nc0 - 1 + run) % KERN_FIX_MAX_COPIES;
		size_t n = KERN_FIX_BYTES(cols, nc) / 8;
		up(dacc, fix_copies(acc0, nc).data(), n * 8);
		if (dz) poison(dz, fw * 8);
		CK(kern_ffn_fused(&mg, &md, dx, use_norm ? dg : NULL, eps, dacc, dz, nc, NULL));
		CK(cudaDeviceSynchronize());
		down(got.data(), dacc, n * 8);
		std::vector<long long> sums = fix_sums(got, cols, nc);
		(run ? acc2 : acc) = sums;
		if (dz) { /* its nc copies zeroed, the bytes after them not touched */
			down(zb.data(), dz, fw * 8);
			for (size_t i = 0; i < fw; i++) zeroed &= i < n ? zb[i] == 0 : zb[i] != 0;
		}
	}
	for (int r = 0; r < cols; r++) {
		same &= acc[r] == acc2[r];
		y[r] = (float)(acc[r] / KERN_FIX_SCALE);
		y2[r] = (float)(acc2[r] / KERN_FIX_SCALE);
	}
	for (int r = 0; r < cols; r++) {
		ref_dequant(t, gd.data() + r * rbd, n_ff, wrow.data());
		double ref = y0[r], s = 0, tol = 0;
		for (int j = 0; j < n_ff; j++) {
			ref += wrow[j] * h[j];
			s += fabs(wrow[j] * h[j]);
			tol += fabs(wrow[j]) * th[j];
		}
		tol += 3e-5 * (s + fabs(y0[r])) + 1e-6;
		double err = fabs((double)y[r] - ref) / tol;
		if (!(err <= 1)) bad = 1;
		if (err > worst || err != err) worst = err;
	}
	if (!same) printf("       two runs gave different sums\n");
	if (!zeroed) printf("       the buffer to zero was not zeroed\n");
	/* refused: x overlapping the accumulator (other blocks still read x while the
	 * first add), the zeroed buffer overlapping it, an accumulator not 16-byte aligned */
	int refused = kern_ffn_fused(&mg, &md, dx, NULL, eps, (long long *)dx, NULL, 1, NULL) != 0 &&
	              kern_ffn_fused(&mg, &md, dx, NULL, eps, dacc, dacc + 2, 1, NULL) != 0 &&
	              kern_ffn_fused(&mg, &md, dx, NULL, eps, dacc, dacc + kern_fix_stride(cols), 2, NULL) != 0 &&
	              kern_ffn_fused(&mg, &md, dx, NULL, eps, dacc + 1, NULL, 1, NULL) != 0;
	if (!refused) printf("       a bad buffer was accepted\n");
	CK(cudaDeviceSynchronize());
	char what[160];
	snprintf(what, sizeof what, "ffn fused %s %dx%d%s%s%s (2 runs: %s)", tname(t), cols, n_ff, use_norm ? " +norm" : "",
	         with_zero ? " +zero" : "", g_mv_label, same ? "same bits" : "DIFFER");
	report(what, worst, 0, bad || !same || !zeroed || !refused, cols);
	kern_mat_free(&mg);
	kern_mat_free(&md);
	cudaFree(dx); cudaFree(dg); cudaFree(dacc);
}

/* ---- embedding and dequantisation: |v - ref| <= 1e-6 |ref| + 1e-30; f16/bf16
 * targets: within one rounding of the target type (2^-11 / 2^-8 relative). ---- */
static void check_embed_dequant(int t, int rows, int cols)
{
	std::vector<uint8_t> gg(row_bytes(t, cols) * rows);
	for (int r = 0; r < rows; r++) random_row(t, cols, gg.data() + r * row_bytes(t, cols));
	kern_mat m = make_mat(t, rows, cols, gg);
	int n = 5;
	std::vector<int32_t> tok(n);
	for (int i = 0; i < n; i++) tok[i] = i == 0 ? rows - 1 : irand(rows);
	int32_t *dt = dalloc<int32_t>(n);
	float *de = dalloc<float>((size_t)n * cols);
	up(dt, tok.data(), n * 4);
	poison(de, (size_t)n * cols * 4);
	CK(kern_embed(&m, dt, n, de, NULL));
	std::vector<float> e((size_t)n * cols);
	CK(cudaDeviceSynchronize());
	down(e.data(), de, e.size() * 4);
	std::vector<double> ref(cols);
	double worst = 0;
	int bad = 0;
	for (int i = 0; i < n; i++) {
		ref_dequant(t, gg.data() + tok[i] * row_bytes(t, cols), cols, ref.data());
		for (int k = 0; k < cols; k++) {
			double err = fabs(e[(size_t)i * cols + k] - ref[k]) / (1e-6 * fabs(ref[k]) + 1e-30);
			if (!(err <= 1)) bad = 1;
			if (err > worst || err != err) worst = err;
		}
	}
	char what[128];
	snprintf(what, sizeof what, "embed %s %dx%d", tname(t), rows, cols);
	report(what, worst, 0, bad, (long)n * cols);
	for (int dt_ : {0, 1, 30}) {
		size_t es = dt_ == 0 ? 4 : 2, total = (size_t)rows * cols;
		void *dd = dalloc<uint8_t>(total * es);
		poison(dd, total * es);
		CK(kern_dequant(&m, dd, dt_, NULL));
		std::vector<uint8_t> h(total * es);
		CK(cudaDeviceSynchronize());
		down(h.data(), dd, total * es);
		worst = 0;
		bad = 0;
		double rel = dt_ == 0 ? 1e-6 : dt_ == 1 ? 1.0 / 2048 : 1.0 / 256;
		for (int r = 0; r < rows; r++) {
			ref_dequant(t, gg.data() + r * row_bytes(t, cols), cols, ref.data());
			for (int k = 0; k < cols; k++) {
				size_t i = (size_t)r * cols + k;
				double v = dt_ == 0 ? (double)((float *)h.data())[i]
				         : dt_ == 1 ? h2f(((uint16_t *)h.data())[i]) : bf2f(((uint16_t *)h.data())[i]);
				double err = fabs(v - ref[k]) / (rel * fabs(ref[k]) + 6e-8);
				if (!(err <= 1)) bad = 1;
				if (err > worst || err != err) worst = err;
			}
		}
		snprintf(what, sizeof what, "dequant %s %dx%d -> %s", tname(t), rows, cols, dt_ == 0 ? "f32" : dt_ == 1 ? "f16" : "bf16");
		report(what, worst, 0, bad, (long)total);
		cudaFree(dd);
	}
	kern_mat_free(&m);
	cudaFree(dt); cudaFree(de);
}

/* ---- add + RMSNorm, SwiGLU: 1e-5 relative to the row's scale ------------------------- */
static void check_norm_swiglu(int n, int dim)
{
	std::vector<float> h(n * dim), dl(n * dim), g(dim), out(n * dim), h2(n * dim);
	for (auto &v : h) v = frand(-3, 3);
	for (auto &v : dl) v = frand(-1, 1);
	for (auto &v : g) v = frand(0.5, 1.5);
	float *dh = dalloc<float>(n * dim), *dd = dalloc<float>(n * dim), *dg = dalloc<float>(dim), *dout = dalloc<float>(n * dim);
	up(dh, h.data(), h.size() * 4);
	up(dd, dl.data(), dl.size() * 4);
	up(dg, g.data(), dim * 4);
	poison(dout, out.size() * 4);
	CK(kern_add_rmsnorm(dh, dd, dg, dout, n, dim, 1e-6f, NULL));
	CK(cudaDeviceSynchronize());
	down(out.data(), dout, out.size() * 4);
	down(h2.data(), dh, h2.size() * 4);
	double worst = 0;
	int bad = 0;
	for (int t = 0; t < n; t++) {
		double ss = 0;
		std::vector<double> hv(dim);
		for (int i = 0; i < dim; i++) { hv[i] = (double)h[t * dim + i] + dl[t * dim + i]; ss += hv[i] * hv[i]; }
		double rs = 1 / sqrt(ss / dim + 1e-6);
		for (int i = 0; i < dim; i++) {
			double e1 = fabs(out[t * dim + i] - hv[i] * rs * g[i]) / (1e-5 * (fabs(hv[i] * rs * g[i]) + 1e-3));
			double e2 = fabs(h2[t * dim + i] - hv[i]) / (1e-6 * fabs(hv[i]) + 1e-7);
			double e = e1 > e2 ? e1 : e2;
			if (!(e <= 1)) bad = 1;
			if (e > worst || e != e) worst = e;
		}
	}
	char what[128];
	snprintf(what, sizeof what, "add_rmsnorm %dx%d", n, dim);
	report(what, worst, 0, bad, (long)n * dim);
	/* SwiGLU on [n][2*dim] */
	std::vector<float> gu(2 * n * dim), so(n * dim);
	for (auto &v : gu) v = frand(-6, 6);
	float *dgu = dalloc<float>(gu.size());
	up(dgu, gu.data(), gu.size() * 4);
	poison(dout, so.size() * 4);
	CK(kern_swiglu(dgu, dout, n, dim, NULL));
	CK(cudaDeviceSynchronize());
	down(so.data(), dout, so.size() * 4);
	worst = 0;
	bad = 0;
	for (int t = 0; t < n; t++)
		for (int i = 0; i < dim; i++) {
			double a = gu[t * 2 * dim + i], b = gu[t * 2 * dim + dim + i];
			double ref = a / (1 + exp(-a)) * b;
			double e = fabs(so[t * dim + i] - ref) / (1e-5 * fabs(ref) + 1e-6);
			if (!(e <= 1)) bad = 1;
			if (e > worst || e != e) worst = e;
		}
	snprintf(what, sizeof what, "swiglu %dx%d", n, dim);
	report(what, worst, 0, bad, (long)n * dim);
	cudaFree(dh); cudaFree(dd); cudaFree(dg); cudaFree(dout); cudaFree(dgu);
}

/* ---- q/k/v post-processing: q within 2e-5 of the head's norm (f32), k and v
 * within one f16 rounding (2^-11 relative) plus 2e-5 of the head's norm ------------ */
static void check_qkv_post(int H, int KVH, int D, int n_ctx, int n, int pos0, int neox, int qkn, int bias, float theta)
{
	int qd = H * D, kd = KVH * D, W = qd + 2 * kd;
	std::vector<float> invf(D / 2);
	for (int i = 0; i < D / 2; i++) invf[i] = 1.0f / powf(theta, (float)(2 * i) / (float)D); /* as the CPU path */
	float *dinvf = dalloc<float>(D / 2);
	up(dinvf, invf.data(), D / 2 * 4);
	kern_attn_shape s = {H, KVH, D, n_ctx, theta, neox, 1e-6f, dinvf};
	std::vector<float> qkv((size_t)n * W), bq(qd), bk(kd), bv(kd), qn(D), kn(D);
	for (auto &v : qkv) v = frand(-2, 2);
	for (auto &v : bq) v = frand(-1, 1);
	for (auto &v : bk) v = frand(-1, 1);
	for (auto &v : bv) v = frand(-1, 1);
	for (auto &v : qn) v = frand(0.5, 1.5);
	for (auto &v : kn) v = frand(0.5, 1.5);
	float *dqkv = dalloc<float>(qkv.size()), *dbq = dalloc<float>(qd), *dbk = dalloc<float>(kd), *dbv = dalloc<float>(kd);
	float *dqn = dalloc<float>(D), *dkn = dalloc<float>(D), *dq = dalloc<float>((size_t)n * qd);
	size_t cache = (size_t)KVH * n_ctx * D;
	uint16_t *dkc = dalloc<uint16_t>(cache), *dvc = dalloc<uint16_t>(cache);
	int *dpos = dalloc<int>(1);
	up(dqkv, qkv.data(), qkv.size() * 4); up(dbq, bq.data(), qd * 4); up(dbk, bk.data(), kd * 4);
	up(dbv, bv.data(), kd * 4); up(dqn, qn.data(), D * 4); up(dkn, kn.data(), D * 4); up(dpos, &pos0, 4);
	poison(dq, (size_t)n * qd * 4);
	poison(dkc, cache * 2);
	poison(dvc, cache * 2);
	CK(kern_qkv_post(dqkv, bias ? dbq : NULL, bias ? dbk : NULL, bias ? dbv : NULL, qkn ? dqn : NULL,
	                 qkn ? dkn : NULL, dq, dkc, dvc, dpos, n, &s, NULL));
	CK(cudaDeviceSynchronize());
	std::vector<float> q((size_t)n * qd);
	std::vector<uint16_t> kc(cache), vc(cache);
	down(q.data(), dq, q.size() * 4);
	down(kc.data(), dkc, cache * 2);
	down(vc.data(), dvc, cache * 2);
	double worst = 0;
	int bad = 0;
	for (int t = 0; t < n; t++) {
		int pos = pos0 + t;
		for (int hh = 0; hh < H + 2 * KVH; hh++) {
			int kind = hh < H ? 0 : hh < H + KVH ? 1 : 2;
			int h = kind == 0 ? hh : kind == 1 ? hh - H : hh - H - KVH;
			const float *src = &qkv[(size_t)t * W + (kind == 0 ? h * D : kind == 1 ? qd + h * D : qd + kd + h * D)];
			const float *b = kind == 0 ? &bq[h * D] : kind == 1 ? &bk[h * D] : &bv[h * D];
			std::vector<double> v(D);
			for (int i = 0; i < D; i++) v[i] = (double)src[i] + (bias ? b[i] : 0);
			if (kind < 2 && qkn) {
				double ss = 0;
				for (int i = 0; i < D; i++) ss += v[i] * v[i];
				double rs = 1 / sqrt(ss / D + 1e-6);
				for (int i = 0; i < D; i++) v[i] *= rs * (kind == 0 ? qn[i] : kn[i]);
			}
			if (kind < 2) {
				std::vector<double> o(v);
				for (int i = 0; i < D / 2; i++) {
					int a = neox ? i : 2 * i, bb = neox ? i + D / 2 : 2 * i + 1;
					/* the angle as the CPU path forms it: float frequency, float product */
					double ang = (double)((float)pos * invf[i]);
					o[a] = v[a] * cos(ang) - v[bb] * sin(ang);
					o[bb] = v[a] * sin(ang) + v[bb] * cos(ang);
				}
				v = o;
			}
			double nrm = 0;
			for (int i = 0; i < D; i++) nrm += v[i] * v[i];
			nrm = sqrt(nrm);
			for (int i = 0; i < D; i++) {
				double got, tol;
				if (kind == 0) {
					got = q[(size_t)t * qd + h * D + i];
					tol = 2e-5 * nrm + 1e-6;
				} else {
					size_t ci = ((size_t)h * n_ctx + pos) * D + i;
					got = h2f(kind == 1 ? kc[ci] : vc[ci]);
					tol = fabs(v[i]) / 2048 + 2e-5 * nrm + 1e-6;
				}
				double e = fabs(got - v[i]) / tol;
				if (!(e <= 1)) bad = 1;
				if (e > worst || e != e) worst = e;
			}
		}
	}
	char what[160];
	snprintf(what, sizeof what, "qkv_post H%d/%d D%d n%d pos%d %s%s%s", H, KVH, D, n, pos0, neox ? "neox" : "norm",
	         qkn ? " qknorm" : "", bias ? " bias" : "");
	report(what, worst, 0, bad, (long)n * (qd + 2 * kd));
	cudaFree(dqkv); cudaFree(dbq); cudaFree(dbk); cudaFree(dbv); cudaFree(dqn); cudaFree(dkn); cudaFree(dq);
	cudaFree(dkc); cudaFree(dvc); cudaFree(dpos); cudaFree(dinvf);
}

/* ---- attention: |o - ref| <= 2e-5 * max|v| + 1e-6 per element (f32 softmax
 * and sums over an f16 cache read exactly) ------------------------------------------- */
static void check_attention(int H, int KVH, int D, int n_ctx, int n, int pos0, int n_split)
{
	int qd = H * D, G = H / KVH;
	kern_attn_shape s = {H, KVH, D, n_ctx, 10000.f, 1, 1e-6f, NULL};
	size_t cache = (size_t)KVH * n_ctx * D;
	std::vector<uint16_t> kc(cache), vc(cache);
	for (size_t i = 0; i < cache; i++) {
		kc[i] = f2h(frand(-2, 2));
		vc[i] = f2h(frand(-2, 2));
	}
	std::vector<float> q((size_t)n * qd), o((size_t)n * qd);
	for (auto &v : q) v = frand(-2, 2);
	uint16_t *dkc = dalloc<uint16_t>(cache), *dvc = dalloc<uint16_t>(cache);
	float *dq = dalloc<float>(q.size()), *dout = dalloc<float>(o.size());
	float *dscr = dalloc<float>(kern_attn_scratch_floats(&s, n, n_split));
	int *dpos = dalloc<int>(1);
	up(dkc, kc.data(), cache * 2); up(dvc, vc.data(), cache * 2); up(dq, q.data(), q.size() * 4); up(dpos, &pos0, 4);
	poison(dout, o.size() * 4);
	poison(dscr, kern_attn_scratch_floats(&s, n, n_split) * 4);
	CK(kern_attention(dq, dkc, dvc, dout, dpos, n, n_split, &s, dscr, NULL));
	CK(cudaDeviceSynchronize());
	down(o.data(), dout, o.size() * 4);
	double worst = 0;
	int bad = 0;
	for (int t = 0; t < n; t++)
		for (int h = 0; h < H; h++) {
			int kh = h / G, L = pos0 + t + 1;
			std::vector<double> sc(L);
			double m = -1e300, l = 0;
			for (int p = 0; p < L; p++) {
				double d = 0;
				for (int i = 0; i < D; i++) d += (double)q[(size_t)t * qd + h * D + i] * h2f(kc[((size_t)kh * n_ctx + p) * D + i]);
				sc[p] = d / sqrt((double)D);
				if (sc[p] > m) m = sc[p];
			}
			for (int p = 0; p < L; p++) { sc[p] = exp(sc[p] - m); l += sc[p]; }
			for (int i = 0; i < D; i++) {
				double ref = 0;
				for (int p = 0; p < L; p++) ref += sc[p] * h2f(vc[((size_t)kh * n_ctx + p) * D + i]);
				ref /= l;
				double e = fabs(o[(size_t)t * qd + h * D + i] - ref) / (2e-5 * 2 + 1e-6);
				if (!(e <= 1)) bad = 1;
				if (e > worst || e != e) worst = e;
			}
		}
	char what[160];
	snprintf(what, sizeof what, "attention H%d/%d D%d ctx%d n%d pos%d split%d", H, KVH, D, n_ctx, n, pos0, n_split);
	report(what, worst, 0, bad, (long)n * qd);
	cudaFree(dkc); cudaFree(dvc); cudaFree(dq); cudaFree(dout); cudaFree(dscr); cudaFree(dpos);
}

/* ---- fused decode attention (kern_attn_decode): the cache row at pos within one
 * f16 rounding plus 2e-5 of the head's norm; o within 1e-4 * max|v| + 1e-6 of a
 * float64 reference (q/k post-processing and softmax in float64 over the cache
 * as the kernel left it).  Rows from pos on are NaN before the call: the kernel
 * must write pos and read nothing after it.  Run twice: the merge counters must
 * be left zeroed and the result must not change. ------------------------------------- */
static void check_attn_decode(int H, int KVH, int D, int n_ctx, int pos, int neox, int qkn, int bias, int chunk)
{
	int qd = H * D, kd = KVH * D, W = qd + 2 * kd, G = H / KVH;
	float theta = 1e6f;
	std::vector<float> invf(D / 2);
	for (int i = 0; i < D / 2; i++) invf[i] = 1.0f / powf(theta, (float)(2 * i) / (float)D);
	float *dinvf = dalloc<float>(D / 2);
	up(dinvf, invf.data(), D / 2 * 4);
	kern_attn_shape s = {H, KVH, D, n_ctx, theta, neox, 1e-6f, dinvf};
	if (!kern_attn_dec_ok(&s, chunk)) {
		printf("skip   attn_decode H%d/%d D%d: not covered on this device\n", H, KVH, D);
		cudaFree(dinvf);
		return;
	}
	std::vector<float> qkv(W), bq(qd), bk(kd), bv(kd), qn(D), kn(D);
	for (auto &v : qkv) v = frand(-2, 2);
	for (auto &v : bq) v = frand(-1, 1);
	for (auto &v : bk) v = frand(-1, 1);
	for (auto &v : bv) v = frand(-1, 1);
	for (auto &v : qn) v = frand(0.5, 1.5);
	for (auto &v : kn) v = frand(0.5, 1.5);
	size_t cache = (size_t)KVH * n_ctx * D;
	std::vector<uint16_t> kc(cache), vc(cache);
	for (int h = 0; h < KVH; h++)
		for (int p = 0; p < n_ctx; p++)
			for (int i = 0; i < D; i++) {
				size_t ci = ((size_t)h * n_ctx + p) * D + i;
				kc[ci] = p < pos ? f2h(frand(-2, 2)) : 0xffff;
				vc[ci] = p < pos ? f2h(frand(-2, 2)) : 0xffff;
			}
	float *dqkv = dalloc<float>(W), *dbq = dalloc<float>(qd), *dbk = dalloc<float>(kd), *dbv = dalloc<float>(kd);
	float *dqn = dalloc<float>(D), *dkn = dalloc<float>(D), *dout = dalloc<float>(qd);
	size_t nscr = kern_attn_dec_scratch_floats(&s, chunk);
	float *dscr = dalloc<float>(nscr);
	unsigned *dcnt = dalloc<unsigned>(H);
	uint16_t *dkc = dalloc<uint16_t>(cache), *dvc = dalloc<uint16_t>(cache);
	int *dpos = dalloc<int>(1);
	up(dqkv, qkv.data(), W * 4); up(dbq, bq.data(), qd * 4); up(dbk, bk.data(), kd * 4);
	up(dbv, bv.data(), kd * 4); up(dqn, qn.data(), D * 4); up(dkn, kn.data(), D * 4); up(dpos, &pos, 4);
	up(dkc, kc.data(), cache * 2); up(dvc, vc.data(), cache * 2);
	CK(cudaMemset(dcnt, 0, H * 4));
	std::vector<float> o(qd), o2(qd);
	for (int run = 0; run < 2; run++) {
		poison(dout, qd * 4);
		poison(dscr, nscr * 4);
		CK(kern_attn_decode(dqkv, bias ? dbq : NULL, bias ? dbk : NULL, bias ? dbv : NULL, qkn ? dqn : NULL,
		                    qkn ? dkn : NULL, dkc, dvc, dout, dpos, &s, chunk, dscr, dcnt, NULL));
		CK(cudaDeviceSynchronize());
		down(run ? o2.data() : o.data(), dout, qd * 4);
	}
	std::vector<unsigned> cnt(H);
	down(cnt.data(), dcnt, H * 4);
	std::vector<uint16_t> gk(cache), gv(cache);
	down(gk.data(), dkc, cache * 2);
	down(gv.data(), dvc, cache * 2);
	/* post-processed heads in float64 */
	auto post = [&](int kind, int h, std::vector<double> &v) {
		const float *src = &qkv[kind == 0 ? h * D : kind == 1 ? qd + h * D : qd + kd + h * D];
		const float *b = kind == 0 ? &bq[h * D] : kind == 1 ? &bk[h * D] : &bv[h * D];
		v.assign(D, 0);
		for (int i = 0; i < D; i++) v[i] = (double)src[i] + (bias ? b[i] : 0);
		if (kind == 2) return;
		if (qkn) {
			double ss = 0;
			for (int i = 0; i < D; i++) ss += v[i] * v[i];
			double rs = 1 / sqrt(ss / D + 1e-6);
			for (int i = 0; i < D; i++) v[i] *= rs * (kind == 0 ? qn[i] : kn[i]);
		}
		std::vector<double> r(v);
		for (int i = 0; i < D / 2; i++) {
			int a = neox ? i : 2 * i, bb = neox ? i + D / 2 : 2 * i + 1;
			double ang = (double)((float)pos * invf[i]);
			r[a] = v[a] * cos(ang) - v[bb] * sin(ang);
			r[bb] = v[a] * sin(ang) + v[bb] * cos(ang);
		}
		v = r;
	};
	double worst = 0, worst_c = 0;
	int bad = 0;
	for (int h = 0; h < KVH; h++)
		for (int kind = 1; kind <= 2; kind++) {
			std::vector<double> v;
			post(kind, h, v);
			double nrm = 0;
			for (int i = 0; i < D; i++) nrm += v[i] * v[i];
			nrm = sqrt(nrm);
			for (int i = 0; i < D; i++) {
				size_t ci = ((size_t)h * n_ctx + pos) * D + i;
				double got = h2f(kind == 1 ? gk[ci] : gv[ci]);
				double e = fabs(got - v[i]) / (fabs(v[i]) / 2048 + 2e-5 * nrm + 1e-6);
				if (!(e <= 1)) bad = 1;
				if (e > worst_c || e != e) worst_c = e;
			}
		}
	for (int h = 0; h < H; h++) {
		int kh = h / G, L = pos + 1;
		std::vector<double> q, sc(L);
		post(0, h, q);
		double m = -1e300, l = 0;
		for (int p = 0; p < L; p++) {
			double d = 0;
			for (int i = 0; i < D; i++) d += q[i] * h2f(gk[((size_t)kh * n_ctx + p) * D + i]);
			sc[p] = d / sqrt((double)D);
			if (sc[p] > m) m = sc[p];
		}
		for (int p = 0; p < L; p++) {
			sc[p] = exp(sc[p] - m);
			l += sc[p];
		}
		double vmax = 0;
		for (int p = 0; p < L; p++)
			for (int i = 0; i < D; i++) vmax = fmax(vmax, fabs(h2f(gv[((size_t)kh * n_ctx + p) * D + i])));
		for (int i = 0; i < D; i++) {
			double ref = 0;
			for (int p = 0; p < L; p++) ref += sc[p] * h2f(gv[((size_t)kh * n_ctx + p) * D + i]);
			ref /= l;
			double e = fabs(o[h * D + i] - ref) / (1e-4 * vmax + 1e-6);
			if (!(e <= 1) || o2[h * D + i] != o[h * D + i]) bad = 1;
			if (e > worst || e != e) worst = e;
		}
	}
	for (int h = 0; h < H; h++)
		if (cnt[h]) bad = 1;
	char what[200];
	snprintf(what, sizeof what, "attn_decode H%d/%d D%d ctx%d pos%d chunk%d heads/block %d %s%s%s (cache row err %.2f)",
	         H, KVH, D, n_ctx, pos, kern_attn_dec_chunk(&s, chunk), g_heads, neox ? "neox" : "norm", qkn ? " qknorm" : "",
	         bias ? " bias" : "", worst_c);
	report(what, worst > worst_c ? worst : worst_c, 0, bad, (long)qd + 2 * kd);
	cudaFree(dqkv); cudaFree(dbq); cudaFree(dbk); cudaFree(dbv); cudaFree(dqn); cudaFree(dkn); cudaFree(dout);
	cudaFree(dscr); cudaFree(dcnt); cudaFree(dkc); cudaFree(dvc); cudaFree(dpos); cudaFree(dinvf);
}

/* ---- argmax (exact) and sampling (the same token, unless u falls within 1e-4 of
 * the mass of a boundary between two candidates) ------------------------------------ */
static void check_argmax(int n, int ties)
{
	std::vector<float> x(n);
	for (auto &v : x) v = frand(-10, 10);
	int want = irand(n);
	x[want] = 11.f;
	if (ties && n > 2) {
		int other = irand(n);
		x[other] = 11.f;
		if (other < want) want = other;
	}
	float *dx = dalloc<float>(n);
	int *dout = dalloc<int>(1), got = -2, bad = 0;
	void *scr = dalloc<uint8_t>(KERN_ARGMAX_SCRATCH);
	CK(cudaMemset(scr, 0, KERN_ARGMAX_SCRATCH));
	up(dx, x.data(), n * 4);
	for (int rep = 0; rep < 3; rep++) { /* the scratch must be left reusable */
		poison(dout, 4);
		CK(kern_argmax(dx, n, dout, scr, NULL));
		CK(cudaDeviceSynchronize());
		down(&got, dout, 4);
		if (got != want) bad = 1;
	}
	char what[128];
	snprintf(what, sizeof what, "argmax n%d%s (3 calls)", n, ties ? " (tied max)" : "");
	report(what, bad ? 1e9 : 0, 0, bad, 1);
	cudaFree(dx); cudaFree(dout); cudaFree(scr);
}

static void check_sample(int n, int k, float p, float temp, int draws)
{
	std::vector<float> x(n);
	for (auto &v : x) v = frand(-8, 8);
	float *dx = dalloc<float>(n);
	int *dout = dalloc<int>(1);
	up(dx, x.data(), n * 4);
	/* reference candidate list */
	std::vector<int> idx(n);
	for (int i = 0; i < n; i++) idx[i] = i;
	int kk = k <= 0 || k > 1024 ? 1024 : k;
	if (kk > n) kk = n;
	std::partial_sort(idx.begin(), idx.begin() + kk, idx.end(),
	                  [&](int a, int b) { return x[a] > x[b] || (x[a] == x[b] && a < b); });
	std::vector<double> w(kk);
	double tot = 0;
	for (int i = 0; i < kk; i++) { w[i] = exp((x[idx[i]] - x[idx[0]]) / (double)temp); tot += w[i]; }
	int keep = kk;
	double cum = 0;
	for (int i = 0; i < kk; i++) {
		cum += w[i] / tot;
		if (cum >= p) { keep = i + 1; break; }
	}
	double mass = 0;
	for (int i = 0; i < keep; i++) mass += w[i];
	int bad = 0, near = 0;
	for (int d = 0; d < draws; d++) {
		float u = (float)urand();
		if (u >= 1.f) u = 0.f;
		int got = -2;
		poison(dout, 4);
		CK(kern_sample(dx, n, temp, k, p, u, dout, NULL));
		CK(cudaDeviceSynchronize());
		down(&got, dout, 4);
		double target = u * mass, acc = 0, mind = 1e300;
		int want = idx[keep - 1];
		for (int i = 0; i < keep; i++) {
			acc += w[i];
			if (fabs(acc - target) < mind) mind = fabs(acc - target);
			if (target < acc) { want = idx[i]; break; }
		}
		if (got != want) {
			if (mind <= 1e-4 * mass) near++;
			else bad = 1;
		}
	}
	char what[128];
	snprintf(what, sizeof what, "sample n%d k%d p%.2f T%.1f (%d draws, %d at a boundary)", n, k, p, temp, draws, near);
	report(what, bad, 0, bad, draws);
	cudaFree(dx); cudaFree(dout);
}

/* ---- timing ---------------------------------------------------------------------------- */
static float time_ms(void (*fn)(void *), void *arg, int reps)
{
	cudaEvent_t a, b;
	CK(cudaEventCreate(&a));
	CK(cudaEventCreate(&b));
	for (int i = 0; i < 3; i++) fn(arg);
	std::vector<float> ts;
	for (int i = 0; i < reps; i++) {
		CK(cudaEventRecord(a));
		fn(arg);
		CK(cudaEventRecord(b));
		CK(cudaEventSynchronize(b));
		float ms;
		CK(cudaEventElapsedTime(&ms, a, b));
		ts.push_back(ms);
	}
	std::sort(ts.begin(), ts.end());
	cudaEventDestroy(a);
	cudaEventDestroy(b);
	return ts[ts.size() / 2];
}

struct mv_bench { kern_mat m[4]; int nm, cur; float *x, *y; kern_mv_opts o; };
static void run_mv(void *p)
{
	mv_bench *b = (mv_bench *)p;
	/* rotate among copies so that a matrix smaller than L2 is not timed from cache */
	CK(kern_matvec(&b->m[b->cur], b->x, b->y, &b->o, NULL));
	b->cur = (b->cur + 1) % b->nm;
}

static const char *g_bench_label = "";
static void bench_matvec(int t, int rows, int cols, int swiglu, double copy_gbs)
{
	if (cols % (t == T_Q4_K || t == T_Q6_K ? 256 : 32)) return;
	mv_bench b;
	size_t bytes = row_bytes(t, cols) * rows;
	b.nm = bytes < (200u << 20) ? 4 : 1;
	std::vector<uint8_t> gg(row_bytes(t, cols) * rows);
	for (int r = 0; r < rows; r++) random_row(t, cols, gg.data() + r * row_bytes(t, cols));
	for (int i = 0; i < b.nm; i++) b.m[i] = make_mat(t, rows, cols, gg);
	b.cur = 0;
	b.x = dalloc<float>(cols);
	b.y = dalloc<float>(rows);
	std::vector<float> x(cols);
	for (auto &v : x) v = frand(-1, 1);
	up(b.x, x.data(), cols * 4);
	b.o = {NULL, 1e-6f, 0, swiglu, NULL, NULL, NULL, NULL, 0};
	float ms = time_ms(run_mv, &b, 50);
	double gbs = bytes / (ms * 1e-3) / 1e9;
	printf("time   matvec %-5s %6d x %-5d%s  %8.2f us  %7.1f GB/s  %5.1f%% of copy bw%s\n", tname(t), rows, cols,
	       swiglu ? " swiglu" : "       ", ms * 1e3, gbs, 100 * gbs / copy_gbs, g_bench_label);
	for (int i = 0; i < b.nm; i++) kern_mat_free(&b.m[i]);
	cudaFree(b.x); cudaFree(b.y);
}

/* The feed-forward of one layer, 24 times back to back (PDL between launches,
 * no graph), rotating over 4 weight copies: the two matvecs (gate/up + SwiGLU,
 * down + residual) against kern_ffn_fused in each slice mode. */
struct ffn_bench { kern_mat gu[4], wd[4]; float *x, *h, *y, *g; long long *acc; int fused; };
static void run_ffn(void *p)
{
	ffn_bench *b = (ffn_bench *)p;
	for (int i = 0; i < 24; i++) {
		int k = i & 3;
		if (b->fused) {
			CK(kern_ffn_fused(&b->gu[k], &b->wd[k], b->x, b->g, 1e-6f, b->acc, NULL, 2, NULL));
		} else {
			kern_mv_opts o1 = {b->g, 1e-6f, 0, 1, NULL, NULL, NULL, NULL, 0},
			             o2 = {NULL, 0.f, 1, 0, NULL, NULL, NULL, NULL, 0};
			CK(kern_matvec(&b->gu[k], b->x, b->h, &o1, NULL));
			CK(kern_matvec(&b->wd[k], b->h, b->y, &o2, NULL));
		}
	}
}
static void bench_ffn(int t, int cols, int n_ff)
{
	ffn_bench b;
	std::vector<uint8_t> gg(row_bytes(t, cols) * 2 * n_ff), gd(row_bytes(t, n_ff) * cols);
	for (int r = 0; r < 2 * n_ff; r++) random_row(t, cols, gg.data() + r * row_bytes(t, cols));
	for (int r = 0; r < cols; r++) random_row(t, n_ff, gd.data() + r * row_bytes(t, n_ff));
	for (int i = 0; i < 4; i++) {
		b.gu[i] = make_mat(t, 2 * n_ff, cols, gg);
		b.wd[i] = make_mat(t, cols, n_ff, gd);
	}
	b.x = dalloc<float>(cols); b.g = dalloc<float>(cols); b.y = dalloc<float>(cols); b.h = dalloc<float>(n_ff);
	b.acc = dalloc<long long>(KERN_FIX_BYTES(cols, 2) / 8);
	CK(cudaMemset(b.acc, 0, KERN_FIX_BYTES(cols, 2)));
	std::vector<float> x(cols);
	for (auto &v : x) v = frand(-1, 1);
	up(b.x, x.data(), cols * 4);
	up(b.y, x.data(), cols * 4);
	for (auto &v : x) v = frand(0.5f, 1.5f);
	up(b.g, x.data(), cols * 4);
	const char *names[] = {"two matvecs", "fused auto", "fused narrow", "fused wide"};
	for (int m = 0; m < 4; m++) {
		b.fused = m > 0;
		if (m) kern_ffn_fused_wide(m - 1);
		float ms = time_ms(run_ffn, &b, 20);
		printf("time   ffn %-5s %4d x %-5d %-13s %7.2f us per layer\n", tname(t), cols, n_ff, names[m], ms * 1e3 / 24);
	}
	kern_ffn_fused_wide(0);
	for (int i = 0; i < 4; i++) { kern_mat_free(&b.gu[i]); kern_mat_free(&b.wd[i]); }
	cudaFree(b.x); cudaFree(b.g); cudaFree(b.y); cudaFree(b.h); cudaFree(b.acc);
}

struct att_bench { const float *q; const void *kc, *vc; float *o, *scr; int *pos; int n_split; kern_attn_shape s; };
static void run_att(void *p)
{
	att_bench *a = (att_bench *)p;
	CK(kern_attention(a->q, a->kc, a->vc, a->o, a->pos, 1, a->n_split, &a->s, a->scr, NULL));
}

static void bench_attention(int H, int KVH, int D, int ctx, int n_split)
{
	att_bench a;
	a.s = {H, KVH, D, 4096 > ctx ? 4096 : ctx, 1e6f, 1, 1e-6f, NULL};
	size_t cache = (size_t)KVH * a.s.n_ctx * D;
	std::vector<uint16_t> kv(cache);
	for (auto &v : kv) v = f2h(frand(-1, 1));
	void *kc = dalloc<uint16_t>(cache), *vc = dalloc<uint16_t>(cache);
	up(kc, kv.data(), cache * 2);
	up(vc, kv.data(), cache * 2);
	a.kc = kc; a.vc = vc;
	float *q = dalloc<float>(H * D);
	std::vector<float> qh(H * D);
	for (auto &v : qh) v = frand(-1, 1);
	up(q, qh.data(), H * D * 4);
	a.q = q;
	a.o = dalloc<float>(H * D);
	a.n_split = n_split;
	a.scr = dalloc<float>(kern_attn_scratch_floats(&a.s, 1, n_split));
	int pos = ctx - 1;
	a.pos = dalloc<int>(1);
	up(a.pos, &pos, 4);
	float ms = time_ms(run_att, &a, 50);
	printf("time   attention H%d/%d D%d ctx %5d split %3d  %8.2f us  (%.1f MB of K+V)\n", H, KVH, D, ctx, n_split,
	       ms * 1e3, 2.0 * KVH * ctx * D * 2 / 1e6);
	cudaFree(kc); cudaFree(vc); cudaFree(q); cudaFree(a.o); cudaFree(a.scr); cudaFree(a.pos);
}

struct atd_bench { const float *qkv; void *kc, *vc; float *o, *scr; unsigned *cnt; int *pos; int chunk; kern_attn_shape s; };
static void run_atd(void *p)
{
	atd_bench *a = (atd_bench *)p;
	CK(kern_attn_decode(a->qkv, NULL, NULL, NULL, NULL, NULL, a->kc, a->vc, a->o, a->pos, &a->s, a->chunk, a->scr,
	                    a->cnt, NULL));
}

/* The fused decode attention's inputs for one shape at position ctx - 1 (false
 * when the shape does not fit the device). */
static bool atd_setup(atd_bench &a, int H, int KVH, int D, int ctx, int chunk)
{
	a.s = {H, KVH, D, 4096 > ctx ? 4096 : ctx, 1e6f, 1, 1e-6f, NULL};
	if (!kern_attn_dec_ok(&a.s, chunk)) return false;
	size_t cache = (size_t)KVH * a.s.n_ctx * D;
	std::vector<uint16_t> kv(cache);
	for (auto &v : kv) v = f2h(frand(-1, 1));
	a.kc = dalloc<uint16_t>(cache);
	a.vc = dalloc<uint16_t>(cache);
	up(a.kc, kv.data(), cache * 2);
	up(a.vc, kv.data(), cache * 2);
	int W = (H + 2 * KVH) * D;
	float *qkv = dalloc<float>(W);
	std::vector<float> qh(W);
	for (auto &v : qh) v = frand(-1, 1);
	up(qkv, qh.data(), W * 4);
	a.qkv = qkv;
	a.o = dalloc<float>(H * D);
	a.chunk = chunk;
	a.scr = dalloc<float>(kern_attn_dec_scratch_floats(&a.s, chunk));
	a.cnt = dalloc<unsigned>(H);
	CK(cudaMemset(a.cnt, 0, H * 4));
	int pos = ctx - 1;
	a.pos = dalloc<int>(1);
	up(a.pos, &pos, 4);
	return true;
}

static void atd_free(atd_bench &a)
{
	cudaFree(a.kc); cudaFree(a.vc); cudaFree((void *)a.qkv); cudaFree(a.o); cudaFree(a.scr); cudaFree(a.cnt);
	cudaFree(a.pos);
}

static void bench_attn_decode(int H, int KVH, int D, int ctx, int chunk)
{
	atd_bench a;
	if (!atd_setup(a, H, KVH, D, ctx, chunk)) return;
	float ms = time_ms(run_atd, &a, 50);
	printf("time   attn_decode (fused) H%d/%d D%d ctx %5d chunk %3d heads/block %d  %8.2f us  (%.1f MB of K+V)\n", H,
	       KVH, D, ctx, kern_attn_dec_chunk(&a.s, chunk), g_heads, ms * 1e3, 2.0 * KVH * ctx * D * 2 / 1e6);
	atd_free(a);
}

#ifdef VIGIL_ATD_PROF
#include "tests/gpu/atd_prof.h"
/* Phase clock of one launch (after warm-up): cycles from the block's start to
 * each stamp (see ATD_STAMP in kern_ops.cu), mean and max over the blocks that
 * reached it. */
static void prof_attn_decode(int H, int KVH, int D, int ctx)
{
	atd_bench a;
	if (!atd_setup(a, H, KVH, D, ctx, 0)) return;
	for (int i = 0; i < 3; i++) run_atd(&a);
	const int NS = KERN_ATD_NSTAMP, NB = H * (a.s.n_ctx / 32 + 1); /* >= the grid of any split */
	long long *d = dalloc<long long>((size_t)NB * NS);
	CK(cudaMemset(d, 0, (size_t)NB * NS * 8));
	CK(kern_attn_dec_prof(d));
	run_atd(&a);
	CK(cudaDeviceSynchronize());
	CK(kern_attn_dec_prof(NULL));
	std::vector<long long> h((size_t)NB * NS);
	down(h.data(), d, h.size() * 8);
	printf("prof   attn_decode H%d/%d D%d ctx %d (cycles since the block's start: mean / max, blocks)\n", H, KVH, D,
	       ctx);
	atd_prof_print(h.data(), NB, NS - 1, "prof     ");
	cudaFree(d);
	atd_free(a);
}
#endif

struct cp_bench { void *a, *b; size_t n; };
static void run_cp(void *p)
{
	cp_bench *c = (cp_bench *)p;
	CK(cudaMemcpyAsync(c->b, c->a, c->n, cudaMemcpyDeviceToDevice));
}

static double copy_bandwidth(void)
{
	cp_bench c;
	c.n = (size_t)1 << 30;
	CK(cudaMalloc(&c.a, c.n));
	CK(cudaMalloc(&c.b, c.n));
	CK(cudaMemset(c.a, 0x5a, c.n));
	float ms = time_ms(run_cp, &c, 20);
	cudaFree(c.a);
	cudaFree(c.b);
	double gbs = 2.0 * c.n / (ms * 1e-3) / 1e9; /* read + write */
	printf("time   device copy 1 GiB: %.3f ms = %.0f GB/s (bytes read + written)\n", ms, gbs);
	return gbs;
}

/* Attention shapes checked: query heads, kv heads, head dim. */
static const int ATT_SHAPES[][3] = {{14, 2, 64}, {16, 8, 128}, {4, 4, 32}, {8, 2, 256}, {12, 4, 96}};

/* The fused decode attention checks: every shape with 2 (default), 1, 3 and 8
 * query heads per block; leaves the default (2) set. */
static void attn_decode_checks(bool quick)
{
	for (int gh : {2, 1, 3, 8})
		for (auto &sh : ATT_SHAPES) {
			int H = sh[0], KVH = sh[1], D = sh[2];
			kern_attn_dec_heads(gh);
			g_heads = gh;
			check_attn_decode(H, KVH, D, 64, 0, 1, 1, 1, 0);
			check_attn_decode(H, KVH, D, 300, 37, 0, 0, 1, 0);
			check_attn_decode(H, KVH, D, 300, 299, 1, 1, 0, 64);
			check_attn_decode(H, KVH, D, 1000, 700, 1, 0, 1, 32);
			check_attn_decode(H, KVH, D, 4200, quick ? 1000 : 4100, 1, 1, 1, 0);
			if (!quick) {
				check_attn_decode(H, KVH, D, 4200, 255, 0, 1, 1, 0);
				check_attn_decode(H, KVH, D, 4200, 256, 1, 1, 1, 128);
				check_attn_decode(H, KVH, D, 4200, 2999, 1, 0, 0, 96);
			}
		}
	kern_attn_dec_heads(2);
	g_heads = 2;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "test";
	int quick = argc > 2 && strcmp(argv[2], "quick") == 0;
	const char *why = NULL;
	if (kern_device_count(&why) == 0) {
		printf("SKIP: %s\n", why ? why : "no CUDA device");
		return 77;
	}
	cudaDeviceProp prop;
	CK(cudaGetDeviceProperties(&prop, 0));
	rng_state = getenv("KSEED") ? strtoull(getenv("KSEED"), NULL, 10) : (uint64_t)time(NULL) * 2654435761u + 1;
	printf("device: %s (sm_%d%d, %d SMs, %.1f GiB); seed %llu\n", prop.name, prop.major, prop.minor,
	       prop.multiProcessorCount, prop.totalGlobalMem / 1073741824.0, (unsigned long long)rng_state);
	if (strcmp(mode, "none") == 0) return 0; /* the binary runs on this machine (tests/gpu/iter.sh PREBUILT) */
	if (strcmp(mode, "ffn") == 0) { /* the fused feed-forward against the two matvecs */
		for (int t : {T_BF16, T_Q8_0}) {
			bench_ffn(t, 896, 4864);
			bench_ffn(t, 1024, 3072);
		}
		return 0;
	}
#ifdef VIGIL_ATD_PROF
	if (strcmp(mode, "attnprof") == 0) { /* phase clock of the fused decode attention (built with -DVIGIL_ATD_PROF) */
		for (int ctx : {128, 1024, 4096}) {
			prof_attn_decode(14, 2, 64, ctx);
			prof_attn_decode(16, 8, 128, ctx);
		}
		return 0;
	}
#endif
	if (strcmp(mode, "attn") == 0) { /* decode attention: key-range count sweep */
		for (int ctx : {128, 1024, 4096})
			for (int ch : {64, 128, 256})
				for (int gh : {1, 2, 4, 8}) {
					kern_attn_dec_heads(gh);
					g_heads = gh;
					bench_attn_decode(14, 2, 64, ctx, ch);
					if (gh <= 2) bench_attn_decode(16, 8, 128, ctx, ch);
				}
		kern_attn_dec_heads(2);
		g_heads = 2;
		for (int ctx : {128, 1024, 4096})
			for (int ns : {16, 32, 48, 64, 96, 128, 132, 256}) {
				bench_attention(14, 2, 64, ctx, ns);
				bench_attention(16, 8, 128, ctx, ns);
			}
		return 0;
	}
	if (strcmp(mode, "mv") == 0) { /* matvec layouts (rows per warp, warps per row) on the layer shapes */
		double bw = copy_bandwidth();
		int shapes[][3] = {{1152, 896, 0}, {896, 896, 0}, {9728, 896, 1}, {896, 4864, 0},
		                   {4096, 1024, 0}, {1024, 2048, 0}, {6144, 1024, 1}, {1024, 3072, 0}};
		int fc[][2] = {{0, 0}, {1, 1}, {1, 2}, {1, 4}, {1, 8}, {2, 1}};
		static char lab[64];
		for (int t : {T_BF16, T_Q8_0})
			for (auto &sh : shapes)
				for (auto &f : fc) {
					kern_mv_force(f[0], f[1]);
					snprintf(lab, sizeof lab, f[0] ? "  layout %d/%d" : "  layout auto", f[0], f[1]);
					g_bench_label = lab;
					bench_matvec(t, sh[0], sh[1], sh[2], bw);
				}
		kern_mv_force(0, 0);
		return 0;
	}
	if (strcmp(mode, "barrier") == 0) { /* grid-barrier timings alone */
		for (int v = 0; v < 3; v++)
			for (int bps : {1, 2, 3}) {
				int errors = 0;
				double us = 0;
				CK(kern_barrier_test(2000, bps, v, &errors, &us));
				printf("bench  grid barrier variant %d: %d blocks/SM x %d SMs: %.3f us per barrier, %d errors\n", v, bps,
				       prop.multiProcessorCount, us, errors);
			}
		printf("copy bandwidth = %.0f GB/s\n", copy_bandwidth());
		return 0;
	}
	if (strcmp(mode, "bench") == 0) {
		double bw = copy_bandwidth();
		int tys[] = {T_BF16, T_F16, T_Q8_0, T_Q4_0, T_Q4_K, T_Q6_K};
		/* Qwen2.5-0.5B: qkv 1152x896, o 896x896, gate+up 2x4864x896, down 896x4864, head 151936x896.
		 * Qwen3-0.6B: qkv 4096x1024, o 1024x2048, gate+up 2x3072x1024, down 1024x3072, head 151936x1024. */
		int shapes[][3] = {{1152, 896, 0}, {896, 896, 0}, {9728, 896, 1}, {896, 4864, 0}, {151936, 896, 0},
		                   {4096, 1024, 0}, {1024, 2048, 0}, {6144, 1024, 1}, {1024, 3072, 0}, {151936, 1024, 0}};
		for (int t : tys)
			for (auto &sh : shapes) bench_matvec(t, sh[0], sh[1], sh[2], bw);
		for (int ctx : {128, 1024, 4096}) {
			bench_attention(14, 2, 64, ctx, 64);
			bench_attention(16, 8, 128, ctx, 64);
			bench_attn_decode(14, 2, 64, ctx, 0);
			bench_attn_decode(16, 8, 128, ctx, 0);
		}
		for (int v = 0; v < 3; v++)
			for (int bps : {1, 2}) {
				int errors = 0;
				double us = 0;
				CK(kern_barrier_test(2000, bps, v, &errors, &us));
				printf("bench  grid barrier variant %d: %d blocks/SM x %d SMs: %.3f us per barrier%s\n", v, bps,
				       prop.multiProcessorCount, us, errors ? " (ERRORS)" : "");
			}
		return 0;
	}
	/* KONLY=ffn / KONLY=attn / KONLY=mv: only the fused feed-forward / fused decode
	 * attention / matvec checks (for compute-sanitizer) */
	const bool only_ffn = getenv("KONLY") && strcmp(getenv("KONLY"), "ffn") == 0;
	const bool only_attn = getenv("KONLY") && strcmp(getenv("KONLY"), "attn") == 0;
	const bool only_mv = getenv("KONLY") && strcmp(getenv("KONLY"), "mv") == 0;
	/* matvec: every type; shapes with rows not a multiple of the warps per block,
	 * cols not a multiple of 32 chunks per warp pass, and (f16/bf16/f32) of the
	 * 16-byte load width (the scalar path). */
	for (int t : ALL_TYPES) {
		if (only_ffn || only_attn) break;
		int be = block_elems(t);
		std::vector<int> cols;
		if (be == 256) cols = {256, 768, 2816, 4864};
		else if (be == 32) cols = {32, 96, 896, 1000 / 32 * 32, 4864};
		else cols = {7, 13, 64, 896, 1003, 4864};
		for (int c : cols)
			for (int rows : {1, 37, 1157}) {
				if (quick && rows == 1157 && c > 1000) continue;
				check_matvec(t, rows, c, 0, 0, 0);
			}
		int c = be == 256 ? 1024 : 896;
		check_matvec(t, 101, c, 1, 0, 0);
		check_matvec(t, 101, c, 0, 1, 0);
		check_matvec(t, 99, c, 1, 0, 1);
		check_matvec(t, 64, c, 1, 1, 1);
		/* few, long rows: several warps per row */
		check_matvec(t, 45, be == 1 ? 4864 : 4864, 1, 0, 1);
		check_matvec(t, 7, 3072, 0, 1, 0);
		/* tall matrices take the several-rows-per-warp path */
		check_matvec(t, 8459, be == 256 ? 512 : 160, 0, 0, 0);
		check_matvec(t, 8461, be == 256 ? 256 : 96, 1, 1, 0);
		check_embed_dequant(t, 53, be == 256 ? 512 : be == 32 ? 96 : 77);
		/* every rows-per-warp / warps-per-row layout, forced */
		int fc[][2] = {{1, 1}, {1, 2}, {1, 4}, {1, 8}, {2, 1}, {4, 1}};
		static char lab[64];
		for (auto &f : fc) {
			kern_mv_force(f[0], f[1]);
			snprintf(lab, sizeof lab, " (forced %d rows/warp, %d warps/row)", f[0], f[1]);
			g_mv_label = lab;
			int cc = be == 256 ? 2816 : 896;
			check_matvec(t, 1157, cc, 1, 1, 0);
			check_matvec(t, 99, cc, 1, 0, 1);
			check_matvec(t, 333, be == 256 ? 4864 : 4864, 0, 1, 0);
		}
		kern_mv_force(0, 0);
		g_mv_label = "";
	}
	if (only_mv) {
		printf("%d passed, %d failed\n", n_pass, n_fail);
		return n_fail ? 1 : 0;
	}
	/* the fused feed-forward: every covered type, both slice widths, shapes with
	 * one block, an odd block count, rows not a multiple of the block's threads,
	 * the staging path without the register fast path (cols > 2048 for 8-element
	 * chunks), with and without a buffer to zero; types it does not cover refused */
	for (int t : ALL_TYPES) {
		int be = block_elems(t);
		if (be == 256) {
			kern_mat a = {}, d = {};
			CK(kern_mat_alloc(&a, t, 2 * 512, 256));
			CK(kern_mat_alloc(&d, t, 256, 512));
			printf("%-6s ffn fused %s refused (kern_ffn_fused_ok = %d)\n", kern_ffn_fused_ok(&a, &d) ? "FAIL" : "ok",
			       tname(t), kern_ffn_fused_ok(&a, &d));
			if (kern_ffn_fused_ok(&a, &d)) n_fail++;
			else n_pass++;
			kern_mat_free(&a);
			kern_mat_free(&d);
			continue;
		}
		static char lab[64];
		for (int mode = 0; mode < 3; mode++) { /* chosen per shape, narrow, wide */
			if (quick && mode == 0) continue;
			kern_ffn_fused_wide(mode);
			snprintf(lab, sizeof lab, "%s", mode == 0 ? " auto" : mode == 1 ? " narrow" : " wide");
			g_mv_label = lab;
			int S = 64; /* a multiple of every slice width */
			check_ffn_fused(t, 896, 4864, 1, 0);
			check_ffn_fused(t, 1024, 3072, 1, 0);
			check_ffn_fused(t, 256, S, 1, 0);
			check_ffn_fused(t, 992, 7 * S, 1, 1);
			check_ffn_fused(t, be == 32 ? 96 : 72, 3 * S, 0, 0);
			if (!quick) {
				check_ffn_fused(t, 2560, 5 * S, 1, 0);
				check_ffn_fused(t, 2048, 4 * S, 0, 1);
			}
		}
		kern_ffn_fused_wide(0);
		g_mv_label = "";
	}
	if (only_ffn) {
		printf("%d passed, %d failed\n", n_pass, n_fail);
		return n_fail ? 1 : 0;
	}
	if (only_attn) {
		attn_decode_checks(quick);
		printf("%d passed, %d failed\n", n_pass, n_fail);
		return n_fail ? 1 : 0;
	}
	check_norm_swiglu(1, 896);
	check_norm_swiglu(7, 1000);
	check_norm_swiglu(3, 4861);
	for (auto &sh : ATT_SHAPES) {
		for (int neox : {0, 1})
			for (int qkn : {0, 1}) check_qkv_post(sh[0], sh[1], sh[2], 4200, 3, irand(4000), neox, qkn, 1, 1e6f);
		check_qkv_post(sh[0], sh[1], sh[2], 64, 1, 0, 1, 0, 0, 10000.f);
		check_qkv_post(sh[0], sh[1], sh[2], 300, 17, 283, 1, 1, 0, 10000.f);
	}
	for (auto &sh : ATT_SHAPES) {
		int H = sh[0], KVH = sh[1], D = sh[2];
		check_attention(H, KVH, D, 64, 1, 0, 1);
		check_attention(H, KVH, D, 100, 1, 37, 7);
		check_attention(H, KVH, D, 300, 5, 290, kern_attn_min_split(300));
		/* prefill tiles: from position 0 (3 tiles, the last partial), and a later chunk */
		check_attention(H, KVH, D, 600, 70, 0, kern_attn_min_split(600));
		check_attention(H, KVH, D, 600, 40, 513, kern_attn_min_split(600));
		if (!quick) {
			check_attention(H, KVH, D, 4096, 1, 4095, 64);
			check_attention(H, KVH, D, 4096, 1, 127, 64);
			check_attention(H, KVH, D, 1000, 33, 900, kern_attn_min_split(1000));
		}
	}
	attn_decode_checks(quick);
	check_attn_decode(32, 2, 64, 2000, 1500, 1, 1, 1, 0); /* 16 query heads per kv head */
	kern_attn_dec_heads(16);
	g_heads = 16;
	check_attn_decode(32, 2, 64, 2000, 1500, 1, 1, 1, 0);
	kern_attn_dec_heads(2);
	g_heads = 2;
	for (int n : {1, 2, 1000, 151936}) {
		check_argmax(n, 0);
		check_argmax(n, 1);
	}
	for (int n : {1000, 151936}) {
		check_sample(n, 1, 1.f, 1.f, 5);
		check_sample(n, 40, 0.9f, 0.7f, quick ? 10 : 50);
		check_sample(n, 0, 0.95f, 1.0f, quick ? 10 : 50);
		check_sample(n, 1024, 1.0f, 1.5f, quick ? 10 : 50);
		check_sample(n, 7, 0.5f, 0.8f, 20);
	}
	/* the persistent decode kernel's grid barrier: after barrier i every block
	 * sees every other block's phase-i write; three launches (the counter
	 * carries over between launches) */
	for (int v = 0; v < 3; v++)
		for (int bps : {1, 2, 3}) {
			int errors = -1;
			double us = 0;
			CK(kern_barrier_test(quick ? 200 : 3000, bps, v, &errors, &us));
			char what[80];
			snprintf(what, sizeof what, "grid barrier v%d, %d blocks/SM, blocks seeing stale phases", v, bps);
			report(what, (double)errors, 0, errors != 0, 1);
		}
	printf("%d passed, %d failed\n", n_pass, n_fail);
	return n_fail ? 1 : 0;
}
