# attend — top-level entry points. The build itself is CMake (in build/).
#   make            build build/attend and build/libattend.a
#   make test       build and run the test suite (ctest)
#   make test SANITIZE=1   same under AddressSanitizer + UBSan (in build-sanitize/)
#   make demo       train the default classifier on the bundled WordNet data
#   make bench      run the benchmarks beside PyTorch
# Switches: OPENMP=0 builds without threads; NATIVE=1 tunes for this CPU.

SANITIZE ?= 0
OPENMP ?= 1
NATIVE ?= 0
JOBS ?= $(shell nproc 2>/dev/null || echo 2)

ifeq ($(SANITIZE),1)
BUILD ?= build-sanitize
CMAKE_FLAGS = -DCMAKE_BUILD_TYPE=Debug -DATTEND_SANITIZE=ON
else
BUILD ?= build
CMAKE_FLAGS = -DCMAKE_BUILD_TYPE=Release
endif
CMAKE_FLAGS += -DATTEND_OPENMP=$(if $(filter 0,$(OPENMP)),OFF,ON) -DATTEND_NATIVE=$(if $(filter 1,$(NATIVE)),ON,OFF)

.PHONY: all deps configure test demo bench clean fixtures

all: configure
	cmake --build $(BUILD) -j $(JOBS)

deps:
	@sh scripts/deps.sh build

configure: deps
	@cmake -S . -B $(BUILD) $(CMAKE_FLAGS) > $(BUILD).configure.log 2>&1 || { cat $(BUILD).configure.log; exit 1; }
	@grep -E '^-- attend:|WARNING' $(BUILD).configure.log || true

test: all
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

demo: all
	@sh scripts/demo.sh $(BUILD)

bench: all
	@sh bench/run.sh $(BUILD)

# Regenerate the PyTorch parity fixtures (needs Debian's python3-torch).
fixtures:
	/usr/bin/python3 tests/gen_fixtures.py tests/fixtures

clean:
	rm -rf build build-sanitize build.configure.log build-sanitize.configure.log
