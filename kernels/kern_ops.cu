/* kernels/kern_ops.cu — CUDA kernels for the llama/qwen2/qwen3 forward pass:
 * quantized matrix-vector products for decode, embedding, RMSNorm, RoPE with
 * QK-norm and the F16 KV cache write, split-K attention, SwiGLU, dequantization
 * for prefill GEMMs, and on-device argmax / top-k / top-p sampling.
 *
 * CPU references and checkers for every kernel: tests/gpu/check_kernels.cu.
 * Launchers: kernels/kern.h.  Nothing here prints or exits. */
#include "kernels/kern.h"

#include <cuda_runtime.h>
#include <cuda_fp16.h>
#include <cuda_bf16.h>
#include <stdlib.h>
#include <string.h>

enum { T_F32 = 0, T_F16 = 1, T_Q4_0 = 2, T_Q4_1 = 3, T_Q5_0 = 6, T_Q8_0 = 8, T_Q4_K = 12, T_Q6_K = 14,
       T_BF16 = 30 };

#define KCHECK(call) do { cudaError_t e_ = (call); if (e_ != cudaSuccess) return (int)e_; } while (0)
#define KLAUNCHED() do { cudaError_t e_ = cudaGetLastError(); if (e_ != cudaSuccess) return (int)e_; } while (0)

static inline cudaStream_t as_stream(void *s) { return (cudaStream_t)s; }

/* ---- programmatic dependent launch (Hopper) -------------------------------------------
 * Every kernel here is launched with programmatic stream serialisation where the
 * device supports it (sm_90+; VIGIL_CUDA_NO_PDL=1 turns it off): a kernel may
 * start while its predecessor finishes.  The rule each kernel keeps: before
 * pdl_wait() it reads nothing but constant weights and writes nothing; after
 * it, everything its predecessors wrote is visible (wait returns only once the
 * whole preceding grid has completed).  pdl_trigger() at entry lets the next
 * kernel launch as soon as all of this one's blocks are running. */
__device__ __forceinline__ void pdl_trigger()
{
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
	asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}
__device__ __forceinline__ void pdl_wait()
{
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
	asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}
#define PDL_ENTER() do { pdl_trigger(); pdl_wait(); } while (0)

static int g_pdl = -1;
static int use_pdl(void)
{
	if (g_pdl < 0) {
		int dev = 0, major = 0;
		const char *off = getenv("VIGIL_CUDA_NO_PDL");
		g_pdl = cudaGetDevice(&dev) == cudaSuccess &&
		        cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev) == cudaSuccess &&
		        major >= 9 && !(off && *off && strcmp(off, "0") != 0);
	}
	return g_pdl;
}

/* Shared-memory carveout (percent) asked for every kernel launched here, so
 * that consecutive kernels of the decode graph do not make an SM change its
 * L1/shared split (which waits for the SM to drain and defeats the early
 * launch): VIGIL_CUDA_CARVEOUT (default 100, the most shared memory; -1: the
 * driver's choice). */
static int carveout(const void *k)
{
	static int pct = -2;
	static const void *done[128];
	static int ndone = 0;
	if (pct == -2) {
		const char *e = getenv("VIGIL_CUDA_CARVEOUT");
		pct = e && *e ? atoi(e) : 100;
		if (pct > 100) pct = 100;
	}
	if (pct < 0) return 0;
	for (int i = 0; i < ndone; i++)
		if (done[i] == k) return 0;
	cudaError_t e = cudaFuncSetAttribute(k, cudaFuncAttributePreferredSharedMemoryCarveout, pct);
	if (e != cudaSuccess) return (int)e;
	if (ndone < 128) done[ndone++] = k;
	return 0;
}

template <typename... KArgs, typename... Args>
static int launch(void (*k)(KArgs...), dim3 grid, dim3 block, size_t smem, cudaStream_t st, Args... args)
{
	int ce = carveout((const void *)k);
	if (ce) return ce;
	cudaLaunchConfig_t cfg = {};
	cfg.gridDim = grid;
	cfg.blockDim = block;
	cfg.dynamicSmemBytes = smem;
	cfg.stream = st;
	cudaLaunchAttribute at[1] = {};
	at[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
	at[0].val.programmaticStreamSerializationAllowed = 1;
	cfg.attrs = at;
	cfg.numAttrs = use_pdl() ? 1 : 0;
	cudaError_t e = cudaLaunchKernelEx(&cfg, k, ((KArgs)args)...);
	if (e == cudaSuccess) e = cudaGetLastError();
	return (int)e;
}
#define KLAUNCH(...) do { int e_ = launch(__VA_ARGS__); if (e_) return e_; } while (0)

/* ---- small helpers ----------------------------------------------------------- */

__device__ __forceinline__ float warp_sum(float v)
{
	for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
	return v;
}
__device__ __forceinline__ float warp_max(float v)
{
	for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
	return v;
}
/* Sum over the block (blockDim.x a multiple of 32, <= 1024); all threads get it. */
__device__ float block_sum(float v, float *red /* [32] */)
{
	int lane = threadIdx.x & 31, w = threadIdx.x >> 5, nw = blockDim.x >> 5;
	v = warp_sum(v);
	__syncthreads();
	if (lane == 0) red[w] = v;
	__syncthreads();
	v = lane < nw ? red[lane] : 0.f;
	return warp_sum(v);
}
__device__ __forceinline__ float bf16_lo(uint32_t u) { return __uint_as_float(u << 16); }
__device__ __forceinline__ float bf16_hi(uint32_t u) { return __uint_as_float(u & 0xffff0000u); }
__device__ __forceinline__ float h2f(uint16_t h) { return __half2float(__ushort_as_half(h)); }
__device__ __forceinline__ float silu(float x) { return x / (1.f + expf(-x)); }
__device__ __forceinline__ float dot4(float4 a, float4 b)
{
	return a.x * b.x + a.y * b.y + a.z * b.z + a.w * b.w;
}

/* 16-byte asynchronous copy global -> shared (L2 only), and its groups. */
__device__ __forceinline__ void cp_async16(void *dst, const void *src)
{
	unsigned d = (unsigned)__cvta_generic_to_shared(dst);
	asm volatile("cp.async.cg.shared.global [%0], [%1], 16;" ::"r"(d), "l"(src) : "memory");
}
/* The same at L2's evict-first priority, for rows read once a token (the
 * decode attention's K and V, 16.8 MB a layer for Qwen3-0.6B at 4096 keys).
 * With ldw_stream's weights, on an H200 at 4096 keys (bench/RESULTS.md,
 * session 22, U4): Qwen3-0.6B bf16 0.822 ms/token against 0.828 with the
 * weights' hint alone and 0.843 without either, q8_0 0.754 against 0.762. */
__device__ __forceinline__ unsigned long long l2_evict_first()
{
	unsigned long long pol;
	asm("createpolicy.fractional.L2::evict_first.b64 %0, 1.0;" : "=l"(pol));
	return pol;
}
__device__ __forceinline__ void cp_async16_stream(void *dst, const void *src)
{
	unsigned d = (unsigned)__cvta_generic_to_shared(dst);
	asm volatile("cp.async.cg.shared.global.L2::cache_hint [%0], [%1], 16, %2;" ::"r"(d), "l"(src), "l"(l2_evict_first())
	             : "memory");
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;" ::: "memory"); }
__device__ __forceinline__ void cp_async_wait1() { asm volatile("cp.async.wait_group 1;" ::: "memory"); }
__device__ __forceinline__ void cp_async_wait_all() { asm volatile("cp.async.wait_all;" ::: "memory"); }

/* Q4_K: 6-bit scale and min of sub-block i (0..7) from the 12 packed bytes. */
__device__ __forceinline__ void q4k_scale_min(const uint8_t *sc, int i, int *s, int *m)
{
	if (i < 4) {
		*s = sc[i] & 63;
		*m = sc[i + 4] & 63;
	} else {
		*s = (sc[i + 4] & 15) | ((sc[i - 4] >> 6) << 4);
		*m = (sc[i + 4] >> 4) | ((sc[i] >> 6) << 4);
	}
}

/* The same from the block header held in registers (bytes 4..15 = scales). */
__device__ __forceinline__ int q4k_byte(uint4 h, int i)
{
	int b = i + 4;
	uint32_t w = b < 8 ? h.y : (b < 12 ? h.z : h.w);
	return (int)((w >> (8 * (b & 3))) & 255u);
}
__device__ __forceinline__ void q4k_scale_min_w(uint4 h, int i, int *s, int *m)
{
	if (i < 4) {
		*s = q4k_byte(h, i) & 63;
		*m = q4k_byte(h, i + 4) & 63;
	} else {
		*s = (q4k_byte(h, i + 4) & 15) | ((q4k_byte(h, i - 4) >> 6) << 4);
		*m = (q4k_byte(h, i + 4) >> 4) | ((q4k_byte(h, i) >> 6) << 4);
	}
}

/* One element of row r, column e of W (any type): embedding and fallbacks. */
__device__ float deq_elem(int type, const void *q, const void *s, int cols, int r, int e)
{
	size_t idx = (size_t)r * cols + e;
	switch (type) {
	case T_F32: return ((const float *)q)[idx];
	case T_F16: return h2f(((const uint16_t *)q)[idx]);
	case T_BF16: return __uint_as_float((uint32_t)((const uint16_t *)q)[idx] << 16);
	case T_Q8_0: return h2f(((const uint16_t *)s)[idx / 32]) * (float)((const int8_t *)q)[idx];
	case T_Q4_0:
	case T_Q4_1: {
		size_t b = idx / 32;
		int j = (int)(idx % 32);
		uint8_t byte = ((const uint8_t *)q)[b * 16 + (j & 15)];
		int nib = j < 16 ? (byte & 15) : (byte >> 4);
		if (type == T_Q4_0) return h2f(((const uint16_t *)s)[b]) * (float)(nib - 8);
		const uint16_t *dm = (const uint16_t *)s + 2 * b;
		return h2f(dm[0]) * (float)nib + h2f(dm[1]);
	}
	case T_Q5_0: {
		size_t b = idx / 32;
		int j = (int)(idx % 32);
		uint8_t byte = ((const uint8_t *)q)[b * 16 + (j & 15)];
		int nib = j < 16 ? (byte & 15) : (byte >> 4);
		const uint8_t *sb = (const uint8_t *)s + b * 8;
		uint32_t qh = *(const uint32_t *)(sb + 4);
		return h2f(*(const uint16_t *)sb) * (float)((nib | (int)(((qh >> j) & 1u) << 4)) - 16);
	}
	case T_Q4_K: {
		const uint8_t *blk = (const uint8_t *)q + ((size_t)r * (cols / 256) + e / 256) * 144;
		int j = e % 256, sub = j / 32, l = j % 32;
		int chunk = j / 64, hi = (j % 64) >= 32;
		uint8_t byte = blk[16 + chunk * 32 + l];
		int nib = hi ? (byte >> 4) : (byte & 15);
		int sc, mn;
		q4k_scale_min(blk + 4, sub, &sc, &mn);
		float d = h2f(*(const uint16_t *)blk), dmin = h2f(*(const uint16_t *)(blk + 2));
		return d * (float)sc * (float)nib - dmin * (float)mn;
	}
	case T_Q6_K: { /* q6k_repack's 16-byte records */
		size_t b = (size_t)r * (cols / 256) + e / 256;
		int j = e % 256, half = j / 128, jj = j % 128, quarter = jj / 32, l = jj % 32;
		const uint8_t *rec = (const uint8_t *)q + (b * 16 + half * 8 + l / 4) * 16;
		uint8_t lb = rec[(quarter & 1) * 4 + l % 4];
		int lo = quarter < 2 ? (lb & 15) : (lb >> 4);
		int h = (rec[8 + l % 4] >> (2 * quarter)) & 3;
		int v = (lo | (h << 4)) - 32;
		return h2f(((const uint16_t *)s)[b]) * (float)(int8_t)rec[12 + quarter] * (float)v;
	}
	default: return 0.f;
	}
}

/* ---- matrix-vector ------------------------------------------------------------------
 * One warp per output row (two rows for SwiGLU), rows strided over a grid of a
 * few blocks per SM.  A row is cut into "chunks": the elements one lane reads
 * with one 16-byte load (F32 4, F16/BF16 8, Q8_0 16, Q4_0/Q4_1/Q4_K 32, Q6_K
 * 16, and its block's d).  Lane l takes chunks l, l+32, ...  The input vector
 * (normalised first when asked) is staged in shared memory, permuted so that
 * the k-th float4 of the chunk of lane l sits at [(g*P + k)*32 + l] (g = chunk
 * / 32): the warp's float4 reads are consecutive, free of bank conflicts. */

template <int T> struct MvT;
template <> struct MvT<T_F32> { enum { E = 4 }; };
template <> struct MvT<T_F16> { enum { E = 8 }; };
template <> struct MvT<T_BF16> { enum { E = 8 }; };
template <> struct MvT<T_Q8_0> { enum { E = 16 }; };
template <> struct MvT<T_Q4_0> { enum { E = 32 }; };
template <> struct MvT<T_Q4_1> { enum { E = 32 }; };
template <> struct MvT<T_Q5_0> { enum { E = 32 }; };
template <> struct MvT<T_Q4_K> { enum { E = 32 }; };
template <> struct MvT<T_Q6_K> { enum { E = 16 }; };

/* Logical float4 index (into x) of the k-th float4 of chunk c. */
template <int T> __device__ __forceinline__ int x4_index(int c, int k)
{
	if (T == T_Q4_K) {
		int b = c >> 3, cc = c & 7, j = cc >> 1, l0 = (cc & 1) * 16;
		int e = b * 256 + j * 64 + (k >= 4 ? 32 : 0) + l0 + 4 * (k & 3);
		return e >> 2;
	} else if (T == T_Q6_K) { /* chunk c = record c of its row: 4 values of each quarter */
		int b = c >> 4, t = c & 15;
		return (b * 256 + (t >> 3) * 128 + k * 32 + 4 * (t & 7)) >> 2;
	} else {
		return c * (MvT<T>::E / 4) + k;
	}
}

/* A chunk's raw bytes in registers (load_chunk), then its dot product with the
 * staged x (dot_chunk): the kernel issues a whole batch of loads before using
 * any, so that many are in flight per lane. */
struct WRaw {
	uint4 a, b;
};

/* Weight loads: through the read-only cache, or (SM) from shared memory. */
template <bool SM, typename V> __device__ __forceinline__ V ldw(const V *p)
{
	if (SM) return *p;
	return __ldg(p);
}

/* 16 bytes of the wide weight types (4-byte and 2-byte floats, Q8_0) at L2's
 * evict-first priority: each is read once a token and would otherwise push
 * out of L2 what the next kernels read again (their code, activations, the
 * attention's partials).  On an H200 (bench/RESULTS.md, session 22, U4),
 * ms/token at 128 / 4096: Qwen3-0.6B bf16 0.660 / 0.828 against 0.666 /
 * 0.843, q8_0 0.575 / 0.761 against 0.586 / 0.762, Qwen2.5-0.5B q8_0 0.469 /
 * 0.571 against 0.476 / 0.573.  With the hint on every 16-byte weight load
 * (U2) Q4_0 and Q4_K models were 3-9 us slower, so those keep plain loads. */
template <bool SM> __device__ __forceinline__ uint4 ldw_stream(const uint4 *p)
{
	if (SM) return *p;
	uint4 v;
	asm("ld.global.nc.L1::no_allocate.L2::cache_hint.v4.u32 {%0,%1,%2,%3}, [%4], %5;"
	    : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
	    : "l"(p), "l"(l2_evict_first()));
	return v;
}

template <int T, bool SM = false>
__device__ __forceinline__ WRaw load_chunk(const uint8_t *__restrict__ q, const uint8_t *__restrict__ s, int cols,
                                           int r, int c)
{
	WRaw w;
	w.b = make_uint4(0u, 0u, 0u, 0u);
	if (T == T_F32) {
		w.a = ldw_stream<SM>((const uint4 *)(q + ((size_t)r * cols + (size_t)c * 4) * 4));
	} else if (T == T_BF16 || T == T_F16) {
		w.a = ldw_stream<SM>((const uint4 *)(q + ((size_t)r * cols + (size_t)c * 8) * 2));
	} else if (T == T_Q8_0) {
		size_t e0 = (size_t)r * cols + (size_t)c * 16;
		w.a = ldw_stream<SM>((const uint4 *)(q + e0));
		w.b.x = ldw<SM>((const unsigned short *)s + e0 / 32);
	} else if (T == T_Q4_0 || T == T_Q4_1) {
		size_t b = (size_t)r * (cols / 32) + c;
		w.a = ldw<SM>((const uint4 *)(q + b * 16));
		w.b.x = T == T_Q4_0 ? (uint32_t)ldw<SM>((const unsigned short *)s + b) : ldw<SM>((const unsigned int *)s + b);
	} else if (T == T_Q5_0) {
		size_t b = (size_t)r * (cols / 32) + c;
		w.a = ldw<SM>((const uint4 *)(q + b * 16));
		uint2 dh = ldw<SM>((const uint2 *)s + b); /* d (low half of .x), qh (.y) */
		w.b.x = dh.x;
		w.b.y = dh.y;
	} else if (T == T_Q4_K) {
		int nb = cols / 256, bi = c >> 3, cc = c & 7;
		const uint8_t *blk = q + ((size_t)r * nb + bi) * 144;
		w.a = ldw<SM>((const uint4 *)blk);
		w.b = ldw<SM>((const uint4 *)(blk + 16 + cc * 16));
	} else { /* Q6_K: chunk c is record c of the row (q6k_repack), 16 values; d beside */
		size_t rec = (size_t)r * (cols / 256) * 16 + c;
		w.a = ldw<SM>((const uint4 *)q + rec);
		w.b.x = ldw<SM>((const unsigned short *)s + (rec >> 4));
	}
	return w;
}

/* Q6_K (a load_chunk record): quarter k's 4 values, 6-bit q - 32 as signed bytes.  The
 * low 4 bits come from ql (w.a.x: quarters 0 and 2, w.a.y: 1 and 3), the high 2 from
 * qh (w.a.z). */
__device__ __forceinline__ uint32_t q6k_quarter(const WRaw &w, int k)
{
	uint32_t v = (((k & 1) ? w.a.y : w.a.x) >> (k >= 2 ? 4 : 0)) & 0x0f0f0f0fu;
	v |= ((w.a.z >> (2 * k)) & 0x03030303u) << 4;
	return ((v | 0x80808080u) - 0x20202020u) ^ 0x80808080u; /* each byte v - 32, no borrow between bytes */
}

/* XS: float4 stride between the k-th float4s of a chunk in xp (32: the lane-permuted
 * staging of the matvec; 1: a plain vector) */
template <int T, int XS = 32>
__device__ __forceinline__ float dot_chunk(const WRaw &w, int c, const float4 *xp)
{
	if (T == T_F32) {
		float4 f = make_float4(__uint_as_float(w.a.x), __uint_as_float(w.a.y), __uint_as_float(w.a.z),
		                       __uint_as_float(w.a.w));
		return dot4(f, xp[0]);
	} else if (T == T_BF16 || T == T_F16) {
		float4 a = xp[0], b = xp[XS];
		if (T == T_BF16)
			return bf16_lo(w.a.x) * a.x + bf16_hi(w.a.x) * a.y + bf16_lo(w.a.y) * a.z + bf16_hi(w.a.y) * a.w
			     + bf16_lo(w.a.z) * b.x + bf16_hi(w.a.z) * b.y + bf16_lo(w.a.w) * b.z + bf16_hi(w.a.w) * b.w;
		float2 f0 = __half22float2(*(const __half2 *)&w.a.x), f1 = __half22float2(*(const __half2 *)&w.a.y);
		float2 f2 = __half22float2(*(const __half2 *)&w.a.z), f3 = __half22float2(*(const __half2 *)&w.a.w);
		return f0.x * a.x + f0.y * a.y + f1.x * a.z + f1.y * a.w
		     + f2.x * b.x + f2.y * b.y + f3.x * b.z + f3.y * b.w;
	} else if (T == T_Q8_0) {
		uint32_t ws[4] = {w.a.x, w.a.y, w.a.z, w.a.w};
		float acc = 0.f;
#pragma unroll
		for (int k = 0; k < 4; k++) {
			float4 x = xp[k * XS];
			uint32_t u = ws[k];
			acc += (float)(int8_t)(u & 0xff) * x.x + (float)(int8_t)((u >> 8) & 0xff) * x.y
			     + (float)(int8_t)((u >> 16) & 0xff) * x.z + (float)(int8_t)(u >> 24) * x.w;
		}
		return h2f((uint16_t)w.b.x) * acc;
	} else if (T == T_Q5_0) {
		uint32_t ws[4] = {w.a.x, w.a.y, w.a.z, w.a.w}, h = w.b.y;
		float lo = 0.f, hi = 0.f, hs = 0.f, xsum = 0.f;
#pragma unroll
		for (int k = 0; k < 4; k++) {
			float4 xl = xp[k * XS], xh = xp[(k + 4) * XS];
			uint32_t u = ws[k], hl = h >> (4 * k), hh = h >> (16 + 4 * k);
			lo += (float)(u & 15) * xl.x + (float)((u >> 8) & 15) * xl.y
			    + (float)((u >> 16) & 15) * xl.z + (float)((u >> 24) & 15) * xl.w;
			hi += (float)((u >> 4) & 15) * xh.x + (float)((u >> 12) & 15) * xh.y
			    + (float)((u >> 20) & 15) * xh.z + (float)((u >> 28) & 15) * xh.w;
			hs += (float)(hl & 1) * xl.x + (float)((hl >> 1) & 1) * xl.y + (float)((hl >> 2) & 1) * xl.z
			    + (float)((hl >> 3) & 1) * xl.w + (float)(hh & 1) * xh.x + (float)((hh >> 1) & 1) * xh.y
			    + (float)((hh >> 2) & 1) * xh.z + (float)((hh >> 3) & 1) * xh.w;
			xsum += xl.x + xl.y + xl.z + xl.w + xh.x + xh.y + xh.z + xh.w;
		}
		return h2f((uint16_t)(w.b.x & 0xffff)) * (lo + hi + 16.f * hs - 16.f * xsum);
	} else if (T == T_Q4_0 || T == T_Q4_1 || T == T_Q4_K) {
		const uint4 qv = T == T_Q4_K ? w.b : w.a;
		uint32_t ws[4] = {qv.x, qv.y, qv.z, qv.w};
		float lo = 0.f, hi = 0.f, xl_sum = 0.f, xh_sum = 0.f;
#pragma unroll
		for (int k = 0; k < 4; k++) {
			float4 xl = xp[k * XS], xh = xp[(k + 4) * XS];
			uint32_t u = ws[k];
			lo += (float)(u & 15) * xl.x + (float)((u >> 8) & 15) * xl.y
			    + (float)((u >> 16) & 15) * xl.z + (float)((u >> 24) & 15) * xl.w;
			hi += (float)((u >> 4) & 15) * xh.x + (float)((u >> 12) & 15) * xh.y
			    + (float)((u >> 20) & 15) * xh.z + (float)((u >> 28) & 15) * xh.w;
			xl_sum += xl.x + xl.y + xl.z + xl.w;
			xh_sum += xh.x + xh.y + xh.z + xh.w;
		}
		if (T == T_Q4_0) return h2f((uint16_t)w.b.x) * (lo + hi - 8.f * (xl_sum + xh_sum));
		if (T == T_Q4_1)
			return h2f((uint16_t)(w.b.x & 0xffff)) * (lo + hi) + h2f((uint16_t)(w.b.x >> 16)) * (xl_sum + xh_sum);
		int j = (c & 7) >> 1, s1, m1, s2, m2;
		q4k_scale_min_w(w.a, 2 * j, &s1, &m1);
		q4k_scale_min_w(w.a, 2 * j + 1, &s2, &m2);
		float d = h2f((uint16_t)(w.a.x & 0xffff)), dmin = h2f((uint16_t)(w.a.x >> 16));
		return d * ((float)s1 * lo + (float)s2 * hi) - dmin * ((float)m1 * xl_sum + (float)m2 * xh_sum);
	} else { /* Q6_K */
		float acc = 0.f;
#pragma unroll
		for (int k = 0; k < 4; k++) {
			uint32_t v = q6k_quarter(w, k);
			float4 x = xp[k * XS];
			acc += (float)(int8_t)(w.a.w >> (8 * k)) *
			       ((float)(int8_t)v * x.x + (float)(int8_t)(v >> 8) * x.y + (float)(int8_t)(v >> 16) * x.z +
			        (float)(int8_t)(v >> 24) * x.w);
		}
		return h2f((uint16_t)w.b.x) * acc;
	}
}

/* Order-preserving map of a float to uint32 (larger float -> larger key); NaN -> 0. */
__device__ __forceinline__ uint32_t fkey(float f)
{
	if (f != f) return 0u;
	uint32_t u = __float_as_uint(f);
	return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}
/* An argmax candidate: (key << 32 | ~index), so that the larger value wins and
 * then the lower index; 0 (NaN) never wins. */
__device__ __forceinline__ uint64_t am_key(float v, int i)
{
	return v != v ? 0ull : ((uint64_t)fkey(v) << 32) | (uint32_t)(~(uint32_t)i);
}
/* The block's best candidate b (every thread passes its own) into scratch
 * best / count (KERN_ARGMAX_SCRATCH, zeroed); the last block to finish writes
 * the index to *out (-1: every value NaN) and zeroes the scratch again.
 * Called by all threads of the block. */
__device__ void am_block_finish(uint64_t b, int *out, unsigned long long *best, unsigned *count)
{
	__shared__ uint64_t wbest[32];
	for (int o = 16; o > 0; o >>= 1) {
		uint64_t other = __shfl_xor_sync(0xffffffffu, b, o);
		if (other > b) b = other;
	}
	int lane = threadIdx.x & 31, w = threadIdx.x >> 5;
	if (lane == 0) wbest[w] = b;
	__syncthreads();
	if (w == 0) {
		b = lane < (int)(blockDim.x >> 5) ? wbest[lane] : 0;
		for (int o = 16; o > 0; o >>= 1) {
			uint64_t other = __shfl_xor_sync(0xffffffffu, b, o);
			if (other > b) b = other;
		}
		if (lane == 0) {
			if (b) atomicMax(best, (unsigned long long)b);
			__threadfence();
			unsigned done = atomicAdd(count, 1u);
			if (done == gridDim.x - 1) {
				unsigned long long r = atomicExch(best, 0ull);
				*out = r == 0 ? -1 : (int)(~(uint32_t)(r & 0xffffffffu));
				*count = 0;
			}
		}
	}
}

#define MV_WARPS 8
#define MV_NS 2 /* slots of x per thread staged from registers (the normalised path) */
/* Blocks per SM the register budget is cut for: 3 with one row per warp where
 * that does not spill (the 4- and 6-bit K/Q4_1/Q5_0 SwiGLU kernels would). */
#define MV_MINB(T, R) ((R) == 1 && ((T) == T_F32 || (T) == T_F16 || (T) == T_BF16 || (T) == T_Q8_0 || (T) == T_Q4_0) ? 3 : 2)

/* x staged for the matvec's dot products: slot sl = g*P*32 + k*32 + ln of xs holds
 * float4 k of chunk g*32 + ln (x4_index), multiplied by the RMSNorm scale and gain
 * when norm is given.  fast: every slot fits MV_NS per thread, and the gains were
 * loaded into gv (stage_gain, before the PDL wait: they are constant).  fast and
 * late: xs holds x times the gains only, and each warp's sum of squares goes to
 * red[warp]; the caller takes the scale from red after its barrier (mv_late_rs)
 * and applies it to the dot products (one barrier and round less before them:
 * 4-10 us a token on an H200, bench/RESULTS.md E2).  Called by all nthr threads
 * of the block (tid = this one); the caller syncs after it. */
template <int T>
__device__ __forceinline__ void stage_gain(float4 (&gv)[MV_NS], const float4 *g4, int nslot, int C, int tid, int nthr)
{
	const int P = MvT<T>::E / 4;
#pragma unroll
	for (int j = 0; j < MV_NS; j++) {
		int sl = tid + j * nthr, g = sl / (P * 32), rem = sl % (P * 32), c = g * 32 + rem % 32;
		gv[j] = sl < nslot && c < C ? g4[x4_index<T>(c, rem / 32)] : make_float4(0.f, 0.f, 0.f, 0.f);
	}
}

/* x + f 2^-32: a residual element and its fixed-point part (kern_ffn_fused's
 * accumulator), rounded once to float; the same bits whoever reads it. */
__device__ __forceinline__ float fix_add(float x, long long f)
{
	return __double2float_rn(fma((double)f, 1.0 / KERN_FIX_SCALE, (double)x));
}
/* Element i of a fixed-point accumulator of NC copies (1 or KERN_FIX_MAX_COPIES = 2),
 * fs elements apart (kern_fix_stride of the vector's length): their sum.  NC is a
 * template parameter: as a run-time count the loads of the other copies cost the
 * matvecs reading it 6-17 us a token even where there was one (session 15, M6). */
template <int NC> __device__ __forceinline__ long long fix_sum(const long long *fix, int i, int fs)
{
	long long v = fix[i];
	if (NC > 1) v += fix[fs + i];
	return v;
}
/* x[i], plus its fixed-point part with FIX copies (0: none) */
template <int FIX> __device__ __forceinline__ float ld_fix(const float *x, const long long *fix, int i, int fs)
{
	return FIX ? fix_add(x[i], fix_sum<FIX>(fix, i, fs)) : x[i];
}
/* the same, where the copies (nc; fix NULL: none) are known only at run time */
__device__ __forceinline__ float ld_fix_rt(const float *x, const long long *fix, int i, int fs, int nc)
{
	return !fix ? x[i] : nc > 1 ? ld_fix<2>(x, fix, i, fs) : ld_fix<1>(x, fix, i, fs);
}
template <int FIX>
__device__ __forceinline__ float4 ld_x4f(const float4 *x4, const long long *fix, int i4, int fs)
{
	float4 v = x4[i4];
	if (FIX) {
		const longlong2 *f2 = (const longlong2 *)fix;
		longlong2 a = f2[2 * i4], b = f2[2 * i4 + 1];
		if (FIX > 1) { /* fs is even: the second copy is 16-byte aligned too */
			longlong2 a2 = f2[fs / 2 + 2 * i4], b2 = f2[fs / 2 + 2 * i4 + 1];
			a.x += a2.x; a.y += a2.y; b.x += b2.x; b.y += b2.y;
		}
		v = make_float4(fix_add(v.x, a.x), fix_add(v.y, a.y), fix_add(v.z, b.x), fix_add(v.w, b.y));
	}
	return v;
}

/* x (plus fix, its fixed-point part, with FIX) into shared memory in the layout
 * of dot_chunk<T>, normalised when norm is given.  FIX is a template parameter so
 * that the loads of the unrolled loops stay one batch without it. */
template <int T, int FIX = 0>
__device__ __forceinline__ void stage_x(float4 *xs, const float4 *x4, const long long *fix, const float4 *g4,
                                        const float *x, const float *norm, float eps, int cols, int nslot, int C,
                                        bool fast, const float4 (&gv)[MV_NS], float *red, int tid, int nthr,
                                        bool late = false)
{
	const int P = MvT<T>::E / 4, fs = kern_fix_stride(cols);
	float rs = 1.f;
	if (fast && late) { /* x times the gains only; each warp's sum of squares to red[warp] (mv_late_rs).
		 * Its own loop, storing as it loads: sharing the fast path's load loop
		 * (xv[] kept to the end) made ptxas spill in two matvec variants. */
		float ss = 0.f;
#pragma unroll
		for (int j = 0; j < MV_NS; j++) {
			int sl = tid + j * nthr, g = sl / (P * 32), rem = sl % (P * 32), c = g * 32 + rem % 32;
			float4 v = sl < nslot && c < C ? ld_x4f<FIX>(x4, fix, x4_index<T>(c, rem / 32), fs) : make_float4(0.f, 0.f, 0.f, 0.f);
			ss += v.x * v.x + v.y * v.y + v.z * v.z + v.w * v.w;
			if (sl < nslot) xs[sl] = make_float4(v.x * gv[j].x, v.y * gv[j].y, v.z * gv[j].z, v.w * gv[j].w);
		}
		ss = warp_sum(ss);
		if ((tid & 31) == 0) red[tid >> 5] = ss;
		return;
	}
	if (fast) {
		float4 xv[MV_NS];
		float ss = 0.f;
#pragma unroll
		for (int j = 0; j < MV_NS; j++) {
			int sl = tid + j * nthr, g = sl / (P * 32), rem = sl % (P * 32), c = g * 32 + rem % 32;
			xv[j] = sl < nslot && c < C ? ld_x4f<FIX>(x4, fix, x4_index<T>(c, rem / 32), fs) : make_float4(0.f, 0.f, 0.f, 0.f);
			ss += xv[j].x * xv[j].x + xv[j].y * xv[j].y + xv[j].z * xv[j].z + xv[j].w * xv[j].w;
		}
		ss = block_sum(ss, red);
		rs = rsqrtf(ss / (float)cols + eps);
#pragma unroll
		for (int j = 0; j < MV_NS; j++) {
			int sl = tid + j * nthr;
			if (sl < nslot)
				xs[sl] = make_float4(xv[j].x * rs * gv[j].x, xv[j].y * rs * gv[j].y, xv[j].z * rs * gv[j].z,
				                     xv[j].w * rs * gv[j].w);
		}
	} else if (norm) {
		float ss = 0.f;
		for (int i = tid; i < cols; i += nthr) {
			float v = ld_fix<FIX>(x, fix, i, fs);
			ss += v * v;
		}
		ss = block_sum(ss, red);
		rs = rsqrtf(ss / (float)cols + eps);
	}
	for (int sl = fast ? nslot : tid; sl < nslot; sl += nthr) {
		int g = sl / (P * 32), rem = sl % (P * 32), k = rem / 32, ln = rem % 32;
		int c = g * 32 + ln;
		float4 v = make_float4(0.f, 0.f, 0.f, 0.f);
		if (c < C) {
			int i4 = x4_index<T>(c, k);
			v = ld_x4f<FIX>(x4, fix, i4, fs);
			if (norm) {
				float4 gg = g4[i4];
				v.x *= rs * gg.x; v.y *= rs * gg.y; v.z *= rs * gg.z; v.w *= rs * gg.w;
			}
		}
		xs[sl] = v;
	}
}

/* ---- integer dot products (Q8_0, Q4_0, Q4_1, Q5_0, Q4_K, Q6_K) ----------------------------
 * Quantized weights against x in 32-value blocks of int16 (x ~= d q, d = amax / 32767,
 * q rounded to nearest: the CPU path's llm_quantize_x).  dp2a takes two int16 of x and
 * two 8-bit weights (or 4-/5-/6-bit ones widened to bytes) per instruction, exact in int32;
 * a block's offset or minimum comes from the sum of its q (kept per 16 values), and a
 * few float multiplies per chunk apply the scales.  The float path converted every
 * weight with I2F, a quarter-rate pipe on sm_90: the Q8_0 matvecs ran at 52-59 % of the
 * copy rate on the head and slower than BF16 in the decode graph, Q4_0/Q4_K at 30 %. */
__host__ __device__ constexpr bool int_dot_type(int t)
{
	return t == T_Q8_0 || t == T_Q4_0 || t == T_Q4_1 || t == T_Q5_0 || t == T_Q4_K || t == T_Q6_K;
}
template <int T> struct MvInt { enum { V = int_dot_type(T), KQ = MvT<T>::E / 8 }; };

/* The layout: xq[(g * KQ + k) * 32 + ln] (uint4) holds int16 elements 8k..8k+7 of chunk
 * g * 32 + ln in the order of the chunk's weights (x4_index: for the 4-bit types the
 * low nibbles' 16 values, then the high nibbles'); xd[b] is d of the 32-value block b
 * of x; xs16[i] the sum of q over x's values 16i..16i+15.  All fit the bytes of the
 * float staging (xs) they replace. */
template <int T> __device__ __forceinline__ float *xq_scales(uint4 *xq, int C)
{
	return (float *)(xq + ((C + 31) / 32) * MvInt<T>::KQ * 32);
}
template <int T> __device__ __forceinline__ int *xq_sums(uint4 *xq, int C)
{
	return (int *)(xq_scales<T>(xq, C) + C * MvT<T>::E / 32);
}

__device__ __forceinline__ int dp2a8(uint4 a, uint32_t w0, uint32_t w1, int s) /* 8 int16 . 8 bytes */
{
	s = __dp2a_lo((int)a.x, (int)w0, s);
	s = __dp2a_hi((int)a.y, (int)w0, s);
	s = __dp2a_lo((int)a.z, (int)w1, s);
	return __dp2a_hi((int)a.w, (int)w1, s);
}
/* bits 0-3 of x to bit 4 of bytes 0-3 (Q5_0's fifth bits) */
__device__ __forceinline__ uint32_t spread4(uint32_t x) { return ((x * 0x00204081u) & 0x01010101u) << 4; }

template <int T>
__device__ __forceinline__ float dot_chunk_q(const WRaw &w, int c, const uint4 *xq, const float *xd, const int *xs16)
{
	const uint4 *p = xq + (c >> 5) * MvInt<T>::KQ * 32 + (c & 31);
	if (T == T_Q8_0) {
		int s = dp2a8(p[0], w.a.x, w.a.y, 0);
		s = dp2a8(p[32], w.a.z, w.a.w, s);
		return (float)s * (h2f((uint16_t)w.b.x) * xd[c >> 1]);
	} else if (T == T_Q6_K) { /* 4 values of each quarter (load_chunk): 6-bit q - 32 as signed bytes */
		int xb = (c >> 4) * 8 + ((c & 15) >> 3) * 4; /* x's 32-value block of quarter 0 */
		float acc = 0.f;
#pragma unroll
		for (int k = 0; k < 4; k++) {
			uint32_t v = q6k_quarter(w, k);
			uint4 xv = p[(k >> 1) * 32];
			int sk = (k & 1) ? __dp2a_hi((int)xv.w, (int)v, __dp2a_lo((int)xv.z, (int)v, 0))
			                 : __dp2a_hi((int)xv.y, (int)v, __dp2a_lo((int)xv.x, (int)v, 0));
			acc += (float)(int8_t)(w.a.w >> (8 * k)) * xd[xb + k] * (float)sk;
		}
		return h2f((uint16_t)w.b.x) * acc;
	} else {
		const uint4 qv = T == T_Q4_K ? w.b : w.a;
		const uint32_t qw[4] = {qv.x, qv.y, qv.z, qv.w};
		uint32_t lo[4], hi[4];
#pragma unroll
		for (int k = 0; k < 4; k++) {
			lo[k] = qw[k] & 0x0f0f0f0fu;
			hi[k] = (qw[k] >> 4) & 0x0f0f0f0fu;
			if (T == T_Q5_0) {
				lo[k] |= spread4((w.b.y >> (4 * k)) & 15u);
				hi[k] |= spread4((w.b.y >> (16 + 4 * k)) & 15u);
			}
		}
		int sl = dp2a8(p[0], lo[0], lo[1], 0);
		sl = dp2a8(p[32], lo[2], lo[3], sl);
		int sh = dp2a8(p[64], hi[0], hi[1], 0);
		sh = dp2a8(p[96], hi[2], hi[3], sh);
		if (T == T_Q4_K) {
			int b = c >> 3, cc = c & 7, j = cc >> 1;
			int e = b * 256 + j * 64 + (cc & 1) * 16; /* the first low-nibble value's index in x */
			int s1, m1, s2, m2;
			q4k_scale_min_w(w.a, 2 * j, &s1, &m1);
			q4k_scale_min_w(w.a, 2 * j + 1, &s2, &m2);
			float d = h2f((uint16_t)(w.a.x & 0xffff)), dmin = h2f((uint16_t)(w.a.x >> 16));
			float d1 = xd[e >> 5], d2 = xd[(e >> 5) + 1];
			return d * ((float)s1 * d1 * (float)sl + (float)s2 * d2 * (float)sh) -
			       dmin * ((float)m1 * d1 * (float)xs16[e >> 4] + (float)m2 * d2 * (float)xs16[(e >> 4) + 2]);
		}
		int qs = xs16[2 * c] + xs16[2 * c + 1];
		if (T == T_Q4_0) return h2f((uint16_t)w.b.x) * xd[c] * (float)(sl + sh - 8 * qs);
		if (T == T_Q5_0) return h2f((uint16_t)(w.b.x & 0xffff)) * xd[c] * (float)(sl + sh - 16 * qs);
		/* Q4_1 */
		return xd[c] * (h2f((uint16_t)(w.b.x & 0xffff)) * (float)(sl + sh) + h2f((uint16_t)(w.b.x >> 16)) * (float)qs);
	}
}

/* The gains of the int16 staging (constant: loaded before the PDL wait), float4 i4 =
 * tid + j * nthr in gv[j]. */
__device__ __forceinline__ void stage_gain_q(float4 (&gv)[MV_NS], const float4 *g4, int n4, int tid, int nthr)
{
#pragma unroll
	for (int j = 0; j < MV_NS; j++) {
		int i4 = tid + j * nthr;
		gv[j] = i4 < n4 ? g4[i4] : make_float4(0.f, 0.f, 0.f, 0.f);
	}
}
/* the uint2 of the int16 staging that x's float4 i4 goes to */
template <int T> __device__ __forceinline__ int xq_slot(int i4)
{
	int c, pos; /* chunk, position of the float4's first value in the chunk */
	if (T == T_Q8_0) {
		c = i4 >> 2;
		pos = (i4 & 3) * 4;
	} else if (T == T_Q4_K) {
		int e = i4 * 4, wb = e & 255, r = wb & 63, l = r & 31;
		c = (e >> 8) * 8 + (wb >> 6) * 2 + (l >> 4);
		pos = (r >> 5) * 16 + (l & 15);
	} else if (T == T_Q6_K) { /* x4_index<T_Q6_K> inverted */
		int e = i4 * 4, wb = e & 255;
		c = (e >> 8) * 16 + (wb >> 7) * 8 + ((wb & 31) >> 2);
		pos = ((wb & 127) >> 5) * 4;
	} else {
		c = i4 >> 3;
		pos = (i4 & 7) * 4;
	}
	return (((c >> 5) * MvInt<T>::KQ + (pos >> 3)) * 32 + (c & 31)) * 2 + ((pos >> 2) & 1);
}
__device__ __forceinline__ uint32_t pack_i16(int a, int b) { return (uint32_t)(uint16_t)(int16_t)a | ((uint32_t)(uint16_t)(int16_t)b << 16); }
/* float4 i4 of x (valid: i4 < cols / 4), times its gains g when has_g, into the int16
 * staging; the 8 lanes of a 32-value block (aligned groups of 8 lanes) find its
 * amax together, so every lane of the warp calls it.  ss gains v's squares. */
template <int T, int FIX>
__device__ __forceinline__ void xq_put(uint4 *xq, float *xd, int *xs16, const float4 *x4, const long long *fix, int fs,
                                       int i4, bool valid, bool has_g, float4 g, float &ss)
{
	float4 v = valid ? ld_x4f<FIX>(x4, fix, i4, fs) : make_float4(0.f, 0.f, 0.f, 0.f);
	ss += v.x * v.x + v.y * v.y + v.z * v.z + v.w * v.w;
	if (has_g) { v.x *= g.x; v.y *= g.y; v.z *= g.z; v.w *= g.w; }
	float m = fmaxf(fmaxf(fabsf(v.x), fabsf(v.y)), fmaxf(fabsf(v.z), fabsf(v.w)));
	m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, 1));
	m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, 2));
	m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, 4));
	float id = m > 0.f ? 32767.f / m : 0.f;
	int q0 = __float2int_rn(v.x * id), q1 = __float2int_rn(v.y * id), q2 = __float2int_rn(v.z * id),
	    q3 = __float2int_rn(v.w * id);
	if (T != T_Q8_0 && T != T_Q6_K) { /* the sum of q over 16 values (4 lanes) */
		int qs = q0 + q1 + q2 + q3;
		qs += __shfl_xor_sync(0xffffffffu, qs, 1);
		qs += __shfl_xor_sync(0xffffffffu, qs, 2);
		if (valid && (i4 & 3) == 0) xs16[i4 >> 2] = qs;
	}
	if (!valid) return;
	((uint2 *)xq)[xq_slot<T>(i4)] = make_uint2(pack_i16(q0, q1), pack_i16(q2, q3));
	if ((i4 & 7) == 0) xd[i4 >> 3] = m / 32767.f;
}
/* x (plus fix with FIX) times the gains (g4 given: the RMSNorm's, whose scale the
 * caller applies to the dot products: mv_late_rs, from each warp's sum of squares
 * in red) into the int16 staging.  gfast: the gains are in gv (stage_gain_q).
 * Called by all nthr threads (a multiple of 32); the caller syncs after it. */
