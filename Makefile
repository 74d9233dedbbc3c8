# vigil — one Makefile for everything.
#
#   make            build ./vigil (CUDA backend when nvcc is found)
#   make run        install missing packages, build, run the supervisor
#   make test       install missing packages, build under ASan+UBSan, run all tests
#   make bench      benchmarks (print numbers; never part of make test)
#   make fuzz       build libFuzzer targets and run each for FUZZ_TIME seconds
#   make llm        build ./vigil-llm: local_llm + kernels only (GPU boxes)
#   make gpu-test / gpu-bench   run on a machine with an NVIDIA GPU
#
# Options (anything else on the command line is refused):
#   CUDA=0|1      force the CUDA backend off/on (default: on when nvcc exists)
#   FUZZ_TIME=N   seconds per fuzz target (default 20)
#   TESTS=PATTERN run only test programs whose path matches PATTERN
#   LLM_BIN=PATH  where make llm writes vigil-llm (default ./vigil-llm)

KNOWN_VARS := CUDA FUZZ_TIME TESTS CC NVCC CUDA_HOME V BUILD LLM_BIN
$(foreach v,$(.VARIABLES),$(if $(filter command line,$(origin $(v))),\
  $(if $(filter $(v),$(KNOWN_VARS)),,$(error unknown option $(v)= (known: $(KNOWN_VARS))))))

SHELL := /bin/bash
.DEFAULT_GOAL := all
.DELETE_ON_ERROR:

CC       ?= cc
CUDA_HOME ?= /usr/local/cuda
NVCC     ?= $(shell command -v nvcc 2>/dev/null || { test -x $(CUDA_HOME)/bin/nvcc && echo $(CUDA_HOME)/bin/nvcc; })
FUZZ_TIME ?= 20
ifeq ($(origin CUDA),undefined)
  CUDA := $(if $(NVCC),1,0)
endif

BUILD   ?= build
# V=1 shows every command
ifeq ($(V),1)
  Q :=
  say =
else
  Q := @
  say = @printf '  %-7s %s\n' '$(1)' '$(2)'
endif
WARN    := -Wall -Wextra -Werror -Wno-unused-parameter -Wno-format-truncation
IS_CLANG := $(findstring clang,$(shell $(CC) --version 2>/dev/null | head -1))
WARN    += $(if $(IS_CLANG),-Wno-unknown-warning-option)
CSTD    := -std=c11 -D_GNU_SOURCE
INC     := -I.
CFLAGS_BASE := $(CSTD) $(WARN) $(INC) -pthread -g -MMD -MP
CFLAGS_REL  := $(CFLAGS_BASE) -O2
CFLAGS_TEST := $(CFLAGS_BASE) -O1 -fno-omit-frame-pointer \
               -fsanitize=address,undefined -fno-sanitize-recover=undefined \
               -DVIGIL_TESTING=1
# The model engine's hot loops: let the compiler vectorise, AVX2 picked at run time.
LLM_CFLAGS := -O3

LIBS_LLM  := -lpcre2-8 -lm -pthread
LIBS_ALL  := -lsqlite3 -lmicrohttpd -lcurl -lcjson $(LIBS_LLM)

NVCC_ARCH := -gencode=arch=compute_80,code=sm_80 -gencode=arch=compute_86,code=sm_86 \
             -gencode=arch=compute_89,code=sm_89 -gencode=arch=compute_90,code=sm_90 \
             -gencode=arch=compute_90,code=compute_90
NVCCFLAGS := -O3 -std=c++17 $(INC) $(NVCC_ARCH) -Xcompiler -Wall,-Wextra,-Werror,-Wno-unused-parameter,-fPIC \
             -lineinfo --expt-relaxed-constexpr --threads 0
