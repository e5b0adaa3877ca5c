# ezio - build, test, demo and install.
#
#   make            build ezio-deploy and ezio-mktorrent into build/
#   make deps       install the Debian packages the build and tests need
#   make check      every test: unit (plain, sanitizers, valgrind), integration
#   make check-unit UNIT=layout,torrent   only those unit programs (also with
#                   check-sanitize and check-valgrind; commas or spaces)
#   make demo       a seeder and receivers deploying an image, checked byte for byte
#   make bench      deploy time against udpcast, HTTP and stock BitTorrent (docs/benchmarks.md)
#   make bench-mktorrent  torrent making against a plain read and partclone (docs/mktorrent.md)
#   make faults     the swarm under faults: dead nodes, seeder, tracker, hostile peers,
#                   failing disks, lossy links (docs/reliability.md)
#   make bench-ironic  real Ironic deploying 1, 4, 8 nodes: direct beside ezio (docs/ironic.md)
#   make venv       .venv/ with Ironic, the Ironic Python Agent and ironic-hooks (editable)
#   make check-ironic  the Ironic side's tests (pytest, in .venv)
#   make install    PREFIX=/usr/local DESTDIR=

VERSION   := 0.1.0
PREFIX    ?= /usr/local
DESTDIR   ?=
BUILD     ?= build

CC        ?= cc
CXX       ?= c++
PKGS      := libtorrent-rasterbar libcurl json-c yaml-0.1 openssl blkid libxxhash
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CHECK_LIBS = $(shell pkg-config --libs check 2>/dev/null)

WARN      := -Wall -Wextra -Werror
CPPFLAGS  += -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -DEZ_VERSION=\"$(VERSION)\" -Iezio-deploy/lib
CFLAGS    ?= -O2 -g
CXXFLAGS  ?= -O2 -g
EZ_CFLAGS  = -std=c11 $(WARN) $(CFLAGS)
EZ_CXXFLAGS = -std=c++17 $(WARN) $(CXXFLAGS) $(PKG_CFLAGS)

LIB_C     := err io units bencode tls merkle rendezvous layout torrent blockdev parttable status helper qcow2 loopdev partitions partclone srcmap hasher scan mktorrent mkimport mkverify config fetch verify deploy
LIB_CXX   := swarm ownership raw_disk_io request_budget peer_socket racks upload_slots
LIB_OBJS  := $(LIB_C:%=$(BUILD)/lib/%.o) $(LIB_CXX:%=$(BUILD)/lib/%.o)
LIBEZIO   := $(BUILD)/libezio.a
BINS      := $(BUILD)/ezio-deploy $(BUILD)/ezio-mktorrent
UNIT      := io units bencode merkle rendezvous request_budget layout torrent blockdev helper partitions partclone srcmap hasher mktorrent swarm status config fetch verify deploy tls
# UNIT=a,b or UNIT="a b" on the command line picks programs of this list
comma     := ,
UNIT_NAMES = $(subst $(comma), ,$(UNIT))
$(foreach u,$(UNIT_NAMES),$(if $(wildcard tests/unit/check_$(u).c),,$(error UNIT: no unit test '$(u)' (tests/unit/check_$(u).c))))
UNIT_BINS := $(UNIT_NAMES:%=$(BUILD)/tests/check_%)

# The Ironic side runs in a venv of Debian's interpreter (python3 on PATH
# may be another one), with the Ironic and agent releases it is built for.
SYS_PYTHON := /usr/bin/python3
VENV       := .venv
VENV_PKGS  := ironic==39.0.0 ironic-python-agent==13.0.0 pytest wheel oslotest fixtures bashate

.PHONY: sim unit-bins bench-ironic all deps venv check-ironic check check-unit check-sanitize check-valgrind check-integration check-integration-asan demo bench bench-line bench-mktorrent install clean fuzz check-fuzz faults

all: $(BINS)

deps:
	@tools/install-deps

