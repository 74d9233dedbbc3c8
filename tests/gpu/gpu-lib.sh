# tests/gpu/gpu-lib.sh: shell functions shared by the GPU scripts (sourced by
# iter.sh, prebuild.sh and same-summaries.sh).  Not part of make.
cuda=${CUDA_HOME:-/usr/local/cuda}

# gpu_nvcc FILE ARCH: writes FILE, an nvcc that builds for ARCH alone (native,
# sm_90, ...) in place of the Makefile's fat binary, which takes minutes
gpu_nvcc() {
	cat >"$1" <<W
#!/bin/bash
a=(); for x in "\$@"; do case \$x in -gencode=*) ;; *) a+=("\$x");; esac; done
exec $cuda/bin/nvcc -arch=$2 "\${a[@]}"
W
	chmod +x "$1"
}

# gpu_link_model TREE BUILD OUT KERN_OPS_O [cc args...]: TREE's
# tests/gpu/check_model.c against the llm objects under TREE/BUILD (made with
# make llm BUILD=BUILD), with KERN_OPS_O (empty: that build's own) in place of
# kern_ops.o
gpu_link_model() {
	local t=$1 bd=$1/$2 o=$3 ko=${4:-$1/$2/cu/kernels/kern_ops.o}
	shift 4
	local objs=() f
	for f in "$bd"/rel/local_llm/*.o "$bd"/rel/kernels/*.o "$bd"/cu/kernels/*.o; do
		case $f in */llm_main.o | */kern_ops.o) ;; *) objs+=("$f") ;; esac
	done
	cc -O2 -std=c11 -D_GNU_SOURCE -I"$t" -DVIGIL_CUDA=1 -o "$o" "$t/tests/gpu/check_model.c" "${objs[@]}" "$ko" \
	   -lpcre2-8 -lm -pthread -L"$cuda/lib64" -Wl,-rpath,"$cuda/lib64" -lcudart -lcublas -lstdc++ "$@"
}

# gpu_link_timeline TREE BUILD OUT KERN_OPS_O [-D...]: gpu_link_model with the
# CUPTI timeline compiled in (check_model timeline); the -D flags are those
# KERN_OPS_O was built with (the phase clock's)
gpu_link_timeline() {
	local cupti
	cupti=$(dirname "$(find "$cuda"/ -name 'libcupti.so*' 2>/dev/null | head -1)")
	gpu_link_model "$@" -DVIGIL_CUPTI -I"$cuda/include" -I"$cuda/extras/CUPTI/include" \
		-L"$cupti" -Wl,-rpath,"$cupti" -lcupti
}
