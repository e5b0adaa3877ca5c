# tests/fuzz/fuzz.mk - libFuzzer harnesses for ezio's parsers of hostile
# input (docs/fuzzing.md); included by the top Makefile.
#
#   make check-fuzz   every harness once over each input of tests/data/fuzz/NAME/
#                     (seeds and regressions), then FUZZ_CHECK_TIME seconds
#                     (default 20, inputs up to 4 KiB, FUZZ_JOBS at a time) from
#                     a copy of them; fails on any finding or a harness that
#                     runs nothing
#   make fuzz         the long run: FUZZ_RUNS inputs per harness (default
#                     10^7; FUZZ_TIME seconds caps each one), corpora kept in
#                     $(FUZZ_BUILD)/corpus/, the table in $(FUZZ_BUILD)/fuzz-results.md
#   FUZZ=bencode,torrent   only those harnesses (commas or spaces)
#
# The harnesses and the library objects they call are built with clang
# (libFuzzer is clang's) into $(FUZZ_BUILD)/, with the same preprocessor
# and pkg-config flags as the rest, and AddressSanitizer and UBSan.

FUZZ_BUILD      ?= build-fuzz
FUZZ_CC         ?= clang
FUZZ            ?= bencode torrent config partclone fetch
FUZZ_CHECK_TIME ?= 20
FUZZ_RUNS       ?= 10000000
FUZZ_TIME       ?= 0
FUZZ_JOBS       ?= $(shell nproc 2>/dev/null || echo 2)

FUZZ_NAMES  = $(subst $(comma), ,$(FUZZ))
FUZZ_SAN   := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS = -std=c11 $(WARN) -O1 -g $(FUZZ_SAN)
# the C modules the parsers live in, and what they call (a harness that
# fails to link names the one to add)
FUZZ_LIB_C := err io units bencode merkle layout torrent config partclone helper fetch
FUZZ_LIB   := $(FUZZ_BUILD)/libezio-fuzz.a
FUZZ_BINS   = $(FUZZ_NAMES:%=$(FUZZ_BUILD)/fuzz_%)

$(foreach f,$(FUZZ_NAMES),$(if $(wildcard tests/fuzz/fuzz_$(f).c),,$(error FUZZ: no harness '$(f)' (tests/fuzz/fuzz_$(f).c))))

$(FUZZ_BUILD)/lib/%.o: ezio-deploy/lib/%.c ezio-deploy/lib/*.h
	@mkdir -p $(@D)
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link $(PKG_CFLAGS) -c -o $@ $<

$(FUZZ_LIB): $(FUZZ_LIB_C:%=$(FUZZ_BUILD)/lib/%.o)
	$(AR) rcs $@ $^

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(FUZZ_LIB)
	$(FUZZ_CC) $(CPPFLAGS) -Itests/fuzz $(FUZZ_CFLAGS) -fsanitize=fuzzer $(PKG_CFLAGS) -o $@ $< \
		$(FUZZ_LIB) $(PKG_LIBS)

fuzz-build: $(FUZZ_BINS)

check-fuzz: $(FUZZ_BINS)
	@FUZZ_TIME="$(FUZZ_CHECK_TIME)" FUZZ_JOBS="$(FUZZ_JOBS)" tests/fuzz/run-fuzz check $(FUZZ_BUILD) $(FUZZ_NAMES)

fuzz: $(FUZZ_BINS)
	@FUZZ_RUNS="$(FUZZ_RUNS)" FUZZ_TIME="$(FUZZ_TIME)" FUZZ_JOBS="$(FUZZ_JOBS)" \
		tests/fuzz/run-fuzz long $(FUZZ_BUILD) $(FUZZ_NAMES)

.PHONY: fuzz-build