ifeq ($(CUDA),1)
  CUDA_DEF  := -DVIGIL_CUDA=1
  CUDA_LIBS := -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcudart -lcublas -lstdc++
  CU_SRCS   := $(wildcard kernels/*.cu)
else
  CUDA_DEF  :=
  CUDA_LIBS :=
  CU_SRCS   :=
endif

# Library sources: every .c of a module except program entry points (main.c, *_main.c).
MODS_APP  := supervisor registry validator crontab
MODS_LLM  := local_llm kernels
lib_srcs   = $(filter-out %/main.c %_main.c,$(wildcard $(addsuffix /*.c,$(1))))
APP_SRCS  := $(call lib_srcs,$(MODS_APP))
LLM_SRCS  := $(call lib_srcs,$(MODS_LLM))

REL_APP_OBJS := $(APP_SRCS:%.c=$(BUILD)/rel/%.o)
REL_LLM_OBJS := $(LLM_SRCS:%.c=$(BUILD)/rel/%.o) $(CU_SRCS:%.cu=$(BUILD)/cu/%.o)
TST_APP_OBJS := $(APP_SRCS:%.c=$(BUILD)/test/%.o)
TST_LLM_OBJS := $(LLM_SRCS:%.c=$(BUILD)/test/%.o) $(CU_SRCS:%.cu=$(BUILD)/cu/%.o)

TEST_SRCS := $(wildcard tests/*/test_*.c)
TEST_BINS := $(TEST_SRCS:%.c=$(BUILD)/test/%)

.PHONY: all run test bench fuzz llm gpu-test gpu-bench deps deps-test clean check-clang fuzz-build \
        test-update-golden bench-llm model summarize-eval check-build info

all: info vigil

info:
	@echo "vigil: CC=$(CC); CUDA backend: $(if $(filter 1,$(CUDA)),on (nvcc: $(NVCC)),off (no nvcc; CPU-only build))"

deps:
	@tests/deps.sh
deps-test:
	@tests/deps.sh test

vigil: $(BUILD)/rel/supervisor/main.o $(REL_APP_OBJS) $(REL_LLM_OBJS)
	$(Q)$(CC) $(CFLAGS_REL) -o $@ $(filter %.o,$^) $(LIBS_ALL) $(CUDA_LIBS)

# local_llm + kernels alone: libc, libm, pthreads, PCRE2, CUDA runtime.
LLM_BIN ?= vigil-llm
llm: $(LLM_BIN)
$(LLM_BIN): $(BUILD)/rel/local_llm/llm_main.o $(REL_LLM_OBJS)
	$(Q)$(CC) $(CFLAGS_REL) -o $@ $(filter %.o,$^) $(LIBS_LLM) $(CUDA_LIBS)

$(BUILD)/rel/local_llm/%.o $(BUILD)/rel/kernels/%.o: CFLAGS_EXTRA = $(LLM_CFLAGS)
$(BUILD)/test/local_llm/%.o $(BUILD)/test/kernels/%.o: CFLAGS_EXTRA = -O2

$(BUILD)/rel/%.o: %.c
	@mkdir -p $(@D)
	$(call say,CC,$<)
	$(Q)$(CC) $(CFLAGS_REL) $(CUDA_DEF) $(CFLAGS_EXTRA) -c -o $@ $<
$(BUILD)/test/%.o: %.c
	@mkdir -p $(@D)
	$(call say,CC-SAN,$<)
	$(Q)$(CC) $(CFLAGS_TEST) $(CUDA_DEF) $(CFLAGS_EXTRA) -c -o $@ $<
$(BUILD)/cu/%.o: %.cu
	@mkdir -p $(@D)
	$(call say,NVCC,$<)
	$(Q)$(NVCC) $(NVCCFLAGS) $(CUDA_DEF) -c -o $@ $<

# Test build: a sanitized vigil for integration tests, one program per tests/*/test_*.c.
$(BUILD)/test/vigil: $(BUILD)/test/supervisor/main.o $(TST_APP_OBJS) $(TST_LLM_OBJS)
	$(call say,LD-SAN,$@)
	$(Q)$(CC) $(CFLAGS_TEST) -o $@ $(filter %.o,$^) $(LIBS_ALL) $(CUDA_LIBS)
$(BUILD)/test/tests/%: tests/%.c $(TST_APP_OBJS) $(TST_LLM_OBJS)
	@mkdir -p $(@D)
	$(call say,TEST,$@)
	$(Q)$(CC) $(CFLAGS_TEST) $(CUDA_DEF) -o $@ $(filter %.c %.o,$^) $(LIBS_ALL) $(CUDA_LIBS) -lcmocka

# LD_PRELOAD shim for the durability test: makes the WAL's fsync fail on demand
$(BUILD)/test/failsync.so: tests/lib/failsync.c
	@mkdir -p $(@D)
	$(call say,CC-SO,$@)
	$(Q)$(CC) -O1 -Wall -Wextra -Werror -fPIC -shared -o $@ $< -ldl