template <int T, int FIX>
__device__ __forceinline__ void stage_xq(uint4 *xq, const float4 *x4, const long long *fix, const float4 *g4, int cols,
                                         bool gfast, const float4 (&gv)[MV_NS], float *red, int tid, int nthr)
{
	const int n4 = cols / 4, fs = kern_fix_stride(cols), C = cols / MvT<T>::E;
	float *xd = xq_scales<T>(xq, C);
	int *xs16 = xq_sums<T>(xq, C);
	float ss = 0.f;
#pragma unroll
	for (int j = 0; j < MV_NS; j++) {
		int i4 = tid + j * nthr;
		bool ok = i4 < n4;
		xq_put<T, FIX>(xq, xd, xs16, x4, fix, fs, i4, ok, g4 != NULL,
		               gfast ? gv[j] : ok && g4 ? g4[i4] : make_float4(0.f, 0.f, 0.f, 0.f), ss);
	}
	for (int b0 = MV_NS * nthr; b0 < n4; b0 += nthr) { /* uniform over the block */
		int i4 = b0 + tid;
		bool ok = i4 < n4;
		xq_put<T, FIX>(xq, xd, xs16, x4, fix, fs, i4, ok, g4 != NULL, ok && g4 ? g4[i4] : make_float4(0.f, 0.f, 0.f, 0.f),
		               ss);
	}
	if (g4) {
		ss = warp_sum(ss);
		if ((tid & 31) == 0) red[tid >> 5] = ss;
	}
}

/* After stage_x's late path and a __syncthreads: the RMSNorm scale from the
 * warps' sums in red, applied to the finished dot products (one barrier less
 * before them). */
__device__ __forceinline__ float mv_late_rs(const float *red, int cols, float eps)
{
	int lane = threadIdx.x & 31;
	float v = lane < (int)(blockDim.x >> 5) ? red[lane] : 0.f;
	return rsqrtf(warp_sum(v) / (float)cols + eps);
}

/* R rows per warp at a time (R > 1 only with wpr == 1; with SwiGLU each of the
 * R rows brings its partner row n + r); wpr warps per row (1, 2, 4, 8) split a
 * long row's chunks between them and add their sums through shared memory:
 * short, wide matrices (the down projection) then still fill the chip.  Chunks
 * come in batches of U per lane: R*U loads in flight per lane (2*R*U with
 * SwiGLU).  The first batch of a warp's first rows is loaded before the PDL
 * wait and before x is staged, so the weight reads overlap the previous
 * kernel's tail and the staging; with accumulate, y is read right after the
 * wait, while x is staged. */
template <int T, int R, bool swiglu, int FIX = 0>
__global__ void __launch_bounds__(MV_WARPS * 32, MV_MINB(T, R))
matvec_kernel(const uint8_t *__restrict__ q, const uint8_t *__restrict__ s, int rows_out, int cols,
              const float *__restrict__ x, const float *__restrict__ norm, float eps, float *y,
              int accumulate, int wpr, float *y2, int *am_out, unsigned long long *am_scr, const long long *fix)
{
	extern __shared__ float4 xs[]; /* [ngroups * P * 32] */
	__shared__ float red[32];
	__shared__ float part[2][MV_WARPS];
	const int E = MvT<T>::E, P = E / 4, U = R == 4 ? (T == T_Q4_K ? 1 : 2) : (T == T_Q4_K && swiglu ? 2 : 4);
	int C = cols / E, ngroups = (C + 31) / 32, nslot = ngroups * P * 32;
	int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
	int slot = warp / wpr, sub = warp % wpr, rpb = (MV_WARPS / wpr) * R; /* rows per block pass */
	int nit = (C + 32 * U * wpr - 1) / (32 * U * wpr);
	int rb = blockIdx.x;
	WRaw w[R][U], w2[swiglu ? R : 1][U];
	pdl_trigger();
#define MV_LOAD_BATCH(ROW, IT)                                                                       \
	do {                                                                                             \
		_Pragma("unroll") for (int u = 0; u < U; u++) {                                            \
			int c = (((IT) * wpr + sub) * U + u) * 32 + lane;                                        \
			_Pragma("unroll") for (int k = 0; k < R; k++) if (c < C && (ROW) + k < rows_out) {      \
				w[k][u] = load_chunk<T>(q, s, cols, (ROW) + k, c);                                   \
				if (swiglu) w2[k][u] = load_chunk<T>(q, s, cols, (ROW) + k + rows_out, c);           \
			}                                                                                        \
		}                                                                                            \
	} while (0)
	MV_LOAD_BATCH(rb * rpb + slot * R, 0); /* weights only: constant, safe before the wait */
	const float4 *x4 = (const float4 *)x, *g4 = (const float4 *)norm;
	/* with the norm and at most MV_NS slots of x per thread: the norm weights
	 * (constant) before the wait, x read once into registers after it */
	const bool QI = MvInt<T>::V;
	uint4 *xq = (uint4 *)xs;
	const float *xd = xq_scales<T>(xq, C);
	const int *xs16 = xq_sums<T>(xq, C);
	const bool fast = norm && (QI ? cols / 4 <= MV_NS * (int)blockDim.x : nslot <= MV_NS * (int)blockDim.x);
	float4 gv[MV_NS];
	if (fast) {
		if (QI) stage_gain_q(gv, g4, cols / 4, threadIdx.x, (int)blockDim.x);
		else stage_gain<T>(gv, g4, nslot, C, threadIdx.x, (int)blockDim.x);
	}
	pdl_wait();
	/* the old y of this lane's row (lane k < R takes row r0 + k), read now */
	float yold = 0.f;
	if (accumulate && lane < R && sub == 0 && rb * rpb + slot * R + lane < rows_out)
		yold = ld_fix<FIX>(y, fix, rb * rpb + slot * R + lane, kern_fix_stride(rows_out));
	/* stage x (normalised when asked) */
	if (QI) {
		if (FIX && !accumulate) stage_xq<T, FIX>(xq, x4, fix, g4, cols, fast, gv, red, threadIdx.x, (int)blockDim.x);
		else stage_xq<T, 0>(xq, x4, NULL, g4, cols, fast, gv, red, threadIdx.x, (int)blockDim.x);
	} else if (FIX && !accumulate)
		stage_x<T, FIX>(xs, x4, fix, g4, x, norm, eps, cols, nslot, C, fast, gv, red, threadIdx.x, (int)blockDim.x,
		                 true);
	else
		stage_x<T>(xs, x4, NULL, g4, x, norm, eps, cols, nslot, C, fast, gv, red, threadIdx.x, (int)blockDim.x, true);
	__syncthreads();
	/* the norm scale, after the dots: the fast path's, and always the integer path's */
	const float rs = fast || (QI && norm) ? mv_late_rs(red, cols, eps) : 1.f;
	uint64_t amb = 0; /* with am_out: the best (value, row) this thread wrote */
	for (; rb * rpb < rows_out; rb += gridDim.x) { /* uniform over the block */
		int r0 = rb * rpb + slot * R;
		float acc[R], acc2[R];
#pragma unroll
		for (int k = 0; k < R; k++) acc[k] = acc2[k] = 0.f;
		if (r0 < rows_out) {
			for (int it = 0; it < nit; it++) {
				if (it > 0) MV_LOAD_BATCH(r0, it);
#pragma unroll
				for (int u = 0; u < U; u++) {
					int c = ((it * wpr + sub) * U + u) * 32 + lane;
					if (c < C) {
						const float4 *xp = xs + (c >> 5) * P * 32 + lane;
#pragma unroll
						for (int k = 0; k < R; k++)
							if (r0 + k < rows_out) {
								if (QI) {
									acc[k] += dot_chunk_q<T>(w[k][u], c, xq, xd, xs16);
									if (swiglu) acc2[k] += dot_chunk_q<T>(w2[k][u], c, xq, xd, xs16);
								} else {
									acc[k] += dot_chunk<T>(w[k][u], c, xp);
									if (swiglu) acc2[k] += dot_chunk<T>(w2[k][u], c, xp);
								}
							}
					}
				}
			}
		}
		/* next pass's first batch (and old y) before the reductions */
		float ycur = yold;
		int rn = (rb + (int)gridDim.x) * rpb + slot * R;
		if (rn < rows_out) {
			MV_LOAD_BATCH(rn, 0);
			if (accumulate && lane < R && sub == 0 && rn + lane < rows_out)
				yold = ld_fix<FIX>(y, fix, rn + lane, kern_fix_stride(rows_out));
		}
		if (wpr > 1) { /* R == 1 here */
			float a = warp_sum(acc[0]) * rs, b2 = swiglu ? warp_sum(acc2[0]) * rs : 0.f;
			if (lane == 0) {
				part[0][warp] = a;
				part[1][warp] = b2;
			}
			__syncthreads();
			if (sub == 0 && lane == 0 && r0 < rows_out) {
				float ta = 0.f, tb = 0.f;
				for (int k = 0; k < wpr; k++) {
					ta += part[0][warp + k];
					tb += part[1][warp + k];
				}
				float v = swiglu ? silu(ta) * tb : ta;
				v = accumulate ? ycur + v : v;
				y[r0] = v;
				if (y2) y2[r0] = v;
				if (!swiglu && am_out) amb = max(amb, am_key(v, r0));
			}
			__syncthreads();
		} else {
#pragma unroll
			for (int k = 0; k < R; k++) {
				float a = warp_sum(acc[k]) * rs;
				if (swiglu) a = silu(a) * (warp_sum(acc2[k]) * rs);
				if (lane == k && r0 + k < rows_out) {
					a = accumulate ? ycur + a : a;
					y[r0 + k] = a;
					if (y2) y2[r0 + k] = a;
					if (!swiglu && am_out) amb = max(amb, am_key(a, r0 + k));
				}
			}
		}
	}
	if constexpr (!swiglu)
		if (am_out) am_block_finish(amb, am_out, am_scr, (unsigned *)(am_scr + 1)); /* am_out: uniform */
#undef MV_LOAD_BATCH
}