$(BUILD)/lib/%.o: ezio-deploy/lib/%.c ezio-deploy/lib/*.h
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(EZ_CFLAGS) $(PKG_CFLAGS) -c -o $@ $<

$(BUILD)/lib/%.o: ezio-deploy/lib/%.cpp ezio-deploy/lib/*.h ezio-deploy/lib/*.hpp
	@mkdir -p $(@D)
	$(CXX) $(CPPFLAGS) $(EZ_CXXFLAGS) -c -o $@ $<

$(LIBEZIO): $(LIB_OBJS)
	$(AR) rcs $@ $^

$(BUILD)/ezio-deploy: ezio-deploy/src/ezio-deploy.c $(LIBEZIO)
	$(CC) $(CPPFLAGS) $(EZ_CFLAGS) -c ezio-deploy/src/ezio-deploy.c -o $(BUILD)/ezio-deploy.o
	$(CXX) -o $@ $(BUILD)/ezio-deploy.o $(LIBEZIO) $(PKG_LIBS) $(LDFLAGS)

$(BUILD)/ezio-mktorrent: tools/ezio-mktorrent.c $(LIBEZIO)
	$(CC) $(CPPFLAGS) $(EZ_CFLAGS) -c tools/ezio-mktorrent.c -o $(BUILD)/ezio-mktorrent.o
	$(CXX) -o $@ $(BUILD)/ezio-mktorrent.o $(LIBEZIO) $(PKG_LIBS) $(LDFLAGS)

$(BUILD)/tests/check_%: tests/unit/check_%.c tests/unit/testutil.h $(LIBEZIO)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -Itests/unit $(EZ_CFLAGS) -c $< -o $@.o
	$(CXX) -o $@ $@.o $(LIBEZIO) $(PKG_LIBS) $(CHECK_LIBS) $(LDFLAGS)

# Unit tests run from the tree root so fixtures resolve as tests/data/...
check-unit: $(UNIT_BINS)
	@tools/run-unit $(UNIT_BINS)

unit-bins: $(UNIT_BINS)

# The same unit tests built with AddressSanitizer and UBSan.
SAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
SAN_MAKE = $(MAKE) --no-print-directory BUILD=build-asan CFLAGS="$(SAN_FLAGS)" CXXFLAGS="$(SAN_FLAGS)" \
	LDFLAGS="-fsanitize=address,undefined"
check-sanitize:
	@$(SAN_MAKE) check-unit

# The unit tests under valgrind memcheck (no fork: one process to watch).
check-valgrind: $(UNIT_BINS)
	@EZ_VALGRIND=1 tools/run-unit $(UNIT_BINS)

check-integration: all sim
	@tests/integration/run-all

# The integration suite again, against ezio-deploy and ezio-mktorrent built
# with AddressSanitizer and UBSan: a finding aborts the binary, and the
# test that ran it fails.  The benchmark's smoke test is left out: it runs
# the same binaries as the others, to time them; with EZ_SANITIZED a test
# leaves out what only measures, or whose fault is the network's alone
# (each says what it left out).
check-integration-asan:
	@$(SAN_MAKE) all sim
	@EZ_BIN="$(CURDIR)/build-asan" EZ_SKIP="test-bench" EZ_SANITIZED=1 tests/integration/run-all

venv: $(VENV)/.ezio-ready

$(VENV)/.ezio-ready: ironic-hooks/pyproject.toml Makefile
	@echo "venv: $(VENV) from $(SYS_PYTHON), $$($(SYS_PYTHON) --version)"
	$(SYS_PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check $(VENV_PKGS)
	$(VENV)/bin/pip install -q --disable-pip-version-check --no-build-isolation -e ironic-hooks
	@touch $@

# The Ironic benchmark (docs/ironic.md); a subset with
#   make bench-ironic BENCH_ARGS="--nodes 1,4 --methods direct,ezio"
bench-ironic: deps
	@$(MAKE) --no-print-directory all venv
	@PATH="$(CURDIR)/$(BUILD):$$PATH" EZ_ROOT="$(CURDIR)" $(VENV)/bin/python tools/bench/ironic-bench $(BENCH_ARGS)

# ezio-deploy from build/ first on PATH: the agent step runs the real one
check-ironic: all venv
	@PATH="$(CURDIR)/$(BUILD):$$PATH" EZ_ROOT="$(CURDIR)" $(VENV)/bin/python -m pytest -q -p no:cacheprovider tests/ironic

# Each stage says how long it took.  The build uses every core.  valgrind
# and then the fuzz stage (one harness at a time, each for its
# FUZZ_CHECK_TIME) run on one core beside the sanitizer stage (its build,
# then the unit tests) and the Ironic tests' venv on the other; their
# output follows, whole.  The network tests run alone (in two lanes of
# their own: tests/integration/run-all).
NPROC := $(shell nproc 2>/dev/null || echo 2)
stage = s=$$(date +%s); $(MAKE) --no-print-directory $(2) $(1) && echo "== $(1): $$(( $$(date +%s) - s )) s"
check: deps
	@$(call stage,all sim unit-bins,-j$(NPROC))
	@$(call stage,check-unit)
	@log=$$(mktemp); ( $(call stage,check-valgrind) && $(call stage,check-fuzz FUZZ_JOBS=1) ) > $$log 2>&1 & v=$$!; \
	  ( $(call stage,check-sanitize) ) && ( $(call stage,venv) ); rc=$$?; \
	  wait $$v; vrc=$$?; cat $$log; rm -f $$log; [ $$rc = 0 ] && [ $$vrc = 0 ]
	@$(call stage,check-integration)
	@$(call stage,check-integration-asan)
	@$(call stage,check-ironic)

demo: deps
	@$(MAKE) --no-print-directory all
	@tests/integration/demo

# The full benchmark (see docs/benchmarks.md): the swarm on the shaped
# testbed, then one seeder to 1 and 4 receivers over loopback, unshaped,
# against nginx -> curl and stock BitTorrent.  Subsets with
#   make bench BENCH_ARGS="--nodes 2,8 --methods ezio,udpcast --reps 1"
#   make bench-line LINE_ARGS="--size 256 --reps 3"
bench: deps
	@$(MAKE) --no-print-directory all
	@tools/bench/ezio-bench $(BENCH_ARGS)
	@tools/bench/line-rate $(LINE_ARGS)

# The schedule's simulator (tools/sim/README.md): build/ezio-sim, linked
# with the client's own piece-to-owner map
sim: $(BUILD)/ezio-sim

$(BUILD)/ezio-sim: tools/sim/ezio-sim.c ezio-deploy/lib/rendezvous.c ezio-deploy/lib/rendezvous.h ezio-deploy/lib/request_budget.h
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -Iezio-deploy/lib $(EZ_CFLAGS) tools/sim/ezio-sim.c ezio-deploy/lib/rendezvous.c -lm -o $@

bench-line: deps
	@$(MAKE) --no-print-directory all
	@tools/bench/line-rate $(LINE_ARGS)

# The fault suite (see docs/reliability.md); a subset with
#   make faults FAULTS_ARGS="--cases kill-receivers,corrupt-peer --reps 1"
faults: deps
	@$(MAKE) --no-print-directory all
	@tools/bench/ezio-faults $(FAULTS_ARGS)

# ezio-mktorrent against reading the used blocks once and against
# partclone's own torrent maker (see docs/mktorrent.md), e.g.
#   make bench-mktorrent MKBENCH_ARGS="--reps 3 --throttle 500"
bench-mktorrent: deps
	@$(MAKE) --no-print-directory all
	@tools/bench/mktorrent-speed $(MKBENCH_ARGS)

# The contract a driver imports: the status schema and the exit codes.
install: $(BINS)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/doc/ezio \
		$(DESTDIR)$(PREFIX)/share/ezio $(DESTDIR)$(PREFIX)/include/ezio
	install -m 0755 $(BINS) $(DESTDIR)$(PREFIX)/bin/
	install -m 0644 ezio-deploy/man/ezio-deploy.1 ezio-deploy/man/ezio-mktorrent.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 0644 config/node.yaml.sample $(DESTDIR)$(PREFIX)/share/doc/ezio/
	install -m 0644 config/ezio-status.schema.json $(DESTDIR)$(PREFIX)/share/ezio/
	install -m 0644 ezio-deploy/lib/exitcode.h $(DESTDIR)$(PREFIX)/include/ezio/

include tests/fuzz/fuzz.mk

clean:
	rm -rf build build-asan $(VENV)
