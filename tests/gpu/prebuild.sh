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
. "$here/tests/gpu/gpu-lib.sh"
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
gpu_nvcc "$tmp/nvcc" sm_90
make -C "$here" -s -j"$(nproc)" llm CUDA=1 NVCC="$tmp/nvcc" BUILD=build/g90 LLM_BIN=build/g90/vigil-llm
nv=("$cuda/bin/nvcc" -O3 -std=c++17 -arch=sm_90 -lineinfo -DVIGIL_CUDA=1 --expt-relaxed-constexpr -I"$here")
pf=(-DVIGIL_ATD_PROF -DVIGIL_ATD_GT)
{ "${nv[@]}" "$@" -Xcompiler -fPIC -c -o "$tmp/ko.o" "$here/kernels/kern_ops.cu" && gpu_link_model "$here" build/g90 "$out/check_model" "$tmp/ko.o"; } &
a=$!
{ "${nv[@]}" "$@" "${pf[@]}" -Xcompiler -fPIC -c -o "$tmp/ko_tl.o" "$here/kernels/kern_ops.cu" &&
  gpu_link_timeline "$here" build/g90 "$out/check_model_tl" "$tmp/ko_tl.o" "${pf[@]}"; } &
b=$!
rc=0
wait $a || rc=1
wait $b || rc=1
"${nv[@]}" "$@" -o "$out/check_kernels" "$here/tests/gpu/check_kernels.cu" "$here/kernels/kern_ops.cu" || rc=1
ls -l "$out"
exit $rc