/* Any type, any cols: one warp per row, element by element (small or odd shapes). */
__global__ void matvec_scalar_kernel(int type, const void *q, const void *s, int rows_out, int cols,
                                     const float *__restrict__ x, const float *__restrict__ norm,
                                     float eps, float *y, int accumulate, int swiglu, float *y2,
                                     const long long *fix, int nfc)
{
	PDL_ENTER();
	__shared__ float red[32];
	float rs = 1.f;
	const long long *xfix = accumulate ? NULL : fix; /* the residual is y with accumulate, else x */
	if (norm) {
		float ss = 0.f;
		for (int i = threadIdx.x; i < cols; i += blockDim.x) {
			float v = ld_fix_rt(x, xfix, i, kern_fix_stride(cols), nfc);
			ss += v * v;
		}
		ss = block_sum(ss, red);
		rs = rsqrtf(ss / (float)cols + eps);
	}
	int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
	for (int r = blockIdx.x * nw + warp; r < rows_out; r += gridDim.x * nw) {
		float acc = 0.f, acc2 = 0.f;
		for (int e = lane; e < cols; e += 32) {
			float xv = ld_fix_rt(x, xfix, e, kern_fix_stride(cols), nfc);
			if (norm) xv = xv * rs * norm[e];
			acc += deq_elem(type, q, s, cols, r, e) * xv;
			if (swiglu) acc2 += deq_elem(type, q, s, cols, r + rows_out, e) * xv;
		}
		acc = warp_sum(acc);
		if (swiglu) acc2 = warp_sum(acc2);
		if (lane == 0) {
			float v = swiglu ? silu(acc) * acc2 : acc;
			v = accumulate ? ld_fix_rt(y, fix, r, kern_fix_stride(rows_out), nfc) + v : v;
			y[r] = v;
			if (y2) y2[r] = v;
		}
	}
}

static int g_num_sms = 0;

static int num_sms(void)
{
	if (g_num_sms == 0) {
		int dev = 0, n = 0;
		if (cudaGetDevice(&dev) != cudaSuccess ||
		    cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, dev) != cudaSuccess || n <= 0)
			n = 80;
		g_num_sms = n;
	}
	return g_num_sms;
}

static int elems_per_block(int type)
{
	switch (type) {
	case T_F32: case T_F16: case T_BF16: return 1;
	case T_Q8_0: case T_Q4_0: case T_Q4_1: case T_Q5_0: return 32;
	case T_Q4_K: case T_Q6_K: return 256;
	default: return 0;
	}
}

/* Blocks of matvec_kernel<T, R> resident per SM with smem bytes of x (cached). */
static int mv_bps_cap(void);
template <int T, int R, bool SW, int FX = 0> static int mv_occupancy(size_t smem)
{
	static size_t last_smem = (size_t)-1;
	static int last_occ = 0;
	if (smem != last_smem) {
		int occ = 0;
		if (cudaOccupancyMaxActiveBlocksPerMultiprocessor(&occ, matvec_kernel<T, R, SW, FX>, MV_WARPS * 32, smem) != cudaSuccess ||
		    occ < 1) {
			(void)cudaGetLastError();
			occ = 1;
		}
		if (mv_bps_cap() && occ > mv_bps_cap()) occ = mv_bps_cap();
		last_smem = smem;
		last_occ = occ;
	}
	return last_occ;
}

static int g_mv_force = 0; /* test hook: kern_mv_force (R * 16 + wpr), 0 = choose */

/* VIGIL_CUDA_MV_BPS=n: at most n matvec blocks per SM (leaves room for the
 * next kernel's blocks to start early); default: as many as fit. */
static int mv_bps_cap(void)
{
	static int cap = -1;
	if (cap < 0) {
		const char *e = getenv("VIGIL_CUDA_MV_BPS");
		cap = e && atoi(e) > 0 ? atoi(e) : 0;
	}
	return cap;
}

/* FX: the instances that read kern_mv_opts.d_fix, of 1 or 2 copies (without SwiGLU
 * only), so that the kernels without it are the code they were. */
template <int T, int R, bool SW, int FX = 0>
static int launch_mv_r(const kern_mat *W, const float *x, float *y, const kern_mv_opts *o, int rows_out, int wpr,
                       cudaStream_t st)
{
	if constexpr (!SW && !FX)
		if (o && o->d_fix)
			return kern_fix_copies(o->fix_copies) > 1 ? launch_mv_r<T, R, false, 2>(W, x, y, o, rows_out, wpr, st)
			                                          : launch_mv_r<T, R, false, 1>(W, x, y, o, rows_out, wpr, st);
	const int E = MvT<T>::E;
	int C = W->cols / E, ngroups = (C + 31) / 32;
	size_t smem = (size_t)ngroups * 32 * E * sizeof(float);
	static size_t smem_set = 0;
	if (smem > 48 * 1024 && smem > smem_set) {
		KCHECK(cudaFuncSetAttribute(matvec_kernel<T, R, SW, FX>, cudaFuncAttributeMaxDynamicSharedMemorySize,
		                            (int)smem));
		smem_set = smem;
	}
	int per = (MV_WARPS / wpr) * R;
	int blocks = (rows_out + per - 1) / per, cap = num_sms() * mv_occupancy<T, R, SW, FX>(smem);
	if (blocks > cap) blocks = cap;
	KLAUNCH(matvec_kernel<T, R, SW, FX>, dim3(blocks), dim3(MV_WARPS * 32), smem, st,
		(const uint8_t *)W->q, (const uint8_t *)W->s, rows_out, W->cols, x, o ? o->d_norm : NULL,
		o ? o->eps : 0.f, y, o ? o->accumulate : 0, wpr, o ? o->d_y2 : NULL, o ? o->d_argmax : NULL,
		(unsigned long long *)(o ? o->d_argmax_scr : NULL), /* (kern_matvec refuses it with SwiGLU) */
		o ? o->d_fix : NULL);
	return 0;
}

/* Rows per warp R and warps per row wpr: the fewest dependent rounds of weight
 * loads, counting both the batches a warp loads one after the other (nit)
 * and the waves of blocks beyond those resident at once; ties go to one row
 * per warp and the fewest warps per row.  Very tall matrices (the head) take
 * 4 rows per warp. */
template <int T, bool SW>
static int launch_mv_sw(const kern_mat *W, const float *x, float *y, const kern_mv_opts *o, int rows_out,
                        cudaStream_t st)
{
	const int E = MvT<T>::E;
	int C = W->cols / E, ngroups = (C + 31) / 32;
	size_t smem = (size_t)ngroups * 32 * E * sizeof(float);
	if (g_mv_force) {
		int R = g_mv_force / 16, wpr = g_mv_force % 16;
		if (R == 4 && !SW) return launch_mv_r<T, 4, false>(W, x, y, o, rows_out, 1, st);
		if constexpr (MvT<T>::E <= 16 && T != T_Q6_K)
			if (R == 2) return launch_mv_r<T, 2, SW>(W, x, y, o, rows_out, 1, st);
		return launch_mv_r<T, 1, SW>(W, x, y, o, rows_out, wpr >= 1 && wpr <= 8 ? wpr : 1, st);
	}
	if (!SW && rows_out >= num_sms() * 2 * MV_WARPS * 4)
		return launch_mv_r<T, 4, false>(W, x, y, o, rows_out, 1, st);
	long res1 = (long)num_sms() * mv_occupancy<T, 1, SW>(smem);
	long best = -1;
	int bR = 1, bw = 1;
	const int U1 = T == T_Q4_K && SW ? 2 : 4; /* matvec_kernel's U with one row per warp */
	for (int wpr = 1; wpr <= MV_WARPS; wpr *= 2) {
		if (wpr > 1 && C <= 32 * U1 * (wpr / 2)) break; /* the previous split already covers the row */
		long nit = (C + 32 * U1 * wpr - 1) / (32 * U1 * wpr);
		long blocks = ((long)rows_out * wpr + MV_WARPS - 1) / MV_WARPS;
		long cost = nit * ((blocks + res1 - 1) / res1);
		if (best < 0 || cost < best) {
			best = cost;
			bw = wpr;
		}
	}
	if constexpr (MvT<T>::E <= 16 && T != T_Q6_K) { /* two rows per warp: for the 4- and 6-bit types it spills */
		long res2 = (long)num_sms() * mv_occupancy<T, 2, SW>(smem);
		long nit = (C + 32 * 4 - 1) / (32 * 4);
		long blocks = ((long)rows_out + 2 * MV_WARPS - 1) / (2 * MV_WARPS);
		long cost = nit * ((blocks + res2 - 1) / res2);
		if (cost < best) bR = 2;
		if (bR == 2) return launch_mv_r<T, 2, SW>(W, x, y, o, rows_out, 1, st);
	}
	return launch_mv_r<T, 1, SW>(W, x, y, o, rows_out, bw, st);
}

template <int T>
static int launch_mv(const kern_mat *W, const float *x, float *y, const kern_mv_opts *o, int rows_out,
                     cudaStream_t st)
{
	if (o && o->swiglu) return launch_mv_sw<T, true>(W, x, y, o, rows_out, st);
	return launch_mv_sw<T, false>(W, x, y, o, rows_out, st);
}

extern "C" void kern_mv_force(int rows_per_warp, int warps_per_row)
{
	g_mv_force = rows_per_warp > 0 ? rows_per_warp * 16 + (warps_per_row > 0 ? warps_per_row : 1) : 0;
}

extern "C" int kern_matvec(const kern_mat *W, const float *d_x, float *d_y, const kern_mv_opts *o,
                           void *stream)
{
	cudaStream_t st = as_stream(stream);
	if (!W || !d_x || !d_y || !kern_type_ok(W->type) || W->rows <= 0 || W->cols <= 0)
		return (int)cudaErrorInvalidValue;
	int swiglu = o ? o->swiglu : 0;
	if (swiglu && (W->rows & 1)) return (int)cudaErrorInvalidValue;
	if (o && o->d_argmax && (swiglu || !o->d_argmax_scr)) return (int)cudaErrorInvalidValue;
	if (o && o->d_fix && (swiglu || ((uintptr_t)o->d_fix & 15))) return (int)cudaErrorInvalidValue;
	int rows_out = swiglu ? W->rows / 2 : W->rows;
	int E = 0;
	switch (W->type) {
	case T_F32: E = 4; break;
	case T_F16: case T_BF16: E = 8; break;
	case T_Q8_0: case T_Q6_K: E = 16; break;
	default: E = 32; break;
	}
	/* The vector path needs whole chunks and a 16-byte aligned x. */
	int vec = (W->cols % E) == 0 && ((uintptr_t)d_x & 15) == 0 &&
	          (!o || !o->d_norm || ((uintptr_t)o->d_norm & 15) == 0) &&
	          (size_t)((W->cols / E + 31) / 32) * 32 * E * sizeof(float) <= 200 * 1024;
	if (vec) {
		switch (W->type) {
		case T_F32: return launch_mv<T_F32>(W, d_x, d_y, o, rows_out, st);
		case T_F16: return launch_mv<T_F16>(W, d_x, d_y, o, rows_out, st);
		case T_BF16: return launch_mv<T_BF16>(W, d_x, d_y, o, rows_out, st);
		case T_Q8_0: return launch_mv<T_Q8_0>(W, d_x, d_y, o, rows_out, st);
		case T_Q4_0: return launch_mv<T_Q4_0>(W, d_x, d_y, o, rows_out, st);
		case T_Q4_1: return launch_mv<T_Q4_1>(W, d_x, d_y, o, rows_out, st);
		case T_Q5_0: return launch_mv<T_Q5_0>(W, d_x, d_y, o, rows_out, st);
		case T_Q4_K: return launch_mv<T_Q4_K>(W, d_x, d_y, o, rows_out, st);
		case T_Q6_K: return launch_mv<T_Q6_K>(W, d_x, d_y, o, rows_out, st);
		default: break;
		}
	}
	int blocks = (rows_out + 7) / 8, cap = num_sms() * 4;
	if (blocks > cap) blocks = cap;
	KLAUNCH(matvec_scalar_kernel, dim3(blocks), dim3(256), 0, st, W->type, W->q, W->s, rows_out, W->cols, d_x,
	                                             o ? o->d_norm : NULL, o ? o->eps : 0.f, d_y,
	                                             o ? o->accumulate : 0, swiglu, o ? o->d_y2 : NULL, o ? o->d_fix : NULL,
	                                             o ? kern_fix_copies(o->fix_copies) : 1);
	if (o && o->d_argmax) return kern_argmax(d_y, rows_out, o->d_argmax, o->d_argmax_scr, stream);
	return 0;
}

/* ---- feed-forward block with the down projection fused -----------------------------------
 * y += Wd h, h = silu(G xn) * (U xn), xn = rmsnorm(x) * g (kern_ffn_fused).  Block b
 * takes the S columns j0 = b*S .. j0+S-1 of h: its 2*S gate/up rows as the matvec
 * does (each of the 8 warps RW = S/8 rows, their gate and up partners, all loads
 * of a pass issued before any is used), then the same S columns of every row of
 * Wd, copied to shared memory with cp.async at the start (constant weights: before
 * the PDL wait, in flight during the gate/up work), times its h, added into the
 * 64-bit fixed-point accumulator with integer atomics (exact, so the sum does not
 * depend on the order of the blocks: the same bits every run).  S is a
 * multiple of the quant block width along Wd's rows (32 for Q8_0/Q4_0/Q4_1/Q5_0)
 * and at least 32 bytes of a Wd row (F32 8, F16/BF16 16 elements), so a block
 * reads whole sectors. */
#define FF_THREADS 256
#define FF_WARPS (FF_THREADS / 32)

template <int T> struct FfU { enum { U = MvT<T>::E <= 8 ? 4 : (MvT<T>::E == 16 ? 2 : 1) }; };
template <int T> struct FfNB { enum { NB = (T == T_Q8_0 || T == T_Q4_0 || T == T_Q4_1 || T == T_Q5_0) ? 1 : 0 }; };

/* v 2^32 rounded to the nearest integer (saturating; NaN gives 0), for the
 * accumulator of kern_ffn_fused. */
__device__ __forceinline__ unsigned long long to_fix(float v)
{
	return (unsigned long long)__float2ll_rn(v * (float)KERN_FIX_SCALE);
}

/* The narrow F32/F16/BF16 kernels ("hybrid") hold one gate/up row pair per warp
 * in registers and copy the warp's other rows to shared memory with cp.async, so
 * that every weight load is issued before the PDL wait and 3 blocks fit an SM. */
template <int T> __host__ __device__ constexpr int ff_slice_c(int wide)
{
	return T == T_F32 ? (wide ? 16 : 8) : (T == T_F16 || T == T_BF16 || T == T_Q8_0) ? (wide ? 32 : 16) : (wide ? 64 : 32);
}
template <int T, int S> __host__ __device__ constexpr bool ff_hybrid()
{
	return (T == T_F32 || T == T_F16 || T == T_BF16) && S == ff_slice_c<T>(0) && S > FF_WARPS;
}
#define FF_MINB(T, S) (ff_hybrid<T, S>() || ((T) == T_Q8_0 && (S) == ff_slice_c<T>(0)) ? 3 : 2)

/* Shared memory of ffn_fused_kernel<T, S> for rows of cols elements. */
static size_t ff_smem(int E, int S, int has_scales, int cols, int hybrid)
{
	int C = cols / E, ngroups = (C + 31) / 32, NC = S / E;
	size_t nslot = (size_t)ngroups * (E / 4) * 32;
	size_t stage = hybrid ? (size_t)(S - FF_WARPS) * 2 * cols * (E == 4 ? 4 : 2) : 0;
	return nslot * 16 + stage + (size_t)NC * (cols + 4) * 16 + (size_t)S * 4 +
	       (has_scales ? (size_t)((S + 31) / 32) * cols * 8 : 0);
}

template <int T, int S, int MINB>
__global__ void __launch_bounds__(FF_THREADS, MINB)
ffn_fused_kernel(const uint8_t *__restrict__ gq, const uint8_t *__restrict__ gs, const uint8_t *__restrict__ dq,
                 const uint8_t *__restrict__ ds, int n_ff, int cols, const float *__restrict__ x,
                 const float *__restrict__ norm, float eps, long long *acc_out, long long *zero, int nfc)
{
	const int E = MvT<T>::E, P = E / 4, U = FfU<T>::U, RW = S / FF_WARPS, NC = S / E;
	const int LB = E == 32 ? 8 : 16;                      /* loads in flight per lane (4-bit: fewer, they spill) */
	const bool HY = ff_hybrid<T, S>();
	const int RP = HY ? 1 : RW < LB / (2 * U) ? RW : LB / (2 * U);
	const int RB = cols * (T == T_F32 ? 4 : 2);           /* bytes of a row (hybrid) */
	const int NB = FfNB<T>::NB ? (S + 31) / 32 : 0;       /* scale blocks per row of the slice */
	static_assert(S % FF_WARPS == 0 && S % E == 0 && RW % RP == 0, "slice");
	extern __shared__ float4 sm[];
	__shared__ float red[32];
	int C = cols / E, ngroups = (C + 31) / 32, nslot = ngroups * P * 32, WS = cols + 4;
	float4 *xs = sm;                             /* [nslot] x staged as for the matvec */
	uint8_t *gst = (uint8_t *)(xs + nslot);      /* hybrid: [warp][RW - 1][gate, up][RB] */
	uint4 *wd = (uint4 *)(gst + (HY ? (size_t)FF_WARPS * (RW - 1) * 2 * RB : 0)); /* [NC][WS]: chunk c of Wd row r at c * WS + r */
	float4 *hs = (float4 *)(wd + NC * WS);       /* [S / 4] this block's h */
	uint2 *sc = (uint2 *)(hs + S / 4);           /* [NB][cols] scales of the Wd chunks */
	int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
	int j0 = blockIdx.x * S;
	pdl_trigger();
	/* hybrid: the gate/up rows after each warp's first -> shared memory (group 1) */
	if (HY) {
		int per = RB / 16, nrows = FF_WARPS * (RW - 1) * 2;
		for (int i = tid; i < nrows * per; i += FF_THREADS) {
			int lr = i / per, p = i % per, gu = lr & 1, wk = lr >> 1;
			const int R1 = RW > 1 ? RW - 1 : 1;
			int grow = j0 + (wk / R1) * RW + wk % R1 + 1 + gu * n_ff;
			cp_async16(gst + (size_t)lr * RB + p * 16, gq + (size_t)grow * RB + p * 16);
		}
		cp_async_commit();
	}
	/* this block's columns of Wd -> shared memory (constant weights; group 2) */
	for (int i = tid; i < NC * cols; i += FF_THREADS) {
		int r = i / NC, c = i % NC;
		const uint8_t *src;
		if (T == T_F32) src = dq + ((size_t)r * n_ff + j0 + c * 4) * 4;
		else if (T == T_F16 || T == T_BF16) src = dq + ((size_t)r * n_ff + j0 + c * 8) * 2;
		else if (T == T_Q8_0) src = dq + (size_t)r * n_ff + j0 + c * 16;
		else src = dq + ((size_t)r * (n_ff / 32) + j0 / 32 + c) * 16;
		cp_async16(wd + c * WS + r, src);
	}
	cp_async_commit();
	/* the first batch of the gate/up rows: row j (gate) and n_ff + j (up) */
	WRaw w[RP][U], w2[RP][U];
	int nit = (C + 32 * U - 1) / (32 * U);
	int rbase = j0 + warp * RW;
#define FF_LOAD(PASS, IT)                                                                            \
	do {                                                                                             \
		_Pragma("unroll") for (int u = 0; u < U; u++) {                                            \
			int c = ((IT) * U + u) * 32 + lane;                                                      \
			_Pragma("unroll") for (int k = 0; k < RP; k++) if (c < C) {                             \
				if (HY && (PASS) > 0) {                                                              \
					const uint8_t *b_ = gst + (size_t)(warp * (RW - 1) + (PASS) - 1) * 2 * RB;       \
					w[k][u] = load_chunk<T, true>(b_, NULL, cols, 0, c);                             \
					w2[k][u] = load_chunk<T, true>(b_, NULL, cols, 1, c);                            \
				} else {                                                                             \
					w[k][u] = load_chunk<T>(gq, gs, cols, rbase + (PASS) * RP + k, c);               \
					w2[k][u] = load_chunk<T>(gq, gs, cols, rbase + (PASS) * RP + k + n_ff, c);       \
				}                                                                                    \
			}                                                                                        \
		}                                                                                            \
	} while (0)
	FF_LOAD(0, 0);
	/* the scales of the Wd chunks (constant) */
	if (NB) {
		for (int i = tid; i < NB * cols; i += FF_THREADS) {
			int r = i / (NB > 0 ? NB : 1), bb = i % (NB > 0 ? NB : 1);
			size_t bi = (size_t)r * (n_ff / 32) + j0 / 32 + bb;
			uint2 v;
			if (T == T_Q8_0 || T == T_Q4_0) v = make_uint2((uint32_t)__ldg((const unsigned short *)ds + bi), 0u);
			else if (T == T_Q4_1) v = make_uint2(__ldg((const unsigned int *)ds + bi), 0u);
			else v = __ldg((const uint2 *)ds + bi);
			sc[bb * cols + r] = v;
		}
	}
	const float4 *x4 = (const float4 *)x, *g4 = (const float4 *)norm;
	const bool QI = MvInt<T>::V;
	uint4 *xq = (uint4 *)xs;
	const float *xd = xq_scales<T>(xq, C);
	const int *xs16 = xq_sums<T>(xq, C);
	const bool fast = norm && (QI ? cols / 4 <= MV_NS * FF_THREADS : nslot <= MV_NS * FF_THREADS);
	float4 gv[MV_NS];
	if (fast) {
		if (QI) stage_gain_q(gv, g4, cols / 4, tid, FF_THREADS);
		else stage_gain<T>(gv, g4, nslot, C, tid, FF_THREADS);
	}
	pdl_wait();
	/* the layer before's accumulator: its readers (this layer's qkv and o) are done */
	if (zero)
		for (int i = blockIdx.x * FF_THREADS + tid; i < nfc * kern_fix_stride(cols); i += gridDim.x * FF_THREADS)
			zero[i] = 0;
	/* stage x (normalised) */
	if (QI) stage_xq<T, 0>(xq, x4, NULL, g4, cols, fast, gv, red, tid, FF_THREADS);
	else stage_x<T>(xs, x4, NULL, g4, x, norm, eps, cols, nslot, C, fast, gv, red, tid, FF_THREADS);
	__syncthreads();
	const float rs = QI && norm ? mv_late_rs(red, cols, eps) : 1.f; /* the integer path's norm scale */
	/* gate/up -> h */
	float *hf = (float *)hs;
#pragma unroll 1
	for (int pass = 0; pass < RW / RP; pass++) {
		float acc[RP], acc2[RP];
#pragma unroll
		for (int k = 0; k < RP; k++) acc[k] = acc2[k] = 0.f;
		if (HY && pass == 1) { /* the staged rows have landed (all threads copied them) */
			cp_async_wait1();
			__syncthreads();
		}
		for (int it = 0; it < nit; it++) {
			if (pass > 0 || it > 0) FF_LOAD(pass, it);
#pragma unroll
			for (int u = 0; u < U; u++) {
				int c = (it * U + u) * 32 + lane;
				if (c < C) {
					const float4 *xp = xs + (c >> 5) * P * 32 + lane;
#pragma unroll
					for (int k = 0; k < RP; k++) {
						if (QI) {
							acc[k] += dot_chunk_q<T>(w[k][u], c, xq, xd, xs16);
							acc2[k] += dot_chunk_q<T>(w2[k][u], c, xq, xd, xs16);
						} else {
							acc[k] += dot_chunk<T>(w[k][u], c, xp);
							acc2[k] += dot_chunk<T>(w2[k][u], c, xp);
						}
					}
				}
			}
		}
#pragma unroll
		for (int k = 0; k < RP; k++) {
			float a = warp_sum(acc[k]) * rs, b = warp_sum(acc2[k]) * rs;
			if (lane == 0) hf[warp * RW + pass * RP + k] = silu(a) * b;
		}
	}
#undef FF_LOAD
	cp_async_wait_all();
	__syncthreads();
	/* this block's part of Wd h, into copy blockIdx.x % nfc of the accumulator */
	for (int r = tid; r < cols; r += FF_THREADS) {
		float acc = 0.f;
#pragma unroll
		for (int c = 0; c < NC; c++) {
			WRaw wr;
			wr.a = wd[c * WS + r];
			wr.b = make_uint4(0u, 0u, 0u, 0u);
			if (NB) {
				uint2 v = sc[(((j0 & 31) + c * E) >> 5) * cols + r];
				wr.b.x = v.x;
				wr.b.y = v.y;
			}
			acc += dot_chunk<T, 1>(wr, c, hs + c * P);
		}
		atomicAdd((unsigned long long *)acc_out + (size_t)(nfc > 1 ? blockIdx.x & 1 : 0) * kern_fix_stride(cols) + r,
		          to_fix(acc));
	}
}