check-build: $(BUILD)/test/vigil $(TEST_BINS) $(BUILD)/test/failsync.so

# Every C file must also compile warning-free with clang.
check-clang:
	@command -v clang >/dev/null || { echo "check-clang: clang not found"; exit 1; }
	@echo "  CLANG   -fsyntax-only $(words $(APP_SRCS) $(LLM_SRCS)) files"
	@for f in $(APP_SRCS) $(LLM_SRCS) supervisor/main.c; do \
	  clang $(CSTD) -Wall -Wextra -Werror -Wno-unused-parameter -Wno-unknown-warning-option \
	    $(INC) $(CUDA_DEF) -fsyntax-only $$f || exit 1; done

test: deps-test
	@$(MAKE) --no-print-directory info
	@$(MAKE) --no-print-directory check-build vigil
	@$(MAKE) --no-print-directory check-clang
	@$(if $(TESTS),true,$(MAKE) --no-print-directory fuzz FUZZ_TIME=15)
	@tests/run-tests.sh $(BUILD)/test "$(TESTS)"

test-update-golden: $(BUILD)/test/vigil
	VIGIL_UPDATE_GOLDEN=1 VIGIL_BIN=$(BUILD)/test/vigil tests/validator/run-golden.sh

run: deps vigil
	@mkdir -p var
	./vigil serve

# ---- benchmarks -----------------------------------------------------------
bench: vigil
	@tests/deps.sh bench
	@for b in bench/bench-*.sh; do [ -x "$$b" ] && { echo "== $$b"; "$$b" || exit 1; }; done; true

bench-llm: vigil
	@bench/llm.sh
model: vigil
	@local_llm/get-model.sh
summarize-eval: vigil
	@bench/summarize-eval.sh

# ---- fuzzing --------------------------------------------------------------
# Library objects are built once with -fsanitize=fuzzer-no-link; each
# tests/fuzz/fuzz_*.c links against them and runs FUZZ_TIME seconds from its
# seed corpus (tests/fuzz/seeds/<name>/).
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BASE := $(CSTD) $(INC) -g -O1 -fsanitize=address,undefined -DVIGIL_FUZZING=1 -MMD -MP
FUZZ_OBJS := $(patsubst %.c,$(BUILD)/fuzz/obj/%.o,$(APP_SRCS) $(LLM_SRCS))
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRCS))
.SECONDARY: $(FUZZ_OBJS)
$(BUILD)/fuzz/obj/%.o: %.c
	@mkdir -p $(@D)
	$(call say,CC-FUZZ,$<)
	$(Q)clang $(FUZZ_BASE) -fsanitize=fuzzer-no-link -c -o $@ $<
$(BUILD)/fuzz/%: tests/fuzz/%.c $(FUZZ_OBJS)
	$(call say,LD-FUZZ,$@)
	$(Q)clang $(FUZZ_BASE) -fsanitize=fuzzer -o $@ $< $(FUZZ_OBJS) $(LIBS_ALL)
fuzz-build: deps-test $(FUZZ_BINS)
fuzz: fuzz-build
	@for b in $(FUZZ_BINS); do \
	  n=$$(basename $$b); \
	  mkdir -p $(BUILD)/fuzz/corpus-$$n; \
	  seeds=tests/fuzz/seeds/$$n; [ -d $$seeds ] || seeds=; \
	  $$b -max_total_time=$(FUZZ_TIME) -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
	     -artifact_prefix=$(BUILD)/fuzz/$$n- $(BUILD)/fuzz/corpus-$$n $$seeds >$(BUILD)/fuzz/$$n.log 2>&1 \
	     || { echo "fuzz: $$n FAILED"; tail -40 $(BUILD)/fuzz/$$n.log; exit 1; }; \
	  echo "fuzz: $$n: $$(grep -o 'Done [0-9]* runs in [0-9]* second' $(BUILD)/fuzz/$$n.log | tail -1), no crash"; \
	done

# ---- GPU ------------------------------------------------------------------
gpu-test:
	@tests/gpu/run.sh test
gpu-bench:
	@tests/gpu/run.sh bench

clean:
	rm -rf $(BUILD) vigil vigil-llm

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
