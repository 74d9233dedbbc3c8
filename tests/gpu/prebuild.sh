#!/bin/bash
# tests/gpu/prebuild.sh OUT [-DNAME ...]: this tree's GPU checkers built for
# sm_90 on a machine with nvcc but no GPU, to carry to the device and run
# there without building (device time is scarce; a build there takes minutes).
#   OUT/check_model     decode bench and whole-model checks
#   OUT/check_kernels   per-kernel checks
#   OUT/check_model_tl  the CUPTI timeline of the decode graph with the decode
#                       attention's phase clock in global time
# The -D flags apply to kernels/kern_ops.cu (experiment switches); the other
# objects are built once into build/g90 with the Makefile.  Not part of make.
#
# On the device, the binaries need PCRE2's runtime, carried as packages:
#   here:   mkdir -p .gpu-deb && (cd .gpu-deb && apt-get download libpcre2-8-0)
#   there:  for f in .gpu-deb/*.deb; do dpkg -x "$f" /tmp/pcre2; done
#           export LD_LIBRARY_PATH=$(dirname "$(find /tmp/pcre2 -name 'libpcre2-8.so.0')")
#           OUT/check_model bench 4200   (carry ["OUT", ".gpu-deb"])
set -eu
[ $# -ge 1 ] || { echo "usage: $0 OUT [-DNAME ...]" >&2; exit 2; }
out=$1
shift
here=$(cd "$(dirname "$0")/../.." && pwd)
cuda=${CUDA_HOME:-/usr/local/cuda}
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# the Makefile's fat binary for sm_90 alone
cat >"$tmp/nvcc" <<W
#!/bin/bash
a=(); for x in "\$@"; do case \$x in -gencode=*) ;; *) a+=("\$x");; esac; done
exec $cuda/bin/nvcc -arch=sm_90 "\${a[@]}"
W
chmod +x "$tmp/nvcc"
make -C "$here" -s -j"$(nproc)" llm CUDA=1 NVCC="$tmp/nvcc" BUILD=build/g90 LLM_BIN=build/g90/vigil-llm
objs=()
for f in "$here"/build/g90/rel/local_llm/*.o "$here"/build/g90/rel/kernels/*.o "$here"/build/g90/cu/kernels/*.o; do
	case $f in */llm_main.o | */kern_ops.o) ;; *) objs+=("$f") ;; esac
done
nv=("$cuda/bin/nvcc" -O3 -std=c++17 -arch=sm_90 -lineinfo -DVIGIL_CUDA=1 --expt-relaxed-constexpr -I"$here")
link() { # OUT_BINARY KERN_OPS_O [cc args...]
	local o=$1 ko=$2
	shift 2
	cc -O2 -std=c11 -D_GNU_SOURCE -I"$here" -DVIGIL_CUDA=1 -o "$o" "$here/tests/gpu/check_model.c" "${objs[@]}" "$ko" \
	   -lpcre2-8 -lm -pthread -L"$cuda/lib64" -Wl,-rpath,"$cuda/lib64" -lcudart -lcublas -lstdc++ "$@"
}
cupti=$(dirname "$(find "$cuda"/ -name 'libcupti.so*' 2>/dev/null | head -1)")
pf=(-DVIGIL_ATD_PROF -DVIGIL_ATD_GT)
{ "${nv[@]}" "$@" -Xcompiler -fPIC -c -o "$tmp/ko.o" "$here/kernels/kern_ops.cu" && link "$out/check_model" "$tmp/ko.o"; } &
a=$!
{ "${nv[@]}" "$@" "${pf[@]}" -Xcompiler -fPIC -c -o "$tmp/ko_tl.o" "$here/kernels/kern_ops.cu" &&
  link "$out/check_model_tl" "$tmp/ko_tl.o" -DVIGIL_CUPTI "${pf[@]}" -I"$cuda/include" -I"$cuda/extras/CUPTI/include" \
       -L"$cupti" -Wl,-rpath,"$cupti" -lcupti; } &
b=$!
rc=0
wait $a || rc=1
wait $b || rc=1
"${nv[@]}" "$@" -o "$out/check_kernels" "$here/tests/gpu/check_kernels.cu" "$here/kernels/kern_ops.cu" || rc=1
ls -l "$out"
exit $rc