/* Slice widths (elements of h per block): narrow = 32 bytes of a Wd row (F32 8,
 * F16/BF16 16, Q8_0 16 = half a quant block: the neighbouring block reads the
 * other half of the sector, from L2) or one 4-bit block (32); wide = twice that.
 * The launcher takes the narrow slice when its blocks fit the GPU at once
 * (resident blocks from the occupancy calculator), else the wide one;
 * kern_ffn_fused_wide forces one (test / bench hook). */
static int g_ff_mode = 0; /* 0 auto, 1 narrow, 2 wide */
extern "C" void kern_ffn_fused_wide(int mode) { g_ff_mode = mode >= 0 && mode <= 2 ? mode : 0; }

static int ff_slice(int type, int wide)
{
	switch (type) {
	case T_F32: return wide ? 16 : 8;
	case T_F16: case T_BF16: case T_Q8_0: return wide ? 32 : 16;
	case T_Q4_0: case T_Q4_1: case T_Q5_0: return wide ? 64 : 32;
	default: return 0;
	}
}
static int ff_elems(int type)
{
	return type == T_F32 ? 4 : (type == T_F16 || type == T_BF16) ? 8 : type == T_Q8_0 ? 16 : 32;
}
static int ff_has_scales(int type)
{
	return type == T_Q8_0 || type == T_Q4_0 || type == T_Q4_1 || type == T_Q5_0;
}

static int max_smem_optin(void)
{
	static int v = -1;
	if (v < 0) {
		int dev = 0;
		if (cudaGetDevice(&dev) != cudaSuccess ||
		    cudaDeviceGetAttribute(&v, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev) != cudaSuccess)
			v = 48 * 1024;
	}
	return v;
}

static int ff_fits(const kern_mat *GU, const kern_mat *Wd, int wide)
{
	int S = ff_slice(GU->type, wide), E = ff_elems(GU->type);
	int n_ff = Wd->cols, cols = GU->cols;
	if (!S || n_ff % S || cols % E || cols <= 0) return 0;
	int hy = !ff_has_scales(GU->type) && !wide && S > FF_WARPS;
	size_t smem = ff_smem(E, S, ff_has_scales(GU->type), cols, hy);
	return smem <= (size_t)max_smem_optin() && smem <= 200 * 1024;
}

extern "C" int kern_ffn_fused_ok(const kern_mat *GU, const kern_mat *Wd)
{
	if (!GU || !Wd || GU->type != Wd->type || !ff_slice(GU->type, 0)) return 0;
	if (GU->rows != 2 * Wd->cols || Wd->rows != GU->cols) return 0;
	if (g_ff_mode) return ff_fits(GU, Wd, g_ff_mode == 2);
	return ff_fits(GU, Wd, 0) || ff_fits(GU, Wd, 1);
}


/* Blocks of ffn_fused_kernel<T, S> resident on the GPU with smem bytes. */
template <int T, int S> static int ff_slots(size_t smem)
{
	static size_t last = (size_t)-1;
	static int occ = 0;
	if (smem != last) {
		if (smem > 48 * 1024 &&
		    cudaFuncSetAttribute(ffn_fused_kernel<T, S, FF_MINB(T, S)>, cudaFuncAttributeMaxDynamicSharedMemorySize,
		                         (int)smem) != cudaSuccess) {
			(void)cudaGetLastError();
			return 0;
		}
		if (cudaOccupancyMaxActiveBlocksPerMultiprocessor(&occ, ffn_fused_kernel<T, S, FF_MINB(T, S)>, FF_THREADS, smem) !=
		    cudaSuccess) {
			(void)cudaGetLastError();
			occ = 0;
		}
		last = smem;
	}
	return occ * num_sms();
}

template <int T, int S>
static int launch_ff(const kern_mat *GU, const kern_mat *Wd, const float *x, const float *norm, float eps,
                     long long *acc, long long *zero, int nfc, cudaStream_t st)
{
	int n_ff = Wd->cols, cols = GU->cols;
	size_t smem = ff_smem(MvT<T>::E, S, FfNB<T>::NB, cols, ff_hybrid<T, S>());
	if (ff_slots<T, S>(smem) <= 0) return (int)cudaErrorInvalidConfiguration; /* also sets the smem attribute */
	KLAUNCH(ffn_fused_kernel<T, S, FF_MINB(T, S)>, dim3(n_ff / S), dim3(FF_THREADS), smem, st, (const uint8_t *)GU->q,
	        (const uint8_t *)GU->s, (const uint8_t *)Wd->q, (const uint8_t *)Wd->s, n_ff, cols, x, norm, eps, acc, zero, nfc);
	return 0;
}

/* narrow when its blocks all fit at once (or the wide slice does not fit) */
template <int T>
static int launch_ff_t(const kern_mat *GU, const kern_mat *Wd, const float *x, const float *norm, float eps,
                       long long *acc, long long *zero, int nfc, cudaStream_t st)
{
	const int SN = ff_slice_c<T>(0), SW = ff_slice_c<T>(1);
	int wide;
	if (g_ff_mode) wide = g_ff_mode == 2;
	else if (!ff_fits(GU, Wd, 1)) wide = 0;
	else if (!ff_fits(GU, Wd, 0)) wide = 1;
	else wide = Wd->cols / SN > ff_slots<T, SN>(ff_smem(MvT<T>::E, SN, FfNB<T>::NB, GU->cols, ff_hybrid<T, SN>()));
	return wide ? launch_ff<T, SW>(GU, Wd, x, norm, eps, acc, zero, nfc, st)
	            : launch_ff<T, SN>(GU, Wd, x, norm, eps, acc, zero, nfc, st);
}

extern "C" int kern_ffn_fused(const kern_mat *GU, const kern_mat *Wd, const float *d_x, const float *d_norm, float eps,
                              long long *d_acc, long long *d_zero, int copies, void *stream)
{
	cudaStream_t st = as_stream(stream);
	if (!d_x || !d_acc || !kern_ffn_fused_ok(GU, Wd)) return (int)cudaErrorInvalidValue;
	int cols = GU->cols;
	if (((uintptr_t)d_x & 15) || (d_norm && ((uintptr_t)d_norm & 15)) || ((uintptr_t)d_acc & 15) ||
	    ((uintptr_t)d_zero & 15))
		return (int)cudaErrorInvalidValue;
	/* x is read by every block while others add or zero; the zeroed range is not added to */
	int nfc = kern_fix_copies(copies);
	size_t ab = KERN_FIX_BYTES(cols, nfc); /* an accumulator, all copies */
	const char *x0 = (const char *)d_x, *x1 = x0 + (size_t)cols * 4, *a0 = (const char *)d_acc, *a1 = a0 + ab,
	           *z0 = (const char *)d_zero, *z1 = z0 + ab;
	if ((x0 < a1 && a0 < x1) || (d_zero && ((x0 < z1 && z0 < x1) || (a0 < z1 && z0 < a1))))
		return (int)cudaErrorInvalidValue;
	switch (GU->type) {
	case T_F32: return launch_ff_t<T_F32>(GU, Wd, d_x, d_norm, eps, d_acc, d_zero, nfc, st);
	case T_F16: return launch_ff_t<T_F16>(GU, Wd, d_x, d_norm, eps, d_acc, d_zero, nfc, st);
	case T_BF16: return launch_ff_t<T_BF16>(GU, Wd, d_x, d_norm, eps, d_acc, d_zero, nfc, st);
	case T_Q8_0: return launch_ff_t<T_Q8_0>(GU, Wd, d_x, d_norm, eps, d_acc, d_zero, nfc, st);
	case T_Q4_0: return launch_ff_t<T_Q4_0>(GU, Wd, d_x, d_norm, eps, d_acc, d_zero, nfc, st);
	case T_Q4_1: return launch_ff_t<T_Q4_1>(GU, Wd, d_x, d_norm, eps, d_acc, d_zero, nfc, st);
	case T_Q5_0: return launch_ff_t<T_Q5_0>(GU, Wd, d_x, d_norm, eps, d_acc, d_zero, nfc, st);
	default: return (int)cudaErrorInvalidValue;
	}
}

/* ---- matrices: allocation and upload ------------------------------------------------ */

extern "C" int kern_type_ok(int type)
{
	return elems_per_block(type) != 0;
}

extern "C" int kern_int_dot(int type)
{
	return int_dot_type(type);
}

extern "C" int kern_device_count(const char **why)
{
	int n = 0;
	cudaError_t e = cudaGetDeviceCount(&n);
	if (e != cudaSuccess || n <= 0) {
		if (why) {
			if (e == cudaErrorNoDevice || (e == cudaSuccess && n <= 0))
				*why = "no CUDA device";
			else if (e == cudaErrorInsufficientDriver)
				*why = "no CUDA device (no driver, or the driver is older than the CUDA runtime)";
			else
				*why = cudaGetErrorString(e);
		}
		(void)cudaGetLastError(); /* clear the sticky-free error state */
		return 0;
	}
	return n;
}

static size_t q_bytes(int type, size_t rows, size_t cols)
{
	switch (type) {
	case T_F32: return rows * cols * 4;
	case T_F16: case T_BF16: return rows * cols * 2;
	case T_Q8_0: return rows * cols;
	case T_Q4_0: case T_Q4_1: case T_Q5_0: return rows * cols / 2;
	case T_Q4_K: return rows * (cols / 256) * 144;
	case T_Q6_K: return rows * (cols / 256) * 256; /* q6k_repack's records */
	default: return 0;
	}
}
static size_t s_bytes(int type, size_t rows, size_t cols)
{
	switch (type) {
	case T_Q8_0: case T_Q4_0: return rows * (cols / 32) * 2;
	case T_Q4_1: return rows * (cols / 32) * 4;
	case T_Q5_0: return rows * (cols / 32) * 8;
	case T_Q6_K: return rows * (cols / 256) * 2;
	default: return 0;
	}
}
static size_t gguf_row_bytes(int type, size_t cols)
{
	switch (type) {
	case T_Q8_0: return cols / 32 * 34;
	case T_Q4_0: return cols / 32 * 18;
	case T_Q4_1: return cols / 32 * 20;
	case T_Q5_0: return cols / 32 * 22;
	case T_Q6_K: return cols / 256 * 210;
	default: return q_bytes(type, 1, cols);
	}
}

extern "C" int kern_mat_alloc(kern_mat *m, int type, int rows, int cols)
{
	memset(m, 0, sizeof *m);
	int eb = elems_per_block(type);
	if (eb == 0 || rows <= 0 || cols <= 0 || cols % eb != 0) return (int)cudaErrorInvalidValue;
	m->type = type;
	m->rows = rows;
	m->cols = cols;
	size_t qb = q_bytes(type, rows, cols), sb = s_bytes(type, rows, cols);
	/* 16 bytes of slack: the persistent kernel copies whole 16-byte pieces */
	cudaError_t e = cudaMalloc(&m->q, qb + 16);
	if (e == cudaSuccess && sb) e = cudaMalloc(&m->s, sb + 16);
	if (e != cudaSuccess) {
		kern_mat_free(m);
		return (int)e;
	}
	return 0;
}

extern "C" void kern_mat_free(kern_mat *m)
{
	if (!m) return;
	if (m->q) cudaFree(m->q);
	if (m->s) cudaFree(m->s);
	m->q = m->s = NULL;
}

extern "C" size_t kern_mat_bytes(const kern_mat *m)
{
	return q_bytes(m->type, m->rows, m->cols) + s_bytes(m->type, m->rows, m->cols);
}

/* A Q6_K block (GGUF: ql[128], qh[64], int8 scales[16], half d) as 16 records of 16
 * bytes, record p = half * 8 + j (j < 8) holding all that a chunk of 16 values (4 of
 * each quarter of the half, load_chunk) reads: ql[half*64 + 4j ..+4], ql[half*64 + 32 + 4j ..+4],
 * qh[half*32 + 4j ..+4] and the scales sc[k + 0, 2, 4, 6], k = half*8 + j/4; d goes
 * to s.  One 16-byte load a chunk where the GGUF block (210 bytes, 2-byte aligned)
 * took seven narrow ones; 258 bytes where it had 210. */
static void q6k_repack(uint8_t *dst, uint8_t *d, const uint8_t *blk)
{
	for (int half = 0; half < 2; half++)
		for (int j = 0; j < 8; j++) {
			uint8_t *rec = dst + (half * 8 + j) * 16;
			memcpy(rec, blk + half * 64 + 4 * j, 4);
			memcpy(rec + 4, blk + half * 64 + 32 + 4 * j, 4);
			memcpy(rec + 8, blk + 128 + half * 32 + 4 * j, 4);
			for (int k = 0; k < 4; k++) rec[12 + k] = blk[192 + half * 8 + j / 4 + 2 * k];
		}
	memcpy(d, blk + 208, 2);
}

extern "C" int kern_mat_set_rows(kern_mat *m, int row0, int n, const void *host_rows)
{
	if (!m || !m->q || row0 < 0 || n < 0 || row0 + n > m->rows) return (int)cudaErrorInvalidValue;
	if (n == 0) return 0;
	size_t cols = (size_t)m->cols;
	size_t qrow = q_bytes(m->type, 1, cols), srow = s_bytes(m->type, 1, cols);
	uint8_t *dq = (uint8_t *)m->q + qrow * row0;
	if (srow == 0) { /* stored as in GGUF */
		KCHECK(cudaMemcpy(dq, host_rows, qrow * n, cudaMemcpyHostToDevice));
		return 0;
	}
	/* Split each block into quants and scale, a slab of rows at a time. */
	size_t nb = cols / elems_per_block(m->type), gb = gguf_row_bytes(m->type, cols);
	size_t qsz = m->type == T_Q8_0 ? 32 : 16, ssz = m->type == T_Q4_1 ? 4 : m->type == T_Q5_0 ? 8 : 2;
	/* d (and m, or qh) precede the quants; Q5_0's 6 header bytes go to an
	 * 8-byte slot: d at 0, qh at 4 */
	size_t hdr = m->type == T_Q5_0 ? 6 : ssz;
	size_t slab = n < 256 ? (size_t)n : 256;
	uint8_t *hq = (uint8_t *)malloc(slab * qrow), *hs = (uint8_t *)malloc(slab * srow);
	int rc = 0;
	if (!hq || !hs) {
		rc = (int)cudaErrorMemoryAllocation;
		goto done;
	}
	for (size_t r0 = 0; r0 < (size_t)n; r0 += slab) {
		size_t nr = (size_t)n - r0 < slab ? (size_t)n - r0 : slab;
		for (size_t r = 0; r < nr; r++) {
			const uint8_t *src = (const uint8_t *)host_rows + (r0 + r) * gb;
			for (size_t b = 0; b < nb; b++) {
				if (m->type == T_Q6_K) {
					q6k_repack(hq + r * qrow + b * 256, hs + r * srow + b * 2, src + b * 210);
					continue;
				}
				const uint8_t *blk = src + b * (hdr + qsz);
				if (m->type == T_Q5_0) {
					uint8_t *slot = hs + r * srow + b * ssz;
					memcpy(slot, blk, 2);
					memset(slot + 2, 0, 2);
					memcpy(slot + 4, blk + 2, 4);
				} else {
					memcpy(hs + r * srow + b * ssz, blk, ssz);
				}
				memcpy(hq + r * qrow + b * qsz, blk + hdr, qsz);
			}
		}
		cudaError_t e = cudaMemcpy(dq + r0 * qrow, hq, nr * qrow, cudaMemcpyHostToDevice);
		if (e == cudaSuccess)
			e = cudaMemcpy((uint8_t *)m->s + (row0 + r0) * srow, hs, nr * srow, cudaMemcpyHostToDevice);
		if (e != cudaSuccess) {
			rc = (int)e;
			goto done;
		}
	}
done:
	free(hq);
	free(hs);
	return rc;
}

/* ---- embedding, norms, SwiGLU -------------------------------------------------------- */

__global__ void embed_kernel(int type, const void *q, const void *s, int rows, int cols,
                             const int32_t *tok, float *out)
{
	PDL_ENTER();
	int t = tok[blockIdx.x];
	float *o = out + (size_t)blockIdx.x * cols;
	if (t < 0 || t >= rows) { /* out of range: NaN, never a read outside the table */
		for (int e = threadIdx.x; e < cols; e += blockDim.x) o[e] = __int_as_float(0x7fc00000);
		return;
	}
	for (int e = threadIdx.x; e < cols; e += blockDim.x) o[e] = deq_elem(type, q, s, cols, t, e);
}

extern "C" int kern_embed(const kern_mat *E, const int32_t *d_tokens, int n, float *d_out, void *stream)
{
	if (!E || n < 0 || !kern_type_ok(E->type)) return (int)cudaErrorInvalidValue;
	if (n == 0) return 0;
	KLAUNCH(embed_kernel, dim3(n), dim3(256), 0, as_stream(stream), E->type, E->q, E->s, E->rows, E->cols, d_tokens, d_out);
	return 0;
}

__global__ void add_rmsnorm_kernel(float *h, const float *delta, const float *g, float *out, int dim, float eps)
{
	PDL_ENTER();
	__shared__ float red[32];
	float *hr = h + (size_t)blockIdx.x * dim;
	const float *dr = delta ? delta + (size_t)blockIdx.x * dim : NULL;
	float ss = 0.f;
	for (int i = threadIdx.x; i < dim; i += blockDim.x) {
		float v = hr[i];
		if (dr) {
			v += dr[i];
			hr[i] = v;
		}
		ss += v * v;
	}
	ss = block_sum(ss, red);
	float rs = rsqrtf(ss / (float)dim + eps);
	float *orow = out + (size_t)blockIdx.x * dim;
	for (int i = threadIdx.x; i < dim; i += blockDim.x) orow[i] = hr[i] * rs * g[i];
}

extern "C" int kern_add_rmsnorm(float *d_h, const float *d_delta, const float *d_g, float *d_out, int n,
                                int dim, float eps, void *stream)
{
	if (n < 0 || dim <= 0 || !d_h || !d_g || !d_out) return (int)cudaErrorInvalidValue;
	if (n == 0) return 0;
	KLAUNCH(add_rmsnorm_kernel, dim3(n), dim3(256), 0, as_stream(stream), d_h, d_delta, d_g, d_out, dim, eps);
	return 0;
}

__global__ void swiglu_kernel(const float *gu, float *out, int n, int f)
{
	PDL_ENTER();
	size_t total = (size_t)n * f;
	for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
		size_t t = i / f, j = i % f;
		const float *row = gu + t * 2 * f;
		out[i] = silu(row[j]) * row[f + j];
	}
}

extern "C" int kern_swiglu(const float *d_gu, float *d_out, int n, int f, void *stream)
{
	if (n < 0 || f <= 0) return (int)cudaErrorInvalidValue;
	if (n == 0) return 0;
	size_t total = (size_t)n * f;
	size_t blocks = (total + 255) / 256;
	if (blocks > 65535) blocks = 65535;
	KLAUNCH(swiglu_kernel, dim3((unsigned)blocks), dim3(256), 0, as_stream(stream), d_gu, d_out, n, f);
	return 0;
}

/* ---- q/k/v: bias, qk-norm, RoPE, cache write --------------------------------------- */

/* One head of one token: v[0..D) (shared) = src + bias, qk-norm (nw, or NULL),
 * RoPE at pos unless kind == 2 (v).  Every thread of the block calls it
 * (blockDim.x >= D/2, a multiple of 32); on return v holds the result. */
__device__ void qkv_head(int kind, const float *src, const float *bias, const float *nw, int pos,
                         const kern_attn_shape &s, float *v, float *red)
{
	int D = s.head_dim;
	for (int i = threadIdx.x; i < D; i += blockDim.x) v[i] = __ldcg(src + i) + (bias ? bias[i] : 0.f);
	__syncthreads();
	if (kind == 2) return;
	if (nw) {
		float ss = 0.f;
		for (int i = threadIdx.x; i < D; i += blockDim.x) ss += v[i] * v[i];
		ss = block_sum(ss, red);
		float rs = rsqrtf(ss / (float)D + s.eps);
		for (int i = threadIdx.x; i < D; i += blockDim.x) v[i] = v[i] * rs * nw[i];
		__syncthreads();
	}
	/* RoPE: D/2 <= 128 pairs, one per thread */
	int i = threadIdx.x, pa = 0, pb = 0;
	float o0 = 0.f, o1 = 0.f;
	if (i < D / 2) {
		pa = s.rope_neox ? i : 2 * i;
		pb = s.rope_neox ? i + D / 2 : 2 * i + 1;
		float freq = s.d_inv_freq ? s.d_inv_freq[i] : 1.0f / powf(s.rope_theta, (float)(2 * i) / (float)D);
		float ang = (float)pos * freq, cs, sn;
		sincosf(ang, &sn, &cs);
		float x0 = v[pa], x1 = v[pb];
		o0 = x0 * cs - x1 * sn;
		o1 = x0 * sn + x1 * cs;
	}
	__syncthreads();
	if (i < D / 2) {
		v[pa] = o0;
		v[pb] = o1;
	}
	__syncthreads();
}

/* grid (n_head + 2*n_head_kv, n), block 128.  Head hh < n_head: q; then k; then v. */
__global__ void qkv_post_kernel(const float *qkv, const float *bq, const float *bk, const float *bv,
                                const float *qn, const float *kn, float *qout, __half *kc, __half *vc,
                                const int *d_pos, kern_attn_shape s)
{
	PDL_ENTER();
	__shared__ float v[256];
	__shared__ float red[32];
	int hh = blockIdx.x, t = blockIdx.y, D = s.head_dim;
	int q_dim = s.n_head * D, kv_dim = s.n_head_kv * D;
	int pos = *d_pos + t;
	const float *row = qkv + (size_t)t * (q_dim + 2 * kv_dim);
	int kind, h; /* 0 q, 1 k, 2 v */
	const float *src, *bias, *nw;
	if (hh < s.n_head) {
		kind = 0; h = hh; src = row + h * D; bias = bq ? bq + h * D : NULL; nw = qn;
	} else if (hh < s.n_head + s.n_head_kv) {
		kind = 1; h = hh - s.n_head; src = row + q_dim + h * D; bias = bk ? bk + h * D : NULL; nw = kn;
	} else {
		kind = 2; h = hh - s.n_head - s.n_head_kv; src = row + q_dim + kv_dim + h * D;
		bias = bv ? bv + h * D : NULL; nw = NULL;
	}
	qkv_head(kind, src, bias, nw, pos, s, v, red);
	if (kind == 0) {
		float *dst = qout + (size_t)t * q_dim + h * D;
		for (int i = threadIdx.x; i < D; i += blockDim.x) dst[i] = v[i];
	} else {
		__half *dst = (kind == 1 ? kc : vc) + ((size_t)h * s.n_ctx + pos) * D;
		for (int i = threadIdx.x; i < D; i += blockDim.x) dst[i] = __float2half_rn(v[i]);
	}
}

/* RoPE on one head in this warp's shared v (after a __syncwarp): lane
 * rotates pairs lane + 32 j (j < 4) with frequencies f[j], or with the cosines
 * and sines that rope_pre put in tab when it is given. */
__device__ __forceinline__ void rope_warp(float *v, const kern_attn_shape &s, int pos, const float f[4],
                                          const float *tab = NULL)
{
	int lane = threadIdx.x & 31, D = s.head_dim;
	float o0[4], o1[4];
#pragma unroll
	for (int j = 0; j < 4; j++) {
		int i = lane + 32 * j;
		o0[j] = o1[j] = 0.f;
		if (i < D / 2) {
			int pa = s.rope_neox ? i : 2 * i, pb = s.rope_neox ? i + D / 2 : 2 * i + 1;
			float cs, sn;
			if (tab) {
				cs = tab[i];
				sn = tab[128 + i];
			} else {
				sincosf((float)pos * f[j], &sn, &cs);
			}
			float x0 = v[pa], x1 = v[pb];
			o0[j] = x0 * cs - x1 * sn;
			o1[j] = x0 * sn + x1 * cs;
		}
	}
	__syncwarp();
#pragma unroll
	for (int j = 0; j < 4; j++) {
		int i = lane + 32 * j;
		if (i < D / 2) {
			v[s.rope_neox ? i : 2 * i] = o0[j];
			v[s.rope_neox ? i + D / 2 : 2 * i + 1] = o1[j];
		}
	}
	__syncwarp();
}

/* qkv_head for one warp: v (this warp's [256] floats of shared memory). */
__device__ void qkv_head_warp(int kind, const float *src, const float *bias, const float *nw, int pos,
                              const kern_attn_shape &s, float *v)
{
	int lane = threadIdx.x & 31, D = s.head_dim;
	float ss = 0.f;
	for (int i = lane; i < D; i += 32) {
		float t = __ldcg(src + i) + (bias ? bias[i] : 0.f);
		v[i] = t;
		ss += t * t;
	}
	if (kind == 2) {
		__syncwarp();
		return;
	}
	if (nw) {
		float rs = rsqrtf(warp_sum(ss) / (float)D + s.eps);
		for (int i = lane; i < D; i += 32) v[i] = v[i] * rs * nw[i];
	}
	__syncwarp();
	float f[4];
#pragma unroll
	for (int j = 0; j < 4; j++) {
		int i = lane + 32 * j;
		f[j] = i < D / 2 ? (s.d_inv_freq ? s.d_inv_freq[i] : 1.0f / powf(s.rope_theta, (float)(2 * i) / (float)D)) : 0.f;
	}
	rope_warp(v, s, pos, f);
}

/* qkv_head_warp with the head's constants loaded beforehand (head_pre): lane
 * holds elements lane + 32 j (j < 8) of the bias and norm weights and RoPE
 * frequencies lane + 32 j (j < 4). */
struct HeadPre {
	float b[8], n[8], f[4];
	const float *sc; /* rope_pre's table of cos and sin at pos, or NULL */
	bool has_b, has_n;
};
__device__ __forceinline__ void head_pre(HeadPre &p, int kind, const float *bias, const float *nw,
                                         const kern_attn_shape &s)
{
	int lane = threadIdx.x & 31, D = s.head_dim;
	p.has_b = bias != NULL;
	p.has_n = nw != NULL && kind < 2;
	p.sc = NULL;
#pragma unroll
	for (int j = 0; j < 8; j++) {
		int i = lane + 32 * j;
		p.b[j] = bias && i < D ? bias[i] : 0.f;
		p.n[j] = p.has_n && i < D ? nw[i] : 1.f;
	}
#pragma unroll
	for (int j = 0; j < 4; j++) {
		int i = lane + 32 * j;
		p.f[j] = kind < 2 && i < D / 2
		             ? (s.d_inv_freq ? s.d_inv_freq[i] : 1.0f / powf(s.rope_theta, (float)(2 * i) / (float)D))
		             : 0.f;
	}
}
/* The RoPE rotation at pos into tab (this warp's 256 floats of shared memory:
 * cos of pair i at i, sin at 128 + i): pos is known before the PDL wait, so the
 * sines leave the critical path.  Only this lane reads its entries back (rope_warp). */
__device__ __forceinline__ void rope_pre(HeadPre &p, int pos, float *tab, int D)
{
	int lane = threadIdx.x & 31;
#pragma unroll
	for (int j = 0; j < 4; j++) {
		int i = lane + 32 * j;
		if (i < D / 2) sincosf((float)pos * p.f[j], &tab[128 + i], &tab[i]);
	}
	p.sc = tab;
}
__device__ void qkv_head_warp_pre(int kind, const float *src, const HeadPre &p, int pos, const kern_attn_shape &s,
                                  float *v)
{
	int lane = threadIdx.x & 31, D = s.head_dim;
	float t[8], ss = 0.f;
#pragma unroll
	for (int j = 0; j < 8; j++) {
		int i = lane + 32 * j;
		t[j] = i < D ? __ldcg(src + i) + p.b[j] : 0.f;
		ss += t[j] * t[j];
	}
	float rs = p.has_n ? rsqrtf(warp_sum(ss) / (float)D + s.eps) : 1.f;
#pragma unroll
	for (int j = 0; j < 8; j++) {
		int i = lane + 32 * j;
		if (i < D) v[i] = p.has_n ? t[j] * rs * p.n[j] : t[j];
	}
	__syncwarp();
	if (kind == 2) return;
	rope_warp(v, s, pos, p.f, p.sc);
}

/* RoPE (NeoX pairs i, i + D/2, D = 64 HJ) in registers: t[j] is element
 * lane + 32 j, its partner t[j +- HJ]; tab is rope_pre's table. */
template <int HJ>
__device__ __forceinline__ void rope_regs_neox(float (&t)[8], const float *tab)
{
	int lane = threadIdx.x & 31;
	float o[2 * HJ];
#pragma unroll
	for (int j = 0; j < HJ; j++) {
		int i = lane + 32 * j;
		float cs = tab[i], sn = tab[128 + i], x0 = t[j], x1 = t[j + HJ];
		o[j] = x0 * cs - x1 * sn;
		o[j + HJ] = x0 * sn + x1 * cs;
	}
#pragma unroll
	for (int j = 0; j < 2 * HJ; j++) t[j] = o[j];
}
/* qkv_head_warp_pre with the result in registers: t[j] = element lane + 32 j
 * (j < 8, 0 past D).  NeoX RoPE with D % 64 == 0 and rope_pre's table stays in
 * registers; otherwise it goes through v (this warp's shared floats). */
__device__ __forceinline__ void qkv_head_regs(int kind, const float *src, const HeadPre &p, int pos,
                                              const kern_attn_shape &s, float *v, float (&t)[8])
{
	int lane = threadIdx.x & 31, D = s.head_dim;
	float ss = 0.f;
#pragma unroll
	for (int j = 0; j < 8; j++) {
		int i = lane + 32 * j;
		t[j] = i < D ? __ldcg(src + i) + p.b[j] : 0.f;
		ss += t[j] * t[j];
	}
	if (p.has_n) {
		float rs = rsqrtf(warp_sum(ss) / (float)D + s.eps);
#pragma unroll
		for (int j = 0; j < 8; j++) t[j] = t[j] * rs * p.n[j];
	}
	if (kind == 2) return;
	if (s.rope_neox && p.sc && D % 64 == 0) {
		switch (D / 64) {
		case 1: rope_regs_neox<1>(t, p.sc); return;
		case 2: rope_regs_neox<2>(t, p.sc); return;
		case 3: rope_regs_neox<3>(t, p.sc); return;
		default: rope_regs_neox<4>(t, p.sc); return;
		}
	}
#pragma unroll
	for (int j = 0; j < 8; j++)
		if (lane + 32 * j < D) v[lane + 32 * j] = t[j];
	__syncwarp();
	rope_warp(v, s, pos, p.f, p.sc);
#pragma unroll
	for (int j = 0; j < 8; j++)
		if (lane + 32 * j < D) t[j] = v[lane + 32 * j];
	__syncwarp();
}

static int attn_shape_ok(const kern_attn_shape *s)
{
	return s && s->n_head > 0 && s->n_head_kv > 0 && s->n_head % s->n_head_kv == 0 &&
	       s->head_dim > 0 && s->head_dim <= 256 && s->head_dim % 8 == 0 && s->n_ctx > 0;
}

extern "C" int kern_qkv_post(const float *d_qkv, const float *d_bq, const float *d_bk, const float *d_bv,
                             const float *d_qn, const float *d_kn, float *d_q, void *d_kc, void *d_vc,
                             const int *d_pos, int n, const kern_attn_shape *s, void *stream)
{
	if (!attn_shape_ok(s) || n < 0) return (int)cudaErrorInvalidValue;
	if (n == 0) return 0;
	dim3 grid(s->n_head + 2 * s->n_head_kv, n);
	KLAUNCH(qkv_post_kernel, grid, dim3(128), 0, as_stream(stream), d_qkv, d_bq, d_bk, d_bv, d_qn, d_kn, d_q,
	                                                     (__half *)d_kc, (__half *)d_vc, d_pos, *s);
	return 0;
}

/* ---- attention ----------------------------------------------------------------------
 * attn_split_kernel: grid (n_head_kv, n_split, n), block 128.  Block (kh, sp, t)
 * takes the key range sp of query t for the G = n_head/n_head_kv query heads
 * that share kv head kh (K and V read once for all of them): scores into
 * shared memory, a local softmax (max m, sum l), and o = sum p*v, unnormalised.
 * attn_merge_kernel merges the ranges: o = sum e^(m_s-m) o_s / sum e^(m_s-m) l_s. */

#define ATT_THREADS 128
#define ATT_MAX_CHUNK 256
#define ATT_MIN_CHUNK 32
#define ATT_GB 8 /* query heads per pass */
#define ATT_TK 32 /* keys per shared-memory tile */

/* Key ranges in use for a query that sees L keys (the same in both kernels). */
__device__ __forceinline__ int attn_eff_splits(int L, int n_split)
{
	int eff = (L + ATT_MIN_CHUNK - 1) / ATT_MIN_CHUNK;
	return eff < n_split ? eff : n_split;
}

/* K and V are read a tile of 32 keys at a time into shared memory with 16-byte
 * loads from every thread (the tile is contiguous in the cache), rows padded
 * by 16 bytes so that reading a key per thread is free of bank conflicts. */
struct __align__(16) AttSmem {
	float qs[ATT_GB][256];
	float sc[ATT_GB][ATT_MAX_CHUNK];
	float mstat[ATT_GB], lstat[ATT_GB];
	float oacc[ATT_GB * 256]; /* [sub][g][d] */
	uint4 tile[ATT_TK * (256 + 8) / 8];
};

/* 16-byte load: through the read-only cache (data constant for the kernel's
 * life) or, with COH, from L2 (data another block of the same kernel wrote). */
template <bool COH> __device__ __forceinline__ uint4 ld16(const uint4 *p) { return COH ? __ldcg(p) : __ldg(p); }
template <bool COH> __device__ __forceinline__ float ldf(const float *p) { return COH ? __ldcg(p) : *p; }

/* Key range sp (of eff, for a query that sees L keys) of query t for the G
 * query heads of kv head kh; blockDim.x threads (a multiple of 32, >= 128).
 * qall == NULL: q (scaled by 1/sqrt(D)) is already in sm.qs, G <= ATT_GB. */
template <bool COH>
__device__ void attn_range(const float *qall, const __half *kc, const __half *vc, int kh, int sp, int t, int L,
                           int eff, int n_split, const kern_attn_shape &s, float *part, AttSmem &sm)
{
	const int NT = blockDim.x;
	int D = s.head_dim;
	int G = s.n_head / s.n_head_kv, H = s.n_head;
	int chunk = (L + eff - 1) / eff;
	int start = sp * chunk, end = min(L, start + chunk);
	float scale = rsqrtf((float)D);
	size_t pstride = (size_t)D + 2;
	int DP = D + 8, D8 = D / 8, DP8 = DP / 8; /* padded row, in halves / uint4 */
	const uint4 *kbase = (const uint4 *)(kc + (size_t)kh * s.n_ctx * D);
	const uint4 *vbase = (const uint4 *)(vc + (size_t)kh * s.n_ctx * D);
	const __half *th = (const __half *)sm.tile;
	for (int g0 = 0; g0 < G; g0 += ATT_GB) {
		int gn = min(ATT_GB, G - g0);
		__syncthreads();
		if (qall)
			for (int i = threadIdx.x; i < gn * D; i += NT) {
				int g = i / D, d = i % D;
				sm.qs[g][d] = ldf<COH>(qall + (size_t)t * H * D + (size_t)(kh * G + g0 + g) * D + d) * scale;
			}
		/* scores, a tile at a time: thread = (g, key) */
		for (int p0 = start; p0 < end; p0 += ATT_TK) {
			int nt = min(ATT_TK, end - p0);
			__syncthreads();
			for (int i = threadIdx.x; i < nt * D8; i += NT)
				sm.tile[(i / D8) * DP8 + i % D8] = ld16<COH>(kbase + (size_t)p0 * D8 + i);
			__syncthreads();
			for (int j = threadIdx.x; j < gn * nt; j += NT) {
				int g = j / nt, p = j % nt;
				const uint4 *kr = sm.tile + p * DP8; /* 16-byte reads: conflict-free with the padding */
				const float4 *qq = (const float4 *)sm.qs[g];
				float acc = 0.f;
#pragma unroll 4
				for (int d8 = 0; d8 < D8; d8++) {
					uint4 w = kr[d8];
					float2 k0 = __half22float2(*(const __half2 *)&w.x), k1 = __half22float2(*(const __half2 *)&w.y);
					float2 k2 = __half22float2(*(const __half2 *)&w.z), k3 = __half22float2(*(const __half2 *)&w.w);
					float4 a = qq[2 * d8], b = qq[2 * d8 + 1];
					acc += k0.x * a.x + k0.y * a.y + k1.x * a.z + k1.y * a.w
					     + k2.x * b.x + k2.y * b.y + k3.x * b.z + k3.y * b.w;
				}
				sm.sc[g][p0 - start + p] = acc;
			}
		}
		__syncthreads();
		/* softmax statistics per head: warp w takes heads w, w + NT/32, ... */
		int lane = threadIdx.x & 31, w = threadIdx.x >> 5, n = end - start;
		for (int g = w; g < gn; g += NT / 32) {
			float m = -INFINITY;
			for (int i = lane; i < n; i += 32) m = fmaxf(m, sm.sc[g][i]);
			m = warp_max(m);
			float l = 0.f;
			for (int i = lane; i < n; i += 32) {
				float e = expf(sm.sc[g][i] - m);
				sm.sc[g][i] = e;
				l += e;
			}
			l = warp_sum(l);
			if (lane == 0) {
				sm.mstat[g] = m;
				sm.lstat[g] = l;
			}
		}
		/* o[g][d] = sum_p e[g][p] * v[p][d]: thread = (d, sub), a V tile at a time;
		 * the nsub partial sums are added in a fixed order (deterministic). */
		int nsub = D >= NT ? 1 : NT / D;
		int sub = threadIdx.x / D;
		float acc[2][ATT_GB];
#pragma unroll
		for (int g = 0; g < ATT_GB; g++) acc[0][g] = acc[1][g] = 0.f;
		for (int p0 = start; p0 < end; p0 += ATT_TK) {
			int nt = min(ATT_TK, end - p0);
			__syncthreads();
			for (int i = threadIdx.x; i < nt * D8; i += NT)
				sm.tile[(i / D8) * DP8 + i % D8] = ld16<COH>(vbase + (size_t)p0 * D8 + i);
			__syncthreads();
			if (sub < nsub) {
#pragma unroll
				for (int k = 0; k < 2; k++) {
					int d0 = threadIdx.x % D + k * NT;
					if (d0 >= D) break;
					for (int p = sub; p < nt; p += nsub) {
						float vv = __half2float(th[p * DP + d0]);
#pragma unroll
						for (int g = 0; g < ATT_GB; g++)
							if (g < gn) acc[k][g] += sm.sc[g][p0 - start + p] * vv;
					}
				}
			}
		}
		if (sub < nsub) {
#pragma unroll
			for (int k = 0; k < 2; k++) {
				int d0 = threadIdx.x % D + k * NT;
				if (d0 >= D) break;
#pragma unroll
				for (int g = 0; g < ATT_GB; g++)
					if (g < gn) sm.oacc[(sub * gn + g) * D + d0] = acc[k][g];
			}
		}
		__syncthreads();
		for (int i = threadIdx.x; i < gn * D; i += NT) {
			int g = i / D, d = i % D;
			float o = 0.f;
			for (int k = 0; k < nsub; k++) o += sm.oacc[(k * gn + g) * D + d];
			float *p = part + (((size_t)t * H + kh * G + g0 + g) * n_split + sp) * pstride;
			p[d] = o;
			if (d == 0) {
				p[D] = sm.mstat[g];
				p[D + 1] = sm.lstat[g];
			}
		}
	}
}

__global__ void __launch_bounds__(ATT_THREADS)
attn_split_kernel(const float *__restrict__ qall, const __half *__restrict__ kc, const __half *__restrict__ vc,
                  const int *d_pos, int n_split, kern_attn_shape s, float *part)
{
	PDL_ENTER();
	__shared__ AttSmem sm;
	int kh = blockIdx.x, sp = blockIdx.y, t = blockIdx.z;
	int L = *d_pos + t + 1; /* keys visible to query t */
	int eff = attn_eff_splits(L, n_split);
	if (sp >= eff) return; /* the merge reads only ranges < eff */
	attn_range<false>(qall, kc, vc, kh, sp, t, L, eff, n_split, s, part, sm);
}

/* grid (n_head, n), block 128: weights of the ranges in parallel, then o. */
__global__ void attn_merge_kernel(const float *part, const int *d_pos, int n_split, int H, int D, float *out)
{
	PDL_ENTER();
	__shared__ float wgt[1024];
	__shared__ float red[32];
	int h = blockIdx.x, t = blockIdx.y;
	int eff = attn_eff_splits(*d_pos + t + 1, n_split);
	size_t pstride = (size_t)D + 2;
	const float *base = part + ((size_t)t * H + h) * n_split * pstride;
	float m = -INFINITY;
	for (int sp = threadIdx.x; sp < eff; sp += blockDim.x) m = fmaxf(m, base[sp * pstride + D]);
	m = warp_max(m);
	if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = m;
	__syncthreads();
	m = red[0];
	for (int i = 1; i < (int)(blockDim.x >> 5); i++) m = fmaxf(m, red[i]);
	__syncthreads();
	float l = 0.f;
	for (int sp = threadIdx.x; sp < eff; sp += blockDim.x) {
		float e = expf(base[sp * pstride + D] - m);
		wgt[sp] = e;
		l += e * base[sp * pstride + D + 1];
	}
	l = block_sum(l, red);
	float inv = 1.f / l;
	__syncthreads();
	for (int d = threadIdx.x; d < D; d += blockDim.x) {
		float o = 0.f;
#pragma unroll 4
		for (int sp = 0; sp < eff; sp++) o += wgt[sp] * base[sp * pstride + d];
		out[((size_t)t * H + h) * D + d] = o * inv;
	}
}

extern "C" int kern_attn_min_split(int n_ctx)
{
	int s = (n_ctx + ATT_MAX_CHUNK - 1) / ATT_MAX_CHUNK;
	return s < 1 ? 1 : s;
}

extern "C" size_t kern_attn_scratch_floats(const kern_attn_shape *s, int n, int n_split)
{
	return (size_t)n * s->n_head * n_split * ((size_t)s->head_dim + 2);
}

/* ---- prefill attention, tiled and causal ------------------------------------------------
 * attn_prefill_kernel: grid (n_head, ceil(n / BQ)), block APF_THREADS, BQ = APF_THREADS / LPQ.
 * Block (h, tile) takes BQ consecutive queries of head h, LPQ lanes per query:
 * lane part holds dims [8c, 8c + 8) for the chunks c = part, part + LPQ, ... of
 * q (scaled) and of its output in registers.  Keys 0 .. the tile's last
 * position go through shared memory APF_BK at a time (K and V read once per
 * tile of queries, not once per query); each lane dots its chunks with every
 * key of the tile, shuffles complete the score, and an online softmax (running
 * max m, sum l, o rescaled when m grows) accumulates o = P V in f32.  Keys
 * after a query's own position are masked (causal).  The tiles needing the
 * most keys are started first (blockIdx.y reversed). */
#define APF_THREADS 128
#define APF_BK 32

__device__ __forceinline__ float dot8h(uint4 w, const float *q)
{
	float2 a = __half22float2(*(const __half2 *)&w.x), b = __half22float2(*(const __half2 *)&w.y);
	float2 c = __half22float2(*(const __half2 *)&w.z), d = __half22float2(*(const __half2 *)&w.w);
	return a.x * q[0] + a.y * q[1] + b.x * q[2] + b.y * q[3] + c.x * q[4] + c.y * q[5] + d.x * q[6] + d.y * q[7];
}

template <int LPQ, int NJ>
__global__ void __launch_bounds__(APF_THREADS)
attn_prefill_kernel(const float *__restrict__ qall, const __half *__restrict__ kc, const __half *__restrict__ vc,
                    const int *d_pos, int n, kern_attn_shape s, float *__restrict__ out)
{
	PDL_ENTER();
	constexpr int BQ = APF_THREADS / LPQ;
	const int D = s.head_dim, D8 = D / 8, H = s.n_head, G = H / s.n_head_kv;
	extern __shared__ uint4 apf_sm[];
	uint4 *kt = apf_sm, *vt = apf_sm + APF_BK * D8; /* APF_BK rows of D halves each */
	const int h = blockIdx.x, kh = h / G;
	const int q0 = (gridDim.y - 1 - blockIdx.y) * BQ;
	const int part = threadIdx.x % LPQ, t = q0 + threadIdx.x / LPQ;
	const bool live = t < n;
	const int pos0 = *d_pos, qpos = pos0 + t;
	const int last = pos0 + min(n, q0 + BQ) - 1; /* the tile's last key */
	const float scale = rsqrtf((float)D);
	float qv[NJ * 8], o[NJ * 8];
#pragma unroll
	for (int j = 0; j < NJ; j++) {
		int c = part + LPQ * j;
		const float4 *src = (const float4 *)(qall + ((size_t)t * H + h) * D + c * 8);
		float4 a = make_float4(0.f, 0.f, 0.f, 0.f), b = a;
		if (live && c < D8) { a = src[0]; b = src[1]; }
		qv[8 * j + 0] = a.x * scale; qv[8 * j + 1] = a.y * scale; qv[8 * j + 2] = a.z * scale; qv[8 * j + 3] = a.w * scale;
		qv[8 * j + 4] = b.x * scale; qv[8 * j + 5] = b.y * scale; qv[8 * j + 6] = b.z * scale; qv[8 * j + 7] = b.w * scale;
#pragma unroll
		for (int k = 0; k < 8; k++) o[8 * j + k] = 0.f;
	}
	float m = -INFINITY, l = 0.f;
	const uint4 *kb = (const uint4 *)(kc + (size_t)kh * s.n_ctx * D);
	const uint4 *vb = (const uint4 *)(vc + (size_t)kh * s.n_ctx * D);
	for (int p0 = 0; p0 <= last; p0 += APF_BK) {
		const int nt = min(APF_BK, last + 1 - p0);
		__syncthreads();
		for (int i = threadIdx.x; i < nt * D8; i += APF_THREADS) {
			kt[i] = __ldg(kb + (size_t)p0 * D8 + i);
			vt[i] = __ldg(vb + (size_t)p0 * D8 + i);
		}
		__syncthreads();
		float sc[APF_BK];
#pragma unroll
		for (int p = 0; p < APF_BK; p++) {
			float acc = 0.f;
			if (p < nt) {
#pragma unroll
				for (int j = 0; j < NJ; j++) {
					int c = part + LPQ * j;
					if (c < D8) acc += dot8h(kt[p * D8 + c], qv + 8 * j);
				}
			}
			sc[p] = acc;
		}
		float mt = -INFINITY;
#pragma unroll
		for (int p = 0; p < APF_BK; p++) {
#pragma unroll
			for (int x = 1; x < LPQ; x <<= 1) sc[p] += __shfl_xor_sync(0xffffffffu, sc[p], x);
			sc[p] = (p < nt && p0 + p <= qpos) ? sc[p] : -INFINITY;
			mt = fmaxf(mt, sc[p]);
		}
		const float mn = fmaxf(m, mt);
		if (mn == -INFINITY) continue; /* no key of this tile is visible to this query */
		const float corr = expf(m - mn);
		l *= corr;
#pragma unroll
		for (int k = 0; k < NJ * 8; k++) o[k] *= corr;
		m = mn;
#pragma unroll
		for (int p = 0; p < APF_BK; p++) {
			if (p0 + p > qpos || p >= nt) break; /* later keys are masked (causal) */
			const float e = expf(sc[p] - mn);
			l += e;
#pragma unroll
			for (int j = 0; j < NJ; j++) {
				int c = part + LPQ * j;
				if (c < D8) {
					uint4 w = vt[p * D8 + c];
					float2 a = __half22float2(*(const __half2 *)&w.x), b = __half22float2(*(const __half2 *)&w.y);
					float2 cc = __half22float2(*(const __half2 *)&w.z), d = __half22float2(*(const __half2 *)&w.w);
					o[8 * j + 0] += e * a.x; o[8 * j + 1] += e * a.y; o[8 * j + 2] += e * b.x; o[8 * j + 3] += e * b.y;
					o[8 * j + 4] += e * cc.x; o[8 * j + 5] += e * cc.y; o[8 * j + 6] += e * d.x; o[8 * j + 7] += e * d.y;
				}
			}
		}
	}
	if (!live) return;
	const float inv = 1.f / l;
#pragma unroll
	for (int j = 0; j < NJ; j++) {
		int c = part + LPQ * j;
		if (c >= D8) continue;
		float4 *dst = (float4 *)(out + ((size_t)t * H + h) * D + c * 8);
		dst[0] = make_float4(o[8 * j + 0] * inv, o[8 * j + 1] * inv, o[8 * j + 2] * inv, o[8 * j + 3] * inv);
		dst[1] = make_float4(o[8 * j + 4] * inv, o[8 * j + 5] * inv, o[8 * j + 6] * inv, o[8 * j + 7] * inv);
	}
}

template <int LPQ, int NJ>
static int attn_prefill_launch(const float *q, const __half *kc, const __half *vc, float *o, const int *d_pos, int n,
                               const kern_attn_shape *s, cudaStream_t st)
{
	constexpr int BQ = APF_THREADS / LPQ;
	dim3 grid(s->n_head, (n + BQ - 1) / BQ);
	size_t smem = (size_t)2 * APF_BK * (s->head_dim / 8) * sizeof(uint4);
	KLAUNCH(attn_prefill_kernel<LPQ, NJ>, grid, dim3(APF_THREADS), smem, st, q, kc, vc, d_pos, n, *s, o);
	return 0;
}

/* Lanes per query of the prefill attention: 8 (default) or 4, 16 (VIGIL_CUDA_APF_LPQ). */
static int apf_lpq(void)
{
	static int v = 0;
	if (!v) {
		const char *e = getenv("VIGIL_CUDA_APF_LPQ");
		int x = e ? atoi(e) : 8;
		v = x == 4 || x == 16 ? x : 8;
	}
	return v;
}

template <int LPQ>
static int attn_prefill(const float *q, const __half *kc, const __half *vc, float *o, const int *d_pos, int n,
                        const kern_attn_shape *s, cudaStream_t st)
{
	switch ((s->head_dim / 8 + LPQ - 1) / LPQ) {
	case 1: return attn_prefill_launch<LPQ, 1>(q, kc, vc, o, d_pos, n, s, st);
	case 2: return attn_prefill_launch<LPQ, 2>(q, kc, vc, o, d_pos, n, s, st);
	case 3: return attn_prefill_launch<LPQ, 3>(q, kc, vc, o, d_pos, n, s, st);
	case 4: return attn_prefill_launch<LPQ, 4>(q, kc, vc, o, d_pos, n, s, st);
	case 5: return attn_prefill_launch<LPQ, 5>(q, kc, vc, o, d_pos, n, s, st);
	case 6: return attn_prefill_launch<LPQ, 6>(q, kc, vc, o, d_pos, n, s, st);
	case 7: return attn_prefill_launch<LPQ, 7>(q, kc, vc, o, d_pos, n, s, st);
	default: return attn_prefill_launch<LPQ, 8>(q, kc, vc, o, d_pos, n, s, st);
	}
}

extern "C" int kern_attention(const float *d_q, const void *d_kc, const void *d_vc, float *d_o,
                              const int *d_pos, int n, int n_split, const kern_attn_shape *s,
                              float *d_scratch, void *stream)
{
	if (!attn_shape_ok(s) || n < 0 || n_split < kern_attn_min_split(s->n_ctx) || n_split > 1024)
		return (int)cudaErrorInvalidValue;
	if (n == 0) return 0;
	cudaStream_t st = as_stream(stream);
	if (n > 1) { /* prefill: tiles of queries (the key-range split below serves one query) */
		const __half *kc = (const __half *)d_kc, *vc = (const __half *)d_vc;
		int lpq = apf_lpq();
		return lpq == 4 ? attn_prefill<4>(d_q, kc, vc, d_o, d_pos, n, s, st)
		     : lpq == 16 ? attn_prefill<16>(d_q, kc, vc, d_o, d_pos, n, s, st)
		                 : attn_prefill<8>(d_q, kc, vc, d_o, d_pos, n, s, st);
	}
	dim3 g1(s->n_head_kv, n_split, n);
	KLAUNCH(attn_split_kernel, g1, dim3(ATT_THREADS), 0, st, (const float *)d_q, (const __half *)d_kc,
	                                              (const __half *)d_vc, d_pos, n_split, *s, d_scratch);
	dim3 g2(s->n_head, n);
	KLAUNCH(attn_merge_kernel, g2, dim3(128), 0, st, (const float *)d_scratch, d_pos, n_split, s->n_head, s->head_dim, d_o);
	return 0;
}

/* ---- decode attention, fused ------------------------------------------------------------
 * attn_dec_kernel, for one token (decode): the q/k/v post-processing of
 * kern_qkv_post, the F16 cache write at pos and split-K attention in one
 * kernel.  grid (n_head_kv, n_split, head groups), block ATD_THREADS.  The
 * keys [0, L = pos + 1) are one range while L <= cap (the rows that fit the
 * block's shared memory), else eff = ceil(L / chunk) ranges of equal length; block (kh, sp, hg) takes range sp for query heads hg*GH ..
 * hg*GH + GH-1 of the G that share kv head kh (blocks with sp >= eff exit):
 * more blocks at short context, K and V read once per head group.  Before the PDL wait the block starts copying the K and V rows
 * of its range that precede pos into shared memory (cp.async, all at once):
 * those rows were written by earlier tokens, and *d_pos by a copy before the
 * graph, so neither is written by the kernels this one may overlap.  After the
 * wait, one warp per item post-processes the G query heads and (the range
 * holding pos) this position's k and v, which go to shared memory and to the
 * cache.  Scores, softmax and o = P V from shared memory.  One range: o is
 * written normalised; several: each block writes its partial (o unnormalised,
 * max, sum) and the last block of kv head kh to finish (a counter, left zeroed)
 * merges them in a fixed order; where there can be many ranges, grid row
 * y = n_split adds a merger block per (kv head, head group) that merges them
 * instead, with its code already warm (see the merger below). */
#define ATD_THREADS 384
#define ATD_WARPS (ATD_THREADS / 32)

/* Phase clock of attn_dec_kernel (kern_attn_dec_prof), compiled in only with
 * -DVIGIL_ATD_PROF (the checker's attnprof mode). */
#ifdef VIGIL_ATD_PROF
__device__ long long *g_atd_prof;
#define ATD_STAMP(i)                                                                                   \
	do {                                                                                               \
		if (threadIdx.x == 0 && g_atd_prof)                                                          \
			g_atd_prof[(blockIdx.x + gridDim.x * (blockIdx.y + (size_t)gridDim.y * blockIdx.z)) * KERN_ATD_NSTAMP + (i)] = \
			    atd_clock();                                                                             \
	} while (0)
#ifdef VIGIL_ATD_GT /* global nanoseconds: comparable across SMs (check_model timeline) */
__device__ __forceinline__ long long atd_clock()
{
	unsigned long long t;
	asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
	return (long long)t;
}
#else
__device__ __forceinline__ long long atd_clock() { return clock64(); }
#endif
extern "C" int kern_attn_dec_prof(long long *d_buf)
{
	return (int)cudaMemcpyToSymbol(g_atd_prof, &d_buf, sizeof d_buf);
}
#else
#define ATD_STAMP(i) do { } while (0)
#endif
#define ATD_PVG 2 /* query heads per pass of o = P V */

/* Shared memory of attn_dec_kernel.  oacc (the P V partial sums, one row of 8
 * dims per thread and head of a pass) and wv (each warp's head vector during
 * the q/k/v post-processing) are used in different phases and share bytes. */
struct AtdLayout {
	size_t kt, vt, qs, sc, oacc, wv, st, total;
};
static __host__ __device__ inline AtdLayout atd_layout(int D, int G, int chunk, int n_split)
{
	AtdLayout L;
	size_t o = 0, row = (size_t)(D + 8) * 2;
	int nsc = chunk > n_split ? chunk : n_split;
	L.kt = o; o += (size_t)chunk * row;
	L.vt = o; o += (size_t)chunk * row;
	L.qs = o; o += (size_t)G * D * 4;
	L.sc = o; o += ((size_t)G * nsc * 4 + 15) & ~(size_t)15;
	size_t oa = (size_t)ATD_THREADS * 8 * ATD_PVG * 4, w = (size_t)ATD_WARPS * 2 * 256 * 4; /* + RoPE tables */
	L.oacc = L.wv = o; o += oa > w ? oa : w;
	L.st = o; o += ((size_t)G * 2 * 4 + 15) & ~(size_t)15;
	L.total = o;
	return L;
}

/* The merge of kv head kh's eff partials (query heads g_lo .. g_lo + gq - 1)
 * into out, by one block: by the last range block to finish, or by a merger
 * block (attn_dec_kernel).  meff < eff (0): the register
 * merge's instructions with its loads and stores predicated off, to bring
 * its code into this SM's instruction cache ahead of the real pass. */
template <int DT>
__device__ __forceinline__ void atd_merge(const float *part, float *out, int kh, int G, int g_lo, int gq, int D,
                                          int n_split, int eff, int meff, float *sc, float *mst)
{
	const int NT = ATD_THREADS;
	const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
	if (DT) D = DT;
	const size_t pstride = (size_t)D + 2;
	if (DT && eff <= 32) { /* (the generic kernel would spill more with it) */
		/* Each warp merges 32 outputs of one head in registers: lane k loads
		 * range k's m and l while every lane loads its output's eff partials,
		 * all in one round, and the weights go round by shuffles (no shared
		 * memory, no barrier).  The same arithmetic in the same order as the
		 * loop below, so the same bits.  Plain (weak) loads: thread 0's acquire
		 * (the last range block's fence, the merger's load of the count)
		 * invalidated this SM's L1 and the barrier orders every thread after
		 * it.  ld.global.cg compiles to LDG.STRONG.GPU, and with it a
		 * Qwen3-0.6B bf16 token at 4096 took 27 us longer on an H200
		 * (bench/RESULTS.md, session 21). */
		for (int i0 = warp * 32; i0 < gq * D; i0 += NT) { /* warp-uniform: NT and DT are multiples of 32 */
			int g = i0 / D, dd = i0 % D + lane;
			const float *hb = part + (size_t)(kh * G + g_lo + g) * n_split * pstride;
			float pv[32];
#pragma unroll
			for (int k = 0; k < 32; k++) pv[k] = k < meff ? hb[(size_t)k * pstride + dd] : 0.f;
			float ms = lane < meff ? hb[(size_t)lane * pstride + D] : -INFINITY;
			float ls = lane < meff ? hb[(size_t)lane * pstride + D + 1] : 0.f;
			float m = warp_max(ms), e = 0.f, l = 0.f;
			if (lane < meff) {
				e = expf(ms - m);
				l = e * ls;
			}
			l = warp_sum(l);
			float o = 0.f;
#pragma unroll
			for (int k = 0; k < 32; k++) {
				float ek = __shfl_sync(0xffffffffu, e, k);
				if (k < meff) o += ek * pv[k];
			}
			if (i0 == 0 && meff) ATD_STAMP(11);
			if (meff) out[(kh * G + g_lo + g) * D + dd] = o * (1.f / l);
		}
		return;
	}
	float *wg = sc; /* [gq][eff] */
	for (int g = warp; g < gq; g += ATD_WARPS) {
		const float *base = part + (size_t)(kh * G + g_lo + g) * n_split * pstride;
		float m = -INFINITY, l = 0.f;
		/* Up to 32 ranges, a range per lane: its m and l in one round of loads.
		 * (One loop for any count, each lane's ranges folded online with
		 * rescaling, was no faster than the old two-round loop: Qwen3-0.6B bf16
		 * at 4096 1.160 against 1.143 ms on an H200, bench/RESULTS.md B9.) */
		if (eff <= 32) {
			float ms = lane < eff ? __ldcg(base + lane * pstride + D) : -INFINITY;
			float ls = lane < eff ? __ldcg(base + lane * pstride + D + 1) : 0.f;
			m = warp_max(ms);
			if (lane < eff) {
				float e = expf(ms - m);
				wg[g * eff + lane] = e;
				l = e * ls;
			}
		} else {
			for (int s2 = lane; s2 < eff; s2 += 32) m = fmaxf(m, __ldcg(base + s2 * pstride + D));
			m = warp_max(m);
			for (int s2 = lane; s2 < eff; s2 += 32) {
				float e = expf(__ldcg(base + s2 * pstride + D) - m);
				wg[g * eff + s2] = e;
				l += e * __ldcg(base + s2 * pstride + D + 1);
			}
		}
		l = warp_sum(l);
		if (lane == 0) mst[g] = 1.f / l;
	}
	__syncthreads();
	for (int i = threadIdx.x; i < gq * D; i += NT) {
		int g = i / D, dd = i % D;
		const float *base = part + (size_t)(kh * G + g_lo + g) * n_split * pstride + dd;
		float o = 0.f;
		for (int s0 = 0; s0 < eff; s0 += 32) { /* 32 loads in flight, summed in order */
			float pv[32];
#pragma unroll
			for (int k = 0; k < 32; k++) pv[k] = s0 + k < eff ? __ldcg(base + (size_t)(s0 + k) * pstride) : 0.f;
#pragma unroll
			for (int k = 0; k < 32; k++)
				if (s0 + k < eff) o += wg[g * eff + s0 + k] * pv[k];
		}
		out[(kh * G + g_lo + g) * D + dd] = o * mst[g];
	}
}

/* DT: the head_dim as a constant (64, 128), or 0 for any.  With a constant,
 * each warp's own head is post-processed in registers (qkv_head_regs; the
 * generic kernel spilled more with it, bench/RESULTS.md E2). */
template <int DT>
__global__ void __launch_bounds__(ATD_THREADS, 2)
attn_dec_kernel(const float *qkv, const float *bq, const float *bk, const float *bv, const float *qn, const float *kn,
                __half *kc, __half *vc, float *out, const int *d_pos, int chunk, int cap, int n_split, int GH,
                int gh1, kern_attn_shape s, float *part, unsigned *cnt, int merger)
{
	extern __shared__ __align__(16) unsigned char atd_smem[];
	__shared__ int s_last;
	pdl_trigger();
	const int NT = ATD_THREADS;
	if (DT) s.head_dim = DT; /* a constant for the compiler: fewer live registers (no spills) */
	int D = s.head_dim, G = s.n_head / s.n_head_kv, kh = blockIdx.x, sp = blockIdx.y, hg = blockIdx.z;
	int pos = *d_pos, L = pos + 1;
	int eff = L <= cap ? 1 : (L + chunk - 1) / chunk; /* ranges <= chunk <= cap keys, or one <= cap */
	if (eff > n_split) eff = n_split; /* never, with n_split = ceil(n_ctx / chunk) */
	int g_lo, gq; /* this block's query heads: g_lo .. g_lo + gq - 1 */
	/* merger > 0: grid row y = n_split holds a merger block per (kv head, head
	 * group), which merges wherever there are at least merger ranges; fewer,
	 * and the last range block to finish merges, as without it. */
	const int mg = merger && eff >= max(2, merger);
	if (merger && sp == n_split) {
		/* The merger of (kh, hg): the range blocks only count themselves in;
		 * this block, resident from the start, first runs the register
		 * merge's code without loads (warming this SM's instruction cache
		 * while the ranges are read), then waits for the count and merges
		 * with that code warm.  In the last range block, the merge's first
		 * run took ~2.6 us inside the graph against ~0.9 us warm; the merger
		 * fences at the count and has the sums ~1.15 us later
		 * (bench/RESULTS.md, sessions 22 and 23). */
		if (!mg) return;
		g_lo = hg * GH;
		gq = min(GH, G - g_lo);
		if (gq <= 0) return;
		AtdLayout ly = atd_layout(D, GH, cap, n_split);
		float *sc = (float *)(atd_smem + ly.sc), *mst = (float *)(atd_smem + ly.st);
		unsigned *ctr = cnt + kh * gridDim.z + hg;
		ATD_STAMP(0);
#pragma unroll 1
		for (int pass = DT && eff <= 32 ? 0 : 1; pass < 2; pass++) {
			if (pass == 1) {
				pdl_wait(); /* out may be read by kernels before this one's wait */
				if (threadIdx.x == 0) {
					/* Acquire loads, spun without sleeping: the one that sees
					 * the full count orders every thread's loads of the
					 * partials after the barrier below, as the acquire fence
					 * does in the last range block.  A relaxed poll with
					 * __nanosleep(32) and a fence after it made a token at
					 * 4096 keys 5-7 us slower on an H200 (bench/RESULTS.md,
					 * session 23, V2). */
					unsigned c;
					do
						asm volatile("ld.acquire.gpu.global.u32 %0, [%1];" : "=r"(c) : "l"(ctr) : "memory");
					while (c < (unsigned)eff);
					*ctr = 0;
				}
				__syncthreads();
				ATD_STAMP(10);
			}
			atd_merge<DT>(part, out, kh, G, g_lo, gq, D, n_split, eff, pass ? eff : 0, sc, mst);
		}
		ATD_STAMP(9);
		return;
	}
	if (gh1 && eff == 1 && (int)((gridDim.y - (merger != 0)) * gridDim.z) >= G) { /* (not the merger row) */
		/* one range: block b of kv head kh (over y and z) takes query head b
		 * alone, G blocks where GH heads a block would make ceil(G / GH) */
		int b = sp * (int)gridDim.z + hg;
		if (b >= G) return;
		g_lo = b;
		gq = 1;
		sp = 0;
	} else {
		if (sp >= eff) return;
		g_lo = hg * GH;
		gq = min(GH, G - g_lo);
	}
	ATD_STAMP(0);
	int len = (L + eff - 1) / eff, start = sp * len, end = min(L, start + len), nk = end - start;
	AtdLayout ly = atd_layout(D, GH, cap, n_split);
	__half *kt = (__half *)(atd_smem + ly.kt), *vt = (__half *)(atd_smem + ly.vt);
	float *qs = (float *)(atd_smem + ly.qs), *sc = (float *)(atd_smem + ly.sc);
	float *oacc = (float *)(atd_smem + ly.oacc), *mst = (float *)(atd_smem + ly.st), *lst = mst + GH;
	int DP = D + 8, D8 = D / 8, nsc = cap > n_split ? cap : n_split;
	/* the rows before pos: constant here, copied before the wait */
	int npre = min(end, pos) - start;
	const __half *kb = kc + (size_t)kh * s.n_ctx * D + (size_t)start * D;
	const __half *vb = vc + (size_t)kh * s.n_ctx * D + (size_t)start * D;
	{ /* K, then V in a second group: the scores need only K */
		int rp = NT / D8, c = threadIdx.x % D8; /* rp rows per pass, thread = (row, 16-byte chunk c) */
		bool on = threadIdx.x < rp * D8;
		for (int r = threadIdx.x / D8; on && r < npre; r += rp) cp_async16_stream(kt + r * DP + c * 8, kb + (size_t)r * D + c * 8);
		cp_async_commit();
		for (int r = threadIdx.x / D8; on && r < npre; r += rp) cp_async16_stream(vt + r * DP + c * 8, vb + (size_t)r * D + c * 8);
		cp_async_commit();
	}
	int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
	int q_dim = s.n_head * D, kv_dim = s.n_head_kv * D;
	int has_pos = end == L, items = gq + (has_pos ? 2 : 0);
	/* this warp's first item: its bias, norm weights and RoPE frequencies
	 * (constant) into registers before the wait */
	HeadPre pre;
	if (warp < items) {
		int it = warp, kind = it < gq ? 0 : 1 + (it - gq);
		int h = kind == 0 ? kh * G + g_lo + it : kh;
		const float *b = kind == 0 ? bq : kind == 1 ? bk : bv;
		head_pre(pre, kind, b ? b + h * D : NULL, kind == 0 ? qn : kind == 1 ? kn : NULL, s);
		if (kind < 2) /* RoPE's sines: the second half of the oacc bytes, free until o = P V */
			rope_pre(pre, pos, (float *)(atd_smem + ly.wv) + (ATD_WARPS + warp) * 256, D);
	}
	ATD_STAMP(1);
	pdl_wait();
	ATD_STAMP(2);
	float scale = rsqrtf((float)D);
	float *wv = (float *)(atd_smem + ly.wv) + warp * 256;
	for (int it = warp; it < items; it += ATD_WARPS) {
		if (it < gq) {
			int h = kh * G + g_lo + it;
			if (DT && it == warp) {
				float t[8];
				qkv_head_regs(0, qkv + h * D, pre, pos, s, wv, t);
#pragma unroll
				for (int j = 0; j < 8; j++)
					if (lane + 32 * j < D) qs[it * D + lane + 32 * j] = t[j] * scale;
				continue;
			}
			if (it == warp) qkv_head_warp_pre(0, qkv + h * D, pre, pos, s, wv);
			else qkv_head_warp(0, qkv + h * D, bq ? bq + h * D : NULL, qn, pos, s, wv);
			for (int i = lane; i < D; i += 32) qs[it * D + i] = wv[i] * scale;
		} else { /* every block of kv head kh computes k and v of pos; the one with query head 0 stores them */
			int isv = it - gq;
			const float *src = qkv + q_dim + isv * kv_dim + kh * D;
			if (DT && it == warp) {
				float t[8];
				qkv_head_regs(1 + isv, src, pre, pos, s, wv, t);
				__half *dst = (isv ? vc : kc) + ((size_t)kh * s.n_ctx + pos) * D;
				__half *sd = (isv ? vt : kt) + (size_t)(pos - start) * DP;
#pragma unroll
				for (int j = 0; j < 8; j++) {
					int e = lane + 32 * j;
					if (e < D) {
						__half hv = __float2half_rn(t[j]);
						if (g_lo == 0) dst[e] = hv;
						sd[e] = hv;
					}
				}
				continue;
			}
			if (it == warp)
				qkv_head_warp_pre(1 + isv, src, pre, pos, s, wv);
			else
				qkv_head_warp(1 + isv, src, isv ? (bv ? bv + kh * D : NULL) : (bk ? bk + kh * D : NULL),
				              isv ? NULL : kn, pos, s, wv);
			__half *dst = (isv ? vc : kc) + ((size_t)kh * s.n_ctx + pos) * D;
			__half *sd = (isv ? vt : kt) + (size_t)(pos - start) * DP;
			for (int i = lane; i < D; i += 32) {
				__half hv = __float2half_rn(wv[i]);
				if (g_lo == 0) dst[i] = hv;
				sd[i] = hv;
			}
		}
		__syncwarp();
	}
	ATD_STAMP(3);
	cp_async_wait1(); /* K: at most the V group still in flight */
	__syncthreads();
	ATD_STAMP(4);
	/* scores: thread = (g, key) */
	for (int j = threadIdx.x; j < gq * nk; j += NT) {
		int g = j / nk, p = j % nk;
		const uint4 *kr = (const uint4 *)(kt + p * DP);
		const float4 *qq = (const float4 *)(qs + g * D);
		float acc = 0.f;
#pragma unroll 4
		for (int d8 = 0; d8 < D8; d8++) {
			uint4 w = kr[d8];
			float2 k0 = __half22float2(*(const __half2 *)&w.x), k1 = __half22float2(*(const __half2 *)&w.y);
			float2 k2 = __half22float2(*(const __half2 *)&w.z), k3 = __half22float2(*(const __half2 *)&w.w);
			float4 a = qq[2 * d8], b = qq[2 * d8 + 1];
			acc += k0.x * a.x + k0.y * a.y + k1.x * a.z + k1.y * a.w + k2.x * b.x + k2.y * b.y + k3.x * b.z + k3.y * b.w;
		}
		sc[g * nsc + p] = acc;
	}
	__syncthreads();
	ATD_STAMP(5);
	for (int g = warp; g < gq; g += ATD_WARPS) {
		float m = -INFINITY;
		for (int i = lane; i < nk; i += 32) m = fmaxf(m, sc[g * nsc + i]);
		m = warp_max(m);
		float l = 0.f;
		for (int i = lane; i < nk; i += 32) {
			float e = expf(sc[g * nsc + i] - m);
			sc[g * nsc + i] = e;
			l += e;
		}
		l = warp_sum(l);
		if (lane == 0) {
			mst[g] = m;
			lst[g] = l;
		}
	}
	cp_async_wait_all(); /* V */
	__syncthreads();
	ATD_STAMP(6);
	/* o[g][d] = sum_p e[g][p] v[p][d], ATD_PVG heads per pass: thread = (key
	 * subset ks, 8 dims c8) reads 16 bytes of a V row per key; the nks partial
	 * sums of each output are added in a fixed order */
	int nks = NT / D8, ks = threadIdx.x / D8, c8 = threadIdx.x % D8;
	size_t pstride = (size_t)D + 2;
	for (int g0 = 0; g0 < gq; g0 += ATD_PVG) {
		int gn = min(ATD_PVG, gq - g0);
		if (ks < nks) {
			float acc[ATD_PVG][8];
#pragma unroll
			for (int g = 0; g < ATD_PVG; g++)
#pragma unroll
				for (int k = 0; k < 8; k++) acc[g][k] = 0.f;
			for (int p = ks; p < nk; p += nks) {
				uint4 w = *(const uint4 *)(vt + p * DP + c8 * 8);
				float2 v0 = __half22float2(*(const __half2 *)&w.x), v1 = __half22float2(*(const __half2 *)&w.y);
				float2 v2 = __half22float2(*(const __half2 *)&w.z), v3 = __half22float2(*(const __half2 *)&w.w);
#pragma unroll
				for (int g = 0; g < ATD_PVG; g++)
					if (g < gn) {
						float e = sc[(g0 + g) * nsc + p];
						acc[g][0] += e * v0.x; acc[g][1] += e * v0.y; acc[g][2] += e * v1.x; acc[g][3] += e * v1.y;
						acc[g][4] += e * v2.x; acc[g][5] += e * v2.y; acc[g][6] += e * v3.x; acc[g][7] += e * v3.y;
					}
			}
#pragma unroll
			for (int g = 0; g < ATD_PVG; g++)
				if (g < gn) {
					float4 *dst = (float4 *)(oacc + (size_t)(ks * ATD_PVG + g) * D + c8 * 8);
					dst[0] = make_float4(acc[g][0], acc[g][1], acc[g][2], acc[g][3]);
					dst[1] = make_float4(acc[g][4], acc[g][5], acc[g][6], acc[g][7]);
				}
		}
		__syncthreads();
		for (int i = threadIdx.x; i < gn * D; i += NT) {
			int g = i / D, dd = i % D, h = kh * G + g_lo + g0 + g;
			const float *oa = oacc + (size_t)g * D + dd;
			const size_t st2 = (size_t)ATD_PVG * D;
			float o0 = 0.f, o1 = 0.f, o2 = 0.f, o3 = 0.f;
			int k = 0;
			for (; k + 4 <= nks; k += 4) {
				o0 += oa[k * st2];
				o1 += oa[(k + 1) * st2];
				o2 += oa[(k + 2) * st2];
				o3 += oa[(k + 3) * st2];
			}
			for (; k < nks; k++) o0 += oa[k * st2];
			float o = (o0 + o1) + (o2 + o3);
			if (eff == 1) {
				out[h * D + dd] = o / lst[g0 + g];
			} else {
				float *pp = part + ((size_t)h * n_split + sp) * pstride;
				pp[dd] = o;
				if (dd == 0) {
					pp[D] = mst[g0 + g];
					pp[D + 1] = lst[g0 + g];
				}
			}
		}
		__syncthreads();
	}
	ATD_STAMP(7);
	if (eff == 1) return;
	/* The last range of kv head kh to finish merges the eff partials of its G
	 * heads.  The barrier orders the block's partial writes before thread 0's
	 * release fence and counter; in the last block, thread 0's acquire fence
	 * and the next barrier order the other blocks' partials before every
	 * thread's loads: cooperative groups' grid-barrier pattern, with acq_rel
	 * fences by one thread in place of a sequentially consistent one by each
	 * (whose last-block fence alone took ~1 050 cycles; bench/RESULTS.md K3). */
	__syncthreads();
	unsigned *ctr = cnt + kh * gridDim.z + hg;
	if (mg) { /* counted in; the merger block does the rest */
		if (threadIdx.x == 0) {
			asm volatile("fence.acq_rel.gpu;" ::: "memory");
			atomicAdd(ctr, 1u);
		}
		ATD_STAMP(8);
		return;
	}
	if (threadIdx.x == 0) {
		asm volatile("fence.acq_rel.gpu;" ::: "memory");
		int last = atomicAdd(ctr, 1u) == (unsigned)eff - 1;
		if (last) asm volatile("fence.acq_rel.gpu;" ::: "memory");
		s_last = last;
	}
	__syncthreads();
	ATD_STAMP(8);
	if (!s_last) return;
	ATD_STAMP(10);
	atd_merge<DT>(part, out, kh, G, g_lo, gq, D, n_split, eff, eff, sc, mst);
	if (threadIdx.x == 0) *ctr = 0;
	ATD_STAMP(9);
}

static int atd_gh(const kern_attn_shape *s);
/* 1 unless the environment variable is set to 0: the switches below are on by
 * default and kept for measuring (bench/RESULTS.md, session 10). */
static int env_on(const char *name)
{
	const char *e = getenv(name);
	return !(e && *e && atoi(e) == 0);
}
/* One query head per block while the keys are one range (short context);
 * VIGIL_CUDA_ATD_GH1=0 keeps GH heads per block there too. */
static int atd_gh1(void)
{
	static int v = -1;
	if (v < 0) v = env_on("VIGIL_CUDA_ATD_GH1");
	return v;
}
/* The fewest key ranges whose merge goes to a merger block of its own
 * (attn_dec_kernel); VIGIL_CUDA_ATD_MERGER=N sets it, 0 turns mergers off.
 * 24, on an H200 (bench/RESULTS.md, session 23): Qwen3-0.6B at 4096 keys
 * (32 ranges) was 11-16 us a token faster with them (q4_K 1-12 us), and the
 * same at 128; from 2 ranges, Qwen3 q8_0 at 128 keys (2 ranges) was 8 us
 * slower, and from 12, Qwen2.5-0.5B bf16 at 4096 (16 ranges of 256 keys)
 * 7 us slower.  With 24, Qwen2.5 launches no merger at 4096 and none merges
 * at 128, yet its q4_K-mix model was 4-6 us slower at both (bf16 and q8_0
 * 0-2 us): the kernel's code changed; not resolved. */
#define ATD_MERGER_MIN 24
static int atd_merger_min(void)
{
	static int v = -1;
	if (v < 0) {
		const char *e = getenv("VIGIL_CUDA_ATD_MERGER");
		v = e && *e ? atoi(e) : ATD_MERGER_MIN;
		if (v < 0 || v > 1 << 20) v = ATD_MERGER_MIN;
	}
	return v;
}
static int attn_dec_splits(const kern_attn_shape *s, int chunk)
{
	return (s->n_ctx + chunk - 1) / chunk;
}
#define ATD_SMEM_BUDGET (112 * 1024) /* two blocks per SM */

/* Rows of K and V a block holds: the most (<= 256, a multiple of 32) within
 * ATD_SMEM_BUDGET, at least 32. */
static int atd_rows(const kern_attn_shape *s, int n_split)
{
	for (int c = 256; c > 32; c -= 32)
		if (atd_layout(s->head_dim, atd_gh(s), c, n_split).total <= ATD_SMEM_BUDGET) return c;
	return 32;
}

/* Range length at long context, never more than the rows a block holds.
 * Default 128: at context 4096 on an H100 the Qwen3-0.6B shape decoded 9 %
 * faster than with 256 (2026-11-26); 160, what a block holds for that shape,
 * was within 1 % of 128 on an H200 (2026-11-27). */
extern "C" int kern_attn_dec_chunk(const kern_attn_shape *s, int chunk)
{
	if (!attn_shape_ok(s)) return 0;
	if (chunk <= 0) chunk = 128;
	chunk = (chunk + 31) / 32 * 32;
	if (chunk > 256) chunk = 256;
	int fit = atd_rows(s, attn_dec_splits(s, 32));
	return chunk < fit ? chunk : fit;
}

extern "C" size_t kern_attn_dec_scratch_floats(const kern_attn_shape *s, int chunk)
{
	chunk = kern_attn_dec_chunk(s, chunk);
	if (!chunk) return 0;
	return (size_t)s->n_head * attn_dec_splits(s, chunk) * ((size_t)s->head_dim + 2);
}

static int g_atd_gh = 2; /* query heads per block (kern_attn_dec_heads) */
extern "C" void kern_attn_dec_heads(int gh)
{
	g_atd_gh = gh > 0 ? gh : 2;
}
static int atd_gh(const kern_attn_shape *s)
{
	int G = s->n_head / s->n_head_kv;
	return g_atd_gh < G ? g_atd_gh : G;
}

extern "C" int kern_attn_dec_ok(const kern_attn_shape *s, int chunk)
{
	chunk = kern_attn_dec_chunk(s, chunk);
	if (!chunk) return 0;
	int dev = 0, maxopt = 0;
	if (cudaGetDevice(&dev) != cudaSuccess ||
	    cudaDeviceGetAttribute(&maxopt, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev) != cudaSuccess) {
		(void)cudaGetLastError();
		return 0;
	}
	int ns = attn_dec_splits(s, chunk);
	AtdLayout ly = atd_layout(s->head_dim, atd_gh(s), atd_rows(s, ns), ns);
	return ly.total + 64 <= (size_t)maxopt;
}

extern "C" int kern_attn_decode(const float *d_qkv, const float *d_bq, const float *d_bk, const float *d_bv,
                                const float *d_qn, const float *d_kn, void *d_kc, void *d_vc, float *d_o,
                                const int *d_pos, const kern_attn_shape *s, int chunk, float *d_scratch,
                                unsigned int *d_cnt, void *stream)
{
	if (!attn_shape_ok(s) || !d_qkv || !d_kc || !d_vc || !d_o || !d_pos || !d_scratch || !d_cnt)
		return (int)cudaErrorInvalidValue;
	if (!kern_attn_dec_ok(s, chunk)) return (int)cudaErrorInvalidValue;
	chunk = kern_attn_dec_chunk(s, chunk);
	int n_split = attn_dec_splits(s, chunk);
	int GH = atd_gh(s), G = s->n_head / s->n_head_kv, cap = atd_rows(s, n_split);
	if (cap < chunk) cap = chunk;
	AtdLayout ly = atd_layout(s->head_dim, GH, cap, n_split);
	/* head_dim a compile-time constant where it is 64 or 128: the generic kernel
	 * (any head_dim) spills and keeps more in local memory, and ran 17-21 % of a
	 * whole decode token slower (session 10, call G1) */
	int di = s->head_dim == 64 ? 1 : s->head_dim == 128 ? 2 : 0;
	void (*kf)(const float *, const float *, const float *, const float *, const float *, const float *, __half *,
	           __half *, float *, const int *, int, int, int, int, int, kern_attn_shape, float *, unsigned *, int) =
	    di == 1 ? attn_dec_kernel<64> : di == 2 ? attn_dec_kernel<128> : attn_dec_kernel<0>;
	static size_t smem_set[3];
	if (ly.total > 48 * 1024 && ly.total > smem_set[di]) {
		KCHECK(cudaFuncSetAttribute(kf, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)ly.total));
		smem_set[di] = ly.total;
	}
	/* A merger block per (kv head, head group) where this launch can have
	 * enough ranges, and only where those blocks fill at most a quarter of what
	 * the device holds at once: they wait on the range blocks, which must find
	 * room.  (The range blocks wait on nothing of this launch, and the next
	 * kernel's blocks start only once every block of this one has.) */
	int merger = atd_merger_min(), zg = (G + GH - 1) / GH;
	if (merger && n_split >= max(2, merger)) {
		static int fit_di = -1;
		static size_t fit_smem;
		static long fit_blocks; /* blocks of kf resident at once, device-wide */
		if (fit_di != di || fit_smem != ly.total) {
			int per = 0;
			if (cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per, kf, ATD_THREADS, ly.total) != cudaSuccess) {
				(void)cudaGetLastError();
				per = 0; /* unknown: no mergers */
			}
			fit_blocks = (long)per * num_sms();
			fit_di = di;
			fit_smem = ly.total;
		}
		if (4L * s->n_head_kv * zg > fit_blocks) merger = 0;
	} else
		merger = 0;
	KLAUNCH(kf, dim3(s->n_head_kv, n_split + (merger != 0), zg), dim3(ATD_THREADS), ly.total,
	        as_stream(stream), d_qkv, d_bq, d_bk, d_bv, d_qn, d_kn, (__half *)d_kc, (__half *)d_vc, d_o, d_pos, chunk,
	        cap, n_split, GH, atd_gh1(), *s, d_scratch, d_cnt, merger);
	return 0;
}

/* ---- sampling --------------------------------------------------------------------------- */


/* Many blocks: each reduces its share to (key << 32 | ~index) and atomicMax-es it
 * into scratch[0]; the last block to finish (counter scratch[1]) converts it,
 * writes *out and zeroes the scratch for the next call. */
__global__ void argmax_kernel(const float *x, int n, int *out, unsigned long long *best, unsigned int *count)
{
	PDL_ENTER();
	uint64_t b = 0; /* larger key wins, then lower index */
	for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
		uint64_t c = am_key(x[i], i);
		if (c > b) b = c;
	}
	am_block_finish(b, out, best, count);
}

extern "C" int kern_argmax(const float *d_x, int n, int *d_out, void *d_scratch, void *stream)
{
	if (!d_x || !d_out || !d_scratch || n <= 0) return (int)cudaErrorInvalidValue;
	int blocks = (n + 1023) / 1024;
	if (blocks > num_sms()) blocks = num_sms();
	KLAUNCH(argmax_kernel, dim3(blocks), dim3(256), 0, as_stream(stream), d_x, n, d_out,
	        (unsigned long long *)d_scratch, (unsigned int *)((char *)d_scratch + 8));
	return 0;
}

#define SAMPLE_CAP 2048
#define SAMPLE_MAXK 1024

/* One block of 1024 threads.  1. radix-select the key of the k-th largest value;
 * 2. gather candidates with key >= it (ties beyond SAMPLE_CAP dropped);
 * 3. bitonic sort by (value desc, index asc), keep k; 4. softmax, top-p, draw. */
__global__ void __launch_bounds__(1024)
sample_kernel(const float *x, int n, float temp, int k, float top_p, float u, int *out)
{
	PDL_ENTER();
	__shared__ unsigned hist[256];
	__shared__ uint32_t s_prefix, s_remain, s_count;
	__shared__ uint64_t cand[SAMPLE_CAP];
	if (threadIdx.x == 0) {
		s_prefix = 0;
		s_remain = (uint32_t)k;
		s_count = 0;
	}
	__syncthreads();
	for (int pass = 3; pass >= 0; pass--) {
		for (int i = threadIdx.x; i < 256; i += blockDim.x) hist[i] = 0;
		__syncthreads();
		uint32_t prefix = s_prefix;
		int shift = pass * 8;
		uint32_t hmask = pass == 3 ? 0u : (0xffffffffu << (shift + 8));
		for (int i = threadIdx.x; i < n; i += blockDim.x) {
			uint32_t key = fkey(x[i]);
			if ((key & hmask) == (prefix & hmask)) atomicAdd(&hist[(key >> shift) & 255], 1u);
		}
		__syncthreads();
		if (threadIdx.x == 0) {
			uint32_t rem = s_remain, cum = 0;
			int bin = 255;
			for (; bin > 0; bin--) {
				if (cum + hist[bin] >= rem) break;
				cum += hist[bin];
			}
			s_prefix = (prefix & hmask) | ((uint32_t)bin << shift);
			s_remain = rem - cum;
		}
		__syncthreads();
	}
	uint32_t thr = s_prefix;
	for (int i = threadIdx.x; i < n; i += blockDim.x) {
		uint32_t key = fkey(x[i]);
		if (key >= thr) {
			uint32_t slot = atomicAdd(&s_count, 1u);
			if (slot < SAMPLE_CAP) cand[slot] = ((uint64_t)key << 32) | (uint32_t)(~(uint32_t)i);
		}
	}
	__syncthreads();
	int m = (int)min(s_count, (uint32_t)SAMPLE_CAP);
	for (int i = m + threadIdx.x; i < SAMPLE_CAP; i += blockDim.x) cand[i] = 0;
	__syncthreads();
	/* bitonic sort, descending */
	for (int size = 2; size <= SAMPLE_CAP; size <<= 1) {
		for (int stride = size >> 1; stride > 0; stride >>= 1) {
			for (int i = threadIdx.x; i < SAMPLE_CAP; i += blockDim.x) {
				int j = i ^ stride;
				if (j > i) {
					bool desc = (i & size) == 0;
					uint64_t a = cand[i], b = cand[j];
					if (desc ? (a < b) : (a > b)) {
						cand[i] = b;
						cand[j] = a;
					}
				}
			}
			__syncthreads();
		}
	}
	if (threadIdx.x == 0) {
		int kk = min(k, m);
		float vmax = x[~(uint32_t)(cand[0] & 0xffffffffu)];
		float total = 0.f;
		for (int i = 0; i < kk; i++) total += expf((x[~(uint32_t)(cand[i] & 0xffffffffu)] - vmax) / temp);
		/* top-p: the shortest prefix whose mass reaches top_p */
		float cum = 0.f;
		int keep = kk;
		for (int i = 0; i < kk; i++) {
			cum += expf((x[~(uint32_t)(cand[i] & 0xffffffffu)] - vmax) / temp) / total;
			if (cum >= top_p) {
				keep = i + 1;
				break;
			}
		}
		float mass = 0.f;
		for (int i = 0; i < keep; i++) mass += expf((x[~(uint32_t)(cand[i] & 0xffffffffu)] - vmax) / temp);
		float target = u * mass, acc = 0.f;
		int pick = keep - 1;
		for (int i = 0; i < keep; i++) {
			acc += expf((x[~(uint32_t)(cand[i] & 0xffffffffu)] - vmax) / temp);
			if (target < acc) {
				pick = i;
				break;
			}
		}
		*out = m > 0 ? (int)(~(uint32_t)(cand[pick] & 0xffffffffu)) : -1;
	}
}

extern "C" int kern_sample(const float *d_x, int n, float temp, int top_k, float top_p, float u, int *d_out,
                           void *stream)
{
	if (!d_x || !d_out || n <= 0 || !(temp > 0.f) || !(top_p > 0.f) || top_p > 1.f || !(u >= 0.f) || u >= 1.f)
		return (int)cudaErrorInvalidValue;
	if (top_k <= 0 || top_k > SAMPLE_MAXK) top_k = SAMPLE_MAXK;
	if (top_k > n) top_k = n;
	KLAUNCH(sample_kernel, dim3(1), dim3(1024), 0, as_stream(stream), d_x, n, temp, top_k, top_p, u, d_out);
	return 0;
}

/* ---- prefill helpers ------------------------------------------------------------------ */

__global__ void dequant_kernel(int type, const void *q, const void *s, int rows, int cols, void *dst, int dt)
{
	PDL_ENTER();
	size_t total = (size_t)rows * cols;
	if (cols % 8 == 0) { /* 8 elements of one row per step: one division, 16/32-byte stores */
		for (size_t i = ((size_t)blockIdx.x * blockDim.x + threadIdx.x) * 8; i < total;
		     i += (size_t)gridDim.x * blockDim.x * 8) {
			int r = (int)(i / cols), e = (int)(i % cols);
			float v[8];
#pragma unroll
			for (int k = 0; k < 8; k++) v[k] = deq_elem(type, q, s, cols, r, e + k);
			if (dt == T_F32) {
				((float4 *)dst)[i / 4] = make_float4(v[0], v[1], v[2], v[3]);
				((float4 *)dst)[i / 4 + 1] = make_float4(v[4], v[5], v[6], v[7]);
			} else {
				uint4 u;
				unsigned short *h = (unsigned short *)&u;
#pragma unroll
				for (int k = 0; k < 8; k++)
					h[k] = dt == T_F16 ? __half_as_ushort(__float2half_rn(v[k]))
					                   : __bfloat16_as_ushort(__float2bfloat16_rn(v[k]));
				((uint4 *)dst)[i / 8] = u;
			}
		}
		return;
	}
	for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
		int r = (int)(i / cols), e = (int)(i % cols);
		float v = deq_elem(type, q, s, cols, r, e);
		if (dt == T_F32) ((float *)dst)[i] = v;
		else if (dt == T_F16) ((__half *)dst)[i] = __float2half_rn(v);
		else ((__nv_bfloat16 *)dst)[i] = __float2bfloat16_rn(v);
	}
}

extern "C" int kern_dequant(const kern_mat *W, void *d_dst, int dst_type, void *stream)
{
	if (!W || !d_dst || !kern_type_ok(W->type) || (dst_type != T_F32 && dst_type != T_F16 && dst_type != T_BF16))
		return (int)cudaErrorInvalidValue;
	size_t total = (size_t)W->rows * W->cols, blocks = (total + 255) / 256;
	if (blocks > (size_t)num_sms() * 16) blocks = (size_t)num_sms() * 16;
	KLAUNCH(dequant_kernel, dim3((unsigned)blocks), dim3(256), 0, as_stream(stream), W->type, W->q, W->s, W->rows, W->cols,
	                                                                 d_dst, dst_type);
	return 0;
}

__global__ void convert_kernel(const float *src, void *dst, int dt, size_t n)
{
	PDL_ENTER();
	for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
		if (dt == T_F16) ((__half *)dst)[i] = __float2half_rn(src[i]);
		else ((__nv_bfloat16 *)dst)[i] = __float2bfloat16_rn(src[i]);
	}
}

extern "C" int kern_convert(const float *d_src, void *d_dst, int dst_type, size_t n, void *stream)
{
	if (!d_src || !d_dst || (dst_type != T_F16 && dst_type != T_BF16)) return (int)cudaErrorInvalidValue;
	if (n == 0) return 0;
	size_t blocks = (n + 255) / 256;
	if (blocks > (size_t)num_sms() * 16) blocks = (size_t)num_sms() * 16;
	KLAUNCH(convert_kernel, dim3((unsigned)blocks), dim3(256), 0, as_stream(stream), d_src, d_dst, dst_type, n);
	return 0;
}

/* ---- persistent decode kernel (kern.h: kern_decode_persistent) ------------------------
 * Activations written by other blocks of the same launch are read with __ldcg
 * (from L2: the SM's L1 may hold a stale copy from an earlier layer); weights,
 * constant, through the read-only path.  The grid barrier: a 64-bit counter
 * that only grows; every launch adds exactly nbar * gridDim.x, so a block's
 * first arrival tells it where this launch started. */

#define PD_WARPS 8
#define PD_THREADS (PD_WARPS * 32)
#define PD_U 4

__device__ __forceinline__ unsigned long long ld_acquire_u64(const unsigned long long *p)
{
	unsigned long long v;
	asm volatile("ld.acquire.gpu.global.u64 %0, [%1];" : "=l"(v) : "l"(p) : "memory");
	return v;
}

/* The counter is spread over PD_NCTR words 128 bytes apart (block b arrives
 * on word b % PD_NCTR, fewer atomics queue on one L2 line); its value is
 * their sum, read by PD_NCTR lanes of warp 0 at once.  Arrival is a release
 * reduction (no reply awaited); the poll an acquire load. */
#define PD_NCTR 8
#define PD_CSTRIDE 16 /* u64 words between counters */
struct PdBar {
	unsigned long long *ctr;
	unsigned long long target; /* warp 0's */
};

/* Barrier variants (BV), timed by kern_barrier_test: 0 one counter, acquire
 * polls; 1 one counter, relaxed polls then a fence; 2 PD_NCTR counters,
 * acquire polls. */
#ifndef PD_BV
#define PD_BV 1
#endif
__device__ __forceinline__ unsigned long long ld_relaxed_u64(const unsigned long long *p)
{
	unsigned long long v;
	asm volatile("ld.relaxed.gpu.global.u64 %0, [%1];" : "=l"(v) : "l"(p) : "memory");
	return v;
}

template <int BV>
__device__ __forceinline__ unsigned long long pd_count(const unsigned long long *ctr)
{
	if (BV == 0) return ld_acquire_u64(ctr);
	if (BV == 1) return ld_relaxed_u64(ctr);
	int lane = threadIdx.x & 31;
	unsigned long long v = lane < PD_NCTR ? ld_acquire_u64(ctr + lane * PD_CSTRIDE) : 0ull;
#pragma unroll
	for (int o = 4; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
	return __shfl_sync(0xffffffffu, v, 0);
}

/* At kernel start (warp 0): no block can have passed this launch's first
 * barrier yet, so the count lies in [base, base + gridDim.x) and every launch
 * adds exactly period = barriers * gridDim.x. */
template <int BV = PD_BV>
__device__ __forceinline__ void pd_bar_init(PdBar &b, unsigned long long *ctr, unsigned long long period)
{
	b.ctr = ctr;
	b.target = 0;
	if (threadIdx.x < 32) {
		unsigned long long c = pd_count<BV == 2 ? 2 : 0>(ctr);
		b.target = c - c % period;
	}
}

/* Release: the block's writes are ordered before thread 0's release reduction
 * by __syncthreads (cumulativity); acquire: the polling load (or the fence
 * after relaxed polls), then __syncthreads for the other threads. */
template <int BV = PD_BV>
__device__ __forceinline__ void pd_sync(PdBar &b, long long *prof = NULL)
{
	__syncthreads();
	if (prof && threadIdx.x == 0) prof[0] = clock64(); /* arrival: the block's work is done */
	if (threadIdx.x < (BV == 2 ? 32 : 1)) {
		if (threadIdx.x == 0)
			asm volatile("red.release.gpu.global.add.u64 [%0], 1;" ::"l"(b.ctr + (BV == 2 ? (blockIdx.x % PD_NCTR) * PD_CSTRIDE : 0))
			             : "memory");
		b.target += gridDim.x;
		while (pd_count<BV>(b.ctr) < b.target) {
		}
		if (BV == 1) asm volatile("fence.acq_rel.gpu;" ::: "memory");
	}
	__syncthreads();
	if (prof && threadIdx.x == 0) prof[1] = clock64(); /* departure */
}

/* Barrier test: phase i, every block writes i into its slot, then checks all
 * slots hold i after the barrier. */
template <int BV>
__global__ void barrier_test_kernel(unsigned long long *ctr, int n, int *slots, int *errors)
{
	PdBar b;
	pd_bar_init<BV>(b, ctr, (unsigned long long)n * gridDim.x);
	for (int i = 1; i <= n; i++) {
		if (threadIdx.x == 0) slots[blockIdx.x] = i;
		pd_sync<BV>(b);
		int bad = 0;
		for (int j = threadIdx.x; j < (int)gridDim.x; j += blockDim.x)
			if (__ldcg(slots + j) < i) bad = 1;
		if (bad) atomicAdd(errors, 1);
	}
}

struct PdMv {
	const uint8_t *q, *s;  /* global */
	int rows_out, cols;
	const float *x, *norm; /* x read with __ldcg */
	float *y;
	int acc, swiglu, wpr;
	size_t qrow, srow;     /* bytes of one row of q / s */
	/* this block's rows [r0, r1); the first n_sm of them (and their SwiGLU
	 * partners) are copied to shared memory: q at sq, s at ss_ */
	int r0, r1, n_sm;
	const uint8_t *sq, *ss_, *ss2; /* ss2: the SwiGLU partner rows' s */
};

/* Shared-memory copy of this block's first rows of a matrix: layout in the
 * buffer [q rows][q partner rows][s rows + slack][s partner rows + slack];
 * spans copied 16 bytes at a time with cp.async (aligned down / up: kern_mat
 * allocations carry 16 bytes of slack), so s lands at the same address
 * modulo 16 as in global memory. */

/* Copies global [g, g + n) so that byte g lands at dst_base + (g & 15);
 * returns that address. */
__device__ __forceinline__ const uint8_t *pd_span(uint8_t *dst_base, const uint8_t *g, size_t n)
{
	uintptr_t ga = (uintptr_t)g & ~(uintptr_t)15, gb = ((uintptr_t)g + n + 15) & ~(uintptr_t)15;
	for (uintptr_t off = (uintptr_t)threadIdx.x * 16; off < gb - ga; off += (uintptr_t)blockDim.x * 16)
		cp_async16(dst_base + off, (const void *)(ga + off));
	return dst_base + ((uintptr_t)g & 15);
}

/* Rows of a block's window that fit in buf bytes (all of them at most). */
__device__ __forceinline__ int pd_fit(const PdMv &m, size_t buf)
{
	int halves = m.swiglu ? 2 : 1;
	size_t per = (size_t)halves * (m.qrow + m.srow), fixed = m.srow ? (size_t)halves * 32 : 0;
	if (buf <= fixed || per == 0) return 0;
	unsigned n = (unsigned)(buf - fixed) / (unsigned)per; /* 32-bit: both well under 4 GB */
	int nr = m.r1 - m.r0;
	return n < (size_t)nr ? (int)n : nr;
}

/* Places m's first n_sm rows in buf (layout above); with issue, also starts
 * the copies (every thread; one commit group, empty when n_sm is 0). */
__device__ void pd_window(PdMv &m, uint8_t *buf, size_t bufbytes, bool issue)
{
	m.n_sm = bufbytes ? pd_fit(m, bufbytes) : 0;
	m.sq = buf;
	m.ss_ = m.ss2 = NULL;
	if (m.n_sm > 0) {
		int halves = m.swiglu ? 2 : 1;
		size_t qn = (size_t)m.n_sm * m.qrow, sn = (size_t)m.n_sm * m.srow;
		if (issue)
			for (int h = 0; h < halves; h++)
				pd_span(buf + h * qn, m.q + ((size_t)m.r0 + (size_t)h * m.rows_out) * m.qrow, qn);
		if (m.srow) {
			uint8_t *sb = buf + halves * qn;
			size_t sstride = (sn + 16 + 15) & ~(size_t)15;
			for (int h = 0; h < halves; h++) {
				const uint8_t *g = m.s + ((size_t)m.r0 + (size_t)h * m.rows_out) * m.srow;
				const uint8_t *a = issue ? pd_span(sb + h * sstride, g, sn) : sb + h * sstride + ((uintptr_t)g & 15);
				if (h == 0) m.ss_ = a;
				else m.ss2 = a;
			}
		}
	}
	if (issue) cp_async_commit();
}

/* Row i (0 <= i < r1 - r0) of the block: its chunk batch `it` from shared
 * memory (i < n_sm) or global memory. */
template <int T>
__device__ __forceinline__ void pd_mv_load(const PdMv &m, int i, int it, WRaw (&w)[PD_U], WRaw (&w2)[PD_U])
{
	const int E = MvT<T>::E;
	int C = m.cols / E, lane = threadIdx.x & 31, sub = (threadIdx.x >> 5) % m.wpr;
	if (i >= m.r1 - m.r0) return;
	bool insm = i < m.n_sm;
#pragma unroll
	for (int u = 0; u < PD_U; u++) {
		int c = ((it * m.wpr + sub) * PD_U + u) * 32 + lane;
		if (c < C) {
			if (insm) {
				w[u] = load_chunk<T, true>(m.sq, m.ss_, m.cols, i, c);
				if (m.swiglu) w2[u] = load_chunk<T, true>(m.sq + (size_t)m.n_sm * m.qrow, m.ss2, m.cols, i, c);
			} else {
				w[u] = load_chunk<T>(m.q, m.s, m.cols, m.r0 + i, c);
				if (m.swiglu) w2[u] = load_chunk<T>(m.q, m.s, m.cols, m.r0 + i + m.rows_out, c);
			}
		}
	}
}

/* The first batch of this block's first rows read from global memory (before
 * the barrier that ends the previous phase: weights only).  n_sm must be set. */
template <int T>
__device__ __forceinline__ void pd_mv_first(const PdMv &m, WRaw (&w)[PD_U], WRaw (&w2)[PD_U])
{
	int rpb = PD_WARPS / m.wpr, slot = (threadIdx.x >> 5) / m.wpr;
	int nr = m.r1 - m.r0, i = m.n_sm + slot;
	/* the global rows come in passes of rpb from the first pass holding n_sm */
	int pass0 = m.n_sm / rpb;
	i = pass0 * rpb + slot;
	if (i >= m.n_sm && i < nr) pd_mv_load<T>(m, i, 0, w, w2);
}

/* y (+)= W x over this block's rows (matvec_kernel<T, 1> arithmetic, with the
 * RMSNorm's 1/rms applied to the dot products).  Before the first __syncthreads
 * here the caller has waited for the shared-memory copy (cp.async.wait). */
template <int T>
__device__ __forceinline__ void pd_mv_run(const PdMv &m, float eps, WRaw (&w)[PD_U], WRaw (&w2)[PD_U], float4 *xs, float *red,
                          float (*part)[PD_WARPS])
{
	const int E = MvT<T>::E, P = E / 4, U = PD_U;
	int C = m.cols / E, ngroups = (C + 31) / 32, nslot = ngroups * P * 32;
	int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
	int wpr = m.wpr, slot = warp / wpr, sub = warp % wpr, rpb = PD_WARPS / wpr;
	int nit = (C + 32 * U * wpr - 1) / (32 * U * wpr);
	int nr = m.r1 - m.r0;
	if (nr <= 0) return; /* uniform: no rows for this block */
	/* x read once: staged as x*g (RMSNorm weight), the sum of squares taken on
	 * the way; the scalar 1/rms multiplies the dot products instead */
	const float4 *x4 = (const float4 *)m.x, *g4 = (const float4 *)m.norm;
	float ss = 0.f;
	for (int sl = threadIdx.x; sl < nslot; sl += blockDim.x) {
		int g = sl / (P * 32), rem = sl % (P * 32), k = rem / 32, ln = rem % 32;
		int c = g * 32 + ln;
		float4 v = make_float4(0.f, 0.f, 0.f, 0.f);
		if (c < C) {
			int i4 = x4_index<T>(c, k);
			v = __ldcg(x4 + i4);
			if (m.norm) {
				float4 gg = __ldg(g4 + i4);
				ss += v.x * v.x + v.y * v.y + v.z * v.z + v.w * v.w;
				v.x *= gg.x; v.y *= gg.y; v.z *= gg.z; v.w *= gg.w;
			}
		}
		xs[sl] = v;
	}
	float rs = 1.f;
	if (m.norm) rs = rsqrtf(block_sum(ss, red) / (float)m.cols + eps); /* its barriers publish xs */
	else __syncthreads();
	/* passes of rpb rows: the global ones first (their first batch is in w
	 * already), then the shared-memory ones */
	int pass0 = m.n_sm / rpb, npass = (nr + rpb - 1) / rpb;
	for (int k = 0; k < npass; k++) { /* uniform over the block */
		int pass = (pass0 + k) % npass;
		int i = pass * rpb + slot;
		float acc = 0.f, acc2 = 0.f;
		if (i < nr) {
			bool pre = k == 0 && i >= m.n_sm; /* batch 0 loaded by pd_mv_first */
			for (int it = 0; it < nit; it++) {
				if (it > 0 || !pre) pd_mv_load<T>(m, i, it, w, w2);
#pragma unroll
				for (int u = 0; u < U; u++) {
					int c = ((it * wpr + sub) * U + u) * 32 + lane;
					if (c < C) {
						const float4 *xp = xs + (c >> 5) * P * 32 + lane;
						acc += dot_chunk<T>(w[u], c, xp);
						if (m.swiglu) acc2 += dot_chunk<T>(w2[u], c, xp);
					}
				}
			}
		}
		if (wpr > 1) {
			float a = warp_sum(acc), b2 = m.swiglu ? warp_sum(acc2) : 0.f;
			if (lane == 0) {
				part[0][warp] = a;
				part[1][warp] = b2;
			}
			__syncthreads();
			if (sub == 0 && lane == 0 && i < nr) {
				float ta = 0.f, tb = 0.f;
				for (int k2 = 0; k2 < wpr; k2++) {
					ta += part[0][warp + k2];
					tb += part[1][warp + k2];
				}
				float v = m.swiglu ? silu(ta * rs) * (tb * rs) : ta * rs;
				int r = m.r0 + i;
				m.y[r] = m.acc ? __ldcg(m.y + r) + v : v;
			}
			__syncthreads();
		} else {
			float a = warp_sum(acc), b2 = m.swiglu ? warp_sum(acc2) : 0.f;
			if (lane == 0 && i < nr) {
				float v = m.swiglu ? silu(a * rs) * (b2 * rs) : a * rs;
				int r = m.r0 + i;
				m.y[r] = m.acc ? __ldcg(m.y + r) + v : v;
			}
		}
	}
}

/* Matrix k (0 qkv, 1 o, 2 gate+up, 3 down) of a layer as this block's job;
 * its first rows in ring buffer k & 1 (issue: start copying them). */
__device__ __forceinline__ PdMv pd_job(const kern_pd &p, const kern_pd_layer &L, int k, uint8_t *ring, bool issue)
{
	PdMv m;
	m.q = (const uint8_t *)L.q[k];
	m.s = (const uint8_t *)L.s[k];
	m.wpr = p.wpr[k];
	m.swiglu = k == 2;
	int q_dim = p.as.n_head * p.as.head_dim, kv_dim = p.as.n_head_kv * p.as.head_dim;
	switch (k) {
	case 0: m.rows_out = q_dim + 2 * kv_dim; m.cols = p.n_embd; m.x = p.x; m.norm = L.attn_norm; m.y = p.qkv; m.acc = 0; break;
	case 1: m.rows_out = p.n_embd; m.cols = q_dim; m.x = p.att; m.norm = NULL; m.y = p.x; m.acc = 1; break;
	case 2: m.rows_out = p.n_ff; m.cols = p.n_embd; m.x = p.x; m.norm = L.ffn_norm; m.y = p.hf; m.acc = 0; break;
	default: m.rows_out = p.n_embd; m.cols = p.n_ff; m.x = p.hf; m.norm = NULL; m.y = p.x; m.acc = 1; break;
	}
	m.qrow = p.qrow[k];
	m.srow = p.srow[k];
	m.r0 = (int)((unsigned)(blockIdx.x * m.rows_out) / gridDim.x); /* rows * grid < 2^31 (prepare) */
	m.r1 = (int)((unsigned)((blockIdx.x + 1) * m.rows_out) / gridDim.x);
	pd_window(m, ring + (size_t)(k & 1) * p.ring, p.ring, issue);
	return m;
}

/* The phases' entry points.  Inlined: made __noinline__ (one copy of the code
 * for every phase) the register arrays w/w2 went to local memory, which with
 * the shared-memory carve-out lives in L2, and decode took 1.6x as long
 * (H100, 2026-11-26). */
__device__ __forceinline__ void pd_issue(const kern_pd &p, int l, int k, uint8_t *ring)
{
	pd_job(p, p.d_layers[l], k, ring, true);
}
template <int T>
__device__ __forceinline__ void pd_first(const kern_pd &p, int l, int k, uint8_t *ring, WRaw (&w)[PD_U], WRaw (&w2)[PD_U])
{
	PdMv m = pd_job(p, p.d_layers[l], k, ring, false);
	pd_mv_first<T>(m, w, w2);
}
template <int T>
__device__ __forceinline__ void pd_run(const kern_pd &p, int l, int k, uint8_t *ring, WRaw (&w)[PD_U], WRaw (&w2)[PD_U],
                                    float4 *xs, float *red, float (*part)[PD_WARPS])
{
	PdMv m = pd_job(p, p.d_layers[l], k, ring, false);
	pd_mv_run<T>(m, p.eps, w, w2, xs, red, part);
}

/* L2 prefetch of the layer matrices in order (layer-major, then qkv, o, gate+up,
 * down), the grid's threads sharing the 128-byte lines; *idx / *cum: the next
 * matrix not yet prefetched and the bytes before it (the same in every thread). */
__device__ void pd_prefetch_to(const kern_pd &p, size_t target, int *idx, size_t *cum)
{
	size_t gt = (size_t)blockIdx.x * blockDim.x + threadIdx.x, gs = (size_t)gridDim.x * blockDim.x;
	while (*idx < 4 * p.n_layer && *cum < target) {
		int l = *idx / 4, k = *idx % 4;
		const kern_pd_layer &L = p.d_layers[l];
		const char *ranges[2] = {(const char *)L.q[k], (const char *)L.s[k]};
		size_t sizes[2] = {p.bytes_q[k], p.bytes_s[k]};
		for (int r = 0; r < 2; r++) {
			if (!ranges[r]) continue;
			size_t lines = (sizes[r] + 127) / 128;
			for (size_t i = gt; i < lines; i += gs)
				asm volatile("prefetch.global.L2 [%0];" ::"l"(ranges[r] + i * 128));
		}
		*cum += sizes[0] + sizes[1];
		(*idx)++;
	}
}

/* Merges the eff key ranges of the G query heads of kv head kh into att;
 * zeroes kh's counter for the next layer. */
__device__ void pd_merge(const kern_pd &p, int kh, int eff, AttSmem &sm)
{
	int D = p.as.head_dim, G = p.as.n_head / p.as.n_head_kv;
	size_t pstride = (size_t)D + 2;
	__threadfence();
	float *wgt = &sm.sc[0][0]; /* [G][eff] */
	int lane = threadIdx.x & 31;
	for (int g = threadIdx.x >> 5; g < G; g += blockDim.x >> 5) {
		const float *base = p.part + (size_t)(kh * G + g) * p.n_split * pstride;
		float m = -INFINITY;
		for (int s2 = lane; s2 < eff; s2 += 32) m = fmaxf(m, __ldcg(base + s2 * pstride + D));
		m = warp_max(m);
		float lsum = 0.f;
		for (int s2 = lane; s2 < eff; s2 += 32) {
			float e = expf(__ldcg(base + s2 * pstride + D) - m);
			wgt[g * eff + s2] = e;
			lsum += e * __ldcg(base + s2 * pstride + D + 1);
		}
		lsum = warp_sum(lsum);
		if (lane == 0) sm.mstat[g] = 1.f / lsum;
	}
	__syncthreads();
	for (int i = threadIdx.x; i < G * D; i += blockDim.x) {
		int g = i / D, d = i % D;
		const float *base = p.part + (size_t)(kh * G + g) * p.n_split * pstride;
		float o = 0.f;
#pragma unroll 4
		for (int s2 = 0; s2 < eff; s2++) o += wgt[g * eff + s2] * __ldcg(base + s2 * pstride + d);
		p.att[(kh * G + g) * D + d] = o * sm.mstat[g];
	}
	if (threadIdx.x == 0) p.d_cnt[kh] = 0;
}

template <int T>
__global__ void __launch_bounds__(PD_THREADS, 2) decode_persistent_kernel(const __grid_constant__ kern_pd p)
{
	extern __shared__ __align__(16) unsigned char pd_smem[];
	__shared__ float red[32];
	__shared__ float part[2][PD_WARPS];
	__shared__ int s_last;
	float4 *xs = (float4 *)pd_smem;
	AttSmem &sm = *(AttSmem *)pd_smem;
	const kern_attn_shape &as = p.as;
	int D = as.head_dim, H = as.n_head, KVH = as.n_head_kv, G = H / KVH;
	int q_dim = H * D, kv_dim = KVH * D;
	PdBar bar;
	pd_bar_init(bar, p.d_bar, (unsigned long long)(5 * p.n_layer) * gridDim.x);
	int nstamp = 0;
	/* profile: per block, [start][barrier k arrival, departure]... */
	long long *prof = p.d_prof ? p.d_prof + (size_t)blockIdx.x * (2 * 5 * p.n_layer + 1) : NULL;
	if (prof && threadIdx.x == 0) prof[0] = clock64();
#define PD_PROF (prof ? prof + 1 + 2 * nstamp++ : NULL)
	WRaw w[PD_U], w2[PD_U];
	int pf_idx = 0;
	size_t pf_cum = 0, look = (size_t)p.look_mb << 20, consumed = 0;
	pdl_wait();
	int tok = *p.d_tok, pos = *p.d_pos;
	/* embedding */
	for (int e = blockIdx.x * blockDim.x + threadIdx.x; e < p.n_embd; e += gridDim.x * blockDim.x)
		p.x[e] = (tok >= 0 && tok < p.n_vocab) ? deq_elem(p.embd_type, p.embd_q, p.embd_s, p.n_embd, tok, e)
		                                      : __int_as_float(0x7fc00000);
	uint8_t *ring = pd_smem + p.work;
	/* shared-memory windows (ring buffers 0, 1): A -> 0, C -> 1, D -> 0, E -> 1;
	 * each copy starts one weight phase ahead, as soon as its buffer is free */
	pd_issue(p, 0, 0, ring);
	pd_first<T>(p, 0, 0, ring, w, w2);
	if (look) pd_prefetch_to(p, look, &pf_idx, &pf_cum);
	pd_sync(bar, PD_PROF);
	int L_keys = pos + 1;
	int eff = attn_eff_splits(L_keys, p.n_split);
	float scale = rsqrtf((float)D);
	for (int l = 0; l < p.n_layer; l++) {
		const kern_pd_layer &Ly = p.d_layers[l];
		/* A: qkv = W_qkv rmsnorm(x) */
		{
			pd_issue(p, l, 1, ring); /* o's window into buffer 1 */
			cp_async_wait1();
			consumed += p.bytes_q[0] + p.bytes_s[0];
			pd_run<T>(p, l, 0, ring, w, w2, xs, red, part);
			if (look) pd_prefetch_to(p, consumed + look, &pf_idx, &pf_cum);
		}
		pd_sync(bar, PD_PROF);
		/* B: q/k/v post, cache write, attention key ranges, merge */
		pd_issue(p, l, 2, ring); /* gate/up's window into buffer 0 */
		for (int u = blockIdx.x; u < KVH * eff; u += gridDim.x) {
			int kh = u % KVH, sp = u / KVH;
			/* q of the G heads, and (the range holding pos) this position's K
			 * and V: one head per warp */
			int items = G + (sp == eff - 1 ? 2 : 0), warp = threadIdx.x >> 5;
			float *wv = sm.oacc + warp * 256;
			for (int it = warp; it < items; it += PD_WARPS) {
				if (it < G) {
					int h = kh * G + it;
					qkv_head_warp(0, p.qkv + h * D, Ly.bq ? Ly.bq + h * D : NULL, Ly.qn, pos, as, wv);
					for (int i = threadIdx.x & 31; i < D; i += 32) sm.qs[it][i] = wv[i] * scale;
				} else {
					int isv = it - G;
					qkv_head_warp(1 + isv, p.qkv + q_dim + isv * kv_dim + kh * D,
					              isv ? (Ly.bv ? Ly.bv + kh * D : NULL) : (Ly.bk ? Ly.bk + kh * D : NULL),
					              isv ? NULL : Ly.kn, pos, as, wv);
					__half *dst = (__half *)(isv ? Ly.vc : Ly.kc) + ((size_t)kh * as.n_ctx + pos) * D;
					for (int i = threadIdx.x & 31; i < D; i += 32) dst[i] = __float2half_rn(wv[i]);
				}
				__syncwarp();
			}
			attn_range<true>(NULL, (const __half *)Ly.kc, (const __half *)Ly.vc, kh, sp, 0, L_keys, eff, p.n_split,
			                 as, p.part, sm);
			__syncthreads();
			if (threadIdx.x == 0) {
				__threadfence();
				s_last = atomicAdd(p.d_cnt + kh, 1u) == (unsigned)eff - 1;
			}
			__syncthreads();
			if (s_last) pd_merge(p, kh, eff, sm); /* the last range of kv head kh to finish merges its G heads */
			__syncthreads();
		}
		pd_first<T>(p, l, 1, ring, w, w2);
		pd_sync(bar, PD_PROF);
		/* C: x += W_o att */
		{
			cp_async_wait1();
			consumed += p.bytes_q[1] + p.bytes_s[1];
			pd_run<T>(p, l, 1, ring, w, w2, xs, red, part);
			pd_first<T>(p, l, 2, ring, w, w2);
			if (look) pd_prefetch_to(p, consumed + look, &pf_idx, &pf_cum);
		}
		pd_sync(bar, PD_PROF);
		/* D: hf = silu(W_g rmsnorm(x)) * (W_u rmsnorm(x)) */
		{
			pd_issue(p, l, 3, ring); /* down's window into buffer 1 */
			cp_async_wait1();
			consumed += p.bytes_q[2] + p.bytes_s[2];
			pd_run<T>(p, l, 2, ring, w, w2, xs, red, part);
			pd_first<T>(p, l, 3, ring, w, w2);
			if (look) pd_prefetch_to(p, consumed + look, &pf_idx, &pf_cum);
		}
		pd_sync(bar, PD_PROF);
		/* E: x += W_down hf */
		{
			if (l + 1 < p.n_layer) pd_issue(p, l + 1, 0, ring); /* next qkv into buffer 0 */
			else cp_async_commit();
			cp_async_wait1();
			consumed += p.bytes_q[3] + p.bytes_s[3];
			if (l == p.n_layer - 1) pdl_trigger(); /* the head may start loading its weights */
			pd_run<T>(p, l, 3, ring, w, w2, xs, red, part);
			if (l + 1 < p.n_layer) {
				pd_first<T>(p, l + 1, 0, ring, w, w2);
				if (look) pd_prefetch_to(p, consumed + look, &pf_idx, &pf_cum);
				pd_sync(bar, PD_PROF);
			}
		}
	}
	asm volatile("cp.async.wait_all;" ::: "memory");
#undef PD_PROF
}

static int pd_elems(int type)
{
	switch (type) {
	case T_F32: return 4;
	case T_F16: case T_BF16: return 8;
	case T_Q8_0: case T_Q6_K: return 16;
	default: return 32;
	}
}

template <int T> static void *pd_kernel_ptr() { return (void *)decode_persistent_kernel<T>; }
static void *pd_kernel_for(int type)
{
	switch (type) {
	case T_BF16: return pd_kernel_ptr<T_BF16>();
	case T_F16: return pd_kernel_ptr<T_F16>();
	case T_Q8_0: return pd_kernel_ptr<T_Q8_0>();
	case T_Q4_0: return pd_kernel_ptr<T_Q4_0>();
	case T_Q4_K: return pd_kernel_ptr<T_Q4_K>();
	default: return NULL;
	}
}

extern "C" int kern_pd_prepare(kern_pd *p)
{
	if (!p || !p->d_layers || p->n_layer <= 0 || !attn_shape_ok(&p->as)) return (int)cudaErrorInvalidValue;
	void *k = pd_kernel_for(p->type);
	if (!k) return (int)cudaErrorNotSupported;
	const kern_attn_shape &as = p->as;
	int D = as.head_dim, G = as.n_head / as.n_head_kv;
	int q_dim = as.n_head * D, kv_dim = as.n_head_kv * D;
	if (G > ATT_GB || D > 256 || !kern_type_ok(p->embd_type)) return (int)cudaErrorNotSupported;
	int rows[4] = {q_dim + 2 * kv_dim, p->n_embd, p->n_ff, p->n_embd};
	int cols[4] = {p->n_embd, q_dim, p->n_embd, p->n_ff};
	int E = pd_elems(p->type);
	size_t stage = 0;
	for (int i = 0; i < 4; i++) {
		if (cols[i] % E || cols[i] % elems_per_block(p->type)) return (int)cudaErrorNotSupported;
		size_t st = (size_t)((cols[i] / E + 31) / 32) * 32 * E * sizeof(float);
		if (st > stage) stage = st;
		p->bytes_q[i] = q_bytes(p->type, (size_t)rows[i] * (i == 2 ? 2 : 1), cols[i]);
		p->qrow[i] = q_bytes(p->type, 1, cols[i]);
		p->srow[i] = s_bytes(p->type, 1, cols[i]);
		if (p->qrow[i] % 16) return (int)cudaErrorNotSupported;
		p->bytes_s[i] = s_bytes(p->type, (size_t)rows[i] * (i == 2 ? 2 : 1), cols[i]);
	}
	if (((uintptr_t)p->x | (uintptr_t)p->att | (uintptr_t)p->hf) & 15) return (int)cudaErrorNotSupported;
	size_t att = sizeof(AttSmem) + 256 * sizeof(float);
	size_t smem = stage > att ? stage : att;
	int dev = 0, maxopt = 0, occ = 0;
	KCHECK(cudaGetDevice(&dev));
	KCHECK(cudaDeviceGetAttribute(&maxopt, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev));
	if (smem > (size_t)maxopt) return (int)cudaErrorNotSupported;
	int coop = 0;
	KCHECK(cudaDeviceGetAttribute(&coop, cudaDevAttrCooperativeLaunch, dev));
	if (!coop) return (int)cudaErrorNotSupported;
	KCHECK(cudaFuncSetAttribute((const void *)k, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
	KCHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&occ, (const void *)k, PD_THREADS, smem));
	if (occ < 1) return (int)cudaErrorNotSupported;
	int bps = 2;
	const char *e = getenv("VIGIL_CUDA_PD_BPS");
	if (e && atoi(e) > 0) bps = atoi(e);
	if (bps > occ) bps = occ;
	/* shared-memory windows of the next weight phases: one block per SM, the
	 * rest of the SM's shared memory split into two buffers */
	const char *re = getenv("VIGIL_CUDA_PD_RING");
	int ring_on = !(re && strcmp(re, "0") == 0);
	size_t work = (smem + 15) & ~(size_t)15;
	p->work = (int)work;
	p->ring = 0;
	if (ring_on) {
		struct cudaFuncAttributes fa;
		KCHECK(cudaFuncGetAttributes(&fa, (const void *)k));
		size_t avail = (size_t)maxopt - fa.sharedSizeBytes - 256;
		if (avail > work + 2 * 4096) {
			p->ring = (avail - work) / 2 & ~(size_t)15;
			smem = work + 2 * p->ring;
			bps = 1;
			KCHECK(cudaFuncSetAttribute((const void *)k, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
			KCHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&occ, (const void *)k, PD_THREADS, smem));
			if (occ < 1) return (int)cudaErrorNotSupported;
		}
	}
	p->grid = num_sms() * bps;
	p->smem = (int)smem;
	/* warps per row: rows are split into one contiguous range per block; split
	 * rows between warps only while one pass still covers the block's rows */
	for (int i = 0; i < 4; i++) {
		int nr = (rows[i] + p->grid - 1) / p->grid, wpr = 1;
		while (wpr < PD_WARPS && PD_WARPS / (2 * wpr) >= nr) wpr *= 2;
		p->wpr[i] = wpr;
	}
	/* key ranges: about one block per (kv head, range), 32..256 keys each */
	int ns = p->grid / as.n_head_kv;
	if (ns < kern_attn_min_split(as.n_ctx)) ns = kern_attn_min_split(as.n_ctx);
	if (ns > ATT_MAX_CHUNK) return (int)cudaErrorNotSupported; /* merge weights: G * n_split <= 2048 */
	if (ns < 1) ns = 1;
	p->n_split = ns;
	return 0;
}

extern "C" int kern_decode_persistent(const kern_pd *p, void *stream)
{
	void *k = p ? pd_kernel_for(p->type) : NULL;
	if (!k || p->grid <= 0) return (int)cudaErrorInvalidValue;
	cudaLaunchConfig_t cfg = {};
	cfg.gridDim = dim3(p->grid);
	cfg.blockDim = dim3(PD_THREADS);
	cfg.dynamicSmemBytes = (size_t)p->smem;
	cfg.stream = as_stream(stream);
	cudaLaunchAttribute at[1] = {};
	at[0].id = cudaLaunchAttributeCooperative;
	at[0].val.cooperative = 1;
	cfg.attrs = at;
	cfg.numAttrs = 1;
	kern_pd arg = *p;
	void *args[1] = {&arg};
	cudaError_t e = cudaLaunchKernelExC(&cfg, k, args);
	if (e == cudaSuccess) e = cudaGetLastError();
	return (int)e;
}

extern "C" int kern_barrier_test(int n, int blocks_per_sm, int variant, int *errors, double *us)
{
	if (n <= 0 || blocks_per_sm <= 0 || !errors || variant < 0 || variant > 2) return (int)cudaErrorInvalidValue;
	const void *kfn = variant == 0 ? (const void *)barrier_test_kernel<0>
	                : variant == 1 ? (const void *)barrier_test_kernel<1> : (const void *)barrier_test_kernel<2>;
	int occ = 0;
	KCHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&occ, kfn, PD_THREADS, 0));
	if (blocks_per_sm > occ) blocks_per_sm = occ;
	int grid = num_sms() * blocks_per_sm;
	unsigned long long *ctr = NULL;
	int *slots = NULL, *derr = NULL;
	cudaEvent_t e0 = NULL, e1 = NULL;
	float ms = 0.f;
	int rc = 0;
	cudaError_t e = cudaMalloc(&ctr, KERN_PD_BAR_BYTES);
	if (!e) e = cudaMalloc(&slots, (size_t)grid * 4);
	if (!e) e = cudaMalloc(&derr, 4);
	if (!e) e = cudaMemset(ctr, 0, KERN_PD_BAR_BYTES);
	if (!e) e = cudaMemset(slots, 0, (size_t)grid * 4);
	if (!e) e = cudaMemset(derr, 0, 4);
	if (!e) e = cudaEventCreate(&e0);
	if (!e) e = cudaEventCreate(&e1);
	for (int rep = 0; rep < 3 && !e; rep++) { /* three launches: the counter carries over */
		void *args[4] = {&ctr, &n, &slots, &derr};
		if (rep == 2) e = cudaEventRecord(e0, 0);
		if (!e) e = cudaLaunchCooperativeKernel(kfn, dim3(grid), dim3(PD_THREADS), args, 0, 0);
		if (!e && rep == 2) e = cudaEventRecord(e1, 0);
		if (!e) e = cudaDeviceSynchronize();
		if (!e) e = cudaMemset(slots, 0, (size_t)grid * 4);
	}
	if (!e) e = cudaEventElapsedTime(&ms, e0, e1);
	if (!e) e = cudaMemcpy(errors, derr, 4, cudaMemcpyDeviceToHost);
	if (e) rc = (int)e;
	else if (us) *us = ms * 1e3 / n;
	if (e0) cudaEventDestroy(e0);
	if (e1) cudaEventDestroy(e1);
	cudaFree(ctr);
	cudaFree(slots);
	cudaFree(derr);
	return rc;
}
