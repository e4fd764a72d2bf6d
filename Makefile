# ferry top-level Makefile.  `make` builds into build/; see README.md.
BUILD ?= build
# `make` alone means `make all`: the config rule below comes first.
.DEFAULT_GOAL := all
-include $(BUILD)/config.mak

# A missing build config installs what is missing and configures first, so
# `make check` and `make demo` work on a fresh machine.
$(BUILD)/config.mak: configure
	scripts/install-deps --quiet
	./configure --builddir=$(BUILD) $(CONFIGURE_FLAGS)

WARN := -Wall -Wextra -Wformat=2 -Wmissing-prototypes -Wstrict-prototypes \
        -Wshadow -Wno-unused-parameter -Wno-missing-field-initializers -Werror
CFLAGS ?= -O2 -g
# -fPIC -fvisibility=hidden: the same objects make the shared libraries,
# which export only FERRY_API declarations (mk/libraries.mak).
LIB_CODE_FLAGS ?= -fPIC -fvisibility=hidden
HOST_CFLAGS := $(CFLAGS) $(WARN) -std=gnu11 -D_GNU_SOURCE -pthread \
        $(LIB_CODE_FLAGS) \
        -I. -Iinclude -I$(BUILD) -Iguest/include $(PKG_CFLAGS) \
        -DFERRY_VERSION='"$(VERSION)"' -MMD -MP
HOST_LDFLAGS := -pthread
ifeq ($(ASAN),yes)
HOST_CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer
HOST_LDFLAGS += -fsanitize=address,undefined
endif
LIBS := $(PKG_LIBS) -lm

# --- generated QAPI code ----------------------------------------------------
# One run of the generator writes every file: plain types per schema module
# (qapi-types-MODULE, the main file's qapi-types, qapi-builtin-types), JSON
# conversion (qapi-visit), commands and events, introspection.
QAPI_SCHEMA := $(wildcard qapi/*.json)
QAPI_MODULES := $(filter-out qapi-schema,$(basename $(notdir $(QAPI_SCHEMA))))
QAPI_C := qapi-builtin-types qapi-types $(addprefix qapi-types-,$(QAPI_MODULES)) \
          qapi-visit qapi-commands qapi-introspect
QAPI_GEN := $(foreach f,$(QAPI_C),$(BUILD)/qapi/$(f).h $(BUILD)/qapi/$(f).c) \
            $(BUILD)/qapi/qapi-events.h
QAPI_OBJS := $(patsubst %,$(BUILD)/qapi/%.o,$(QAPI_C))

QAPI_GEN_PY := scripts/qapi-gen.py $(wildcard scripts/qapi/*.py)

$(QAPI_GEN) &: $(QAPI_SCHEMA) $(QAPI_GEN_PY)
	@mkdir -p $(BUILD)/qapi
	python3 scripts/qapi-gen.py -o $(BUILD)/qapi qapi/qapi-schema.json

# --- host code --------------------------------------------------------------
LIB_DIRS := util system accel accel/kvm accel/soft hw hw/x86 hw/char hw/misc \
            chardev \
            monitor io migration migration/outgoing migration/incoming \
            migration/format migration/ram migration/transport migration/multifd block \
            hw/block guest/workload system/live-update
include mk/libraries.mak

# Everything else of ferry: its VMM (system, accel, hw, monitor, ...).
LIB_SRCS := $(filter-out system/main.c $(MIG_LIB_SRCS) $(BLK_LIB_SRCS),\
              $(foreach d,$(LIB_DIRS),$(wildcard $(d)/*.c)))
LIB_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(LIB_SRCS)) \
            $(filter-out $(MIG_LIB_OBJS),$(QAPI_OBJS))
AGENT_CLI_SRCS := $(wildcard tools/ferry-agent/*.c)
AGENT_CLI_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(AGENT_CLI_SRCS))
CTL_SRCS := $(wildcard tools/ferryctl/*.c)
CTL_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(CTL_SRCS))
UNIT_SRCS := $(wildcard tests/unit/test-*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%,$(UNIT_SRCS))

all: $(BUILD)/ferry $(BUILD)/ferryctl $(BUILD)/ferry-img $(BUILD)/ferry-agent $(BUILD)/guest/ferry-guest.elf $(UNIT_BINS) libs

$(BUILD)/%.o: %.c $(BUILD)/config.mak | $(QAPI_GEN)
	@mkdir -p $(dir $@)
	$(CC) $(HOST_CFLAGS) -c -o $@ $<

$(BUILD)/qapi/%.o: $(BUILD)/qapi/%.c $(QAPI_GEN)
	$(CC) $(HOST_CFLAGS) -Wno-unused-function -c -o $@ $<

$(BUILD)/libferry.a: $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

# ferry embeds its own libraries like any VMM: after its own archive.
FERRY_LIBS := $(BUILD)/libferry.a $(INT_LIBS)

$(BUILD)/ferry: $(BUILD)/system/main.o $(FERRY_LIBS) $(BUILD)/guest/blob.o
	$(CC) $(HOST_LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/ferryctl: $(CTL_OBJS) $(FERRY_LIBS)
	$(CC) $(HOST_LDFLAGS) -o $@ $^ $(LIBS)

# The guest-agent CLI needs the bridge library only.
$(BUILD)/ferry-agent: $(AGENT_CLI_OBJS) $(BUILD)/libferry-agent-int.a
	$(CC) $(HOST_LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/ferry-img: $(BUILD)/tools/ferry-img/ferry-img.o $(FERRY_LIBS)
	$(CC) $(HOST_LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/tests/unit/%: tests/unit/%.c $(FERRY_LIBS) $(BUILD)/guest/blob.o | $(QAPI_GEN)
	@mkdir -p $(dir $@)
	$(CC) $(HOST_CFLAGS) $(HOST_LDFLAGS) -o $@ $(filter %.c %.a %.o,$^) $(LIBS)

# --- the test guest (freestanding, Multiboot v1) ----------------------------
include guest/guest.mak

# --- tests, demo, helpers ---------------------------------------------------
check: all
	python3 scripts/run-tests --build $(BUILD)

# The whole suite under AddressSanitizer and UBSan, in its own build tree.
check-asan:
	$(MAKE) BUILD=build-asan CONFIGURE_FLAGS=--enable-asan check

# The guest-agent bridge's tests under ThreadSanitizer: the library's
# sources and its test, built into $(BUILD)/tsan with GLib's mutexes on
# pthreads (tests/unit/tsan-glib-locks.c) so the sanitizer sees them.
TSAN_AGENT := $(BUILD)/tsan/test-agent-bridge
$(TSAN_AGENT): $(AGENT_LIB_SRCS) tests/unit/test-agent-bridge.c \
               tests/unit/tsan-glib-locks.c agent/agent-int.h \
               include/ferry/agent.h $(BUILD)/config.mak
	@mkdir -p $(dir $@)
	$(CC) -O1 -g -fsanitize=thread $(WARN) -std=gnu11 -D_GNU_SOURCE \
	    -pthread -Iinclude $(PKG_CFLAGS) -o $@ \
	    $(filter %.c,$^) $(shell pkg-config --libs glib-2.0 json-glib-1.0)

check-tsan-agent: $(TSAN_AGENT)
	TSAN_OPTIONS="halt_on_error=1 suppressions=tests/unit/tsan.supp" \
	    $(TSAN_AGENT)

# Long runs that do not fit `make check`: 50 sequential live updates of
# one guest under RAM and disk load (make check runs 5), and 50 ping-pong
# migrations with 10 faults (make check runs 6 with 1; docs/reliability.md),
# the three postcopy link cuts with the issue's 4 GiB guest (1 GiB in
# make check), and postcopy of a 2 GiB guest dirtying flat out.
soak: all
	FERRY_LIVE_UPDATE_COUNT=50 python3 scripts/run-tests --build $(BUILD) \
		--timeout 3600 -v -k test_live_update.Sequential
	FERRY_PINGPONG_COUNT=50 FERRY_PINGPONG_FAULTS=10 python3 \
		scripts/run-tests --build $(BUILD) --timeout 3600 -v \
		-k test_pingpong
	FERRY_RECOVERY_GIB=4 python3 scripts/run-tests --build $(BUILD) \
		--timeout 3600 -v -k test_postcopy_recovery.RecoveryThreeCuts
	FERRY_SOAK=1 python3 scripts/run-tests --build $(BUILD) \
		--timeout 3600 -v -k test_postcopy.PostcopyTwoGig

demo: all
	python3 scripts/demo.py --build $(BUILD)

setup:
	scripts/install-deps

docs/qmp.md: $(QAPI_SCHEMA) $(QAPI_GEN_PY)
	python3 scripts/qapi-gen.py --doc $@ qapi/qapi-schema.json

clean:
	rm -rf $(BUILD) build-asan

.PHONY: all check check-asan check-tsan-agent soak demo setup clean
-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# --- fuzzing ------------------------------------------------------------------
# `make fuzz` builds the libFuzzer targets (tests/fuzz/) with clang, ASan
# and UBSan in their own tree, build-fuzz/ (configured with --cc=clang;
# build/ is not touched), writes each one's seed corpus and fuzzes each in
# turn for FUZZ_SECONDS:
#   stream-load  the incoming migration stream (savevm_load); seeds are
#                valid streams, in build-fuzz/corpus-stream-load.
#   blockdev     the block options a user types: each input is up to ten
#                lines, each a -blockdev spec (blockdev_add) or a -device
#                pvblk spec (pvblk_create), applied in order; nothing is
#                attached, so no file or connection is opened.  Seeds (checked
#                against the parsers as they are written) in
#                build-fuzz/corpus-blockdev, a dictionary of the drivers'
#                option keys in build-fuzz/blockdev.dict.  A refused -device
#                must leave no device behind (FUZZ_STRICT=0 skips that).
#   keyval       the option parser (util/keyval.h), key=value and JSON:
#                an accepted option must parse again from its own text;
#                starts from tests/fuzz/keyval.dict, corpus in
#                build-fuzz/corpus-keyval.
#   pvchannel    the guest agent channel's registers and rings, as a
#                guest misprogramming them (tests/fuzz/fuzz-pvchannel.c):
#                ferry must never crash, the channel only stop with
#                STATUS_ERROR; corpus in build-fuzz/corpus-pvchannel.
#   handoff      the live update's handoff packets as a successor reads
#                them, descriptors attached (tests/fuzz/fuzz-handoff.c):
#                every refusal says why and no descriptor leaks; corpus
#                in build-fuzz/corpus-handoff.
#   qmp          QMP in-process (tests/fuzz/fuzz-qmp.c): splitter, parser,
#                dispatcher and the generated marshallers against a
#                scratch machine; commands that would start a migration,
#                exec or exit only have their arguments checked.  One
#                reply per value, well-formed, no descriptor leaked.
#   return-path  the messages a source reads from its destination
#                (tests/fuzz/fuzz-return-path.c).
#   pvblk        pvblk's registers and request ring as a guest programs
#                them (tests/fuzz/fuzz-pvblk.c): every request taken is
#                answered once, the ring held is always valid.
#   http         the http driver's response handling
#                (block/http-response.c, tests/fuzz/fuzz-http.c): only an
#                exact 206 of the range asked for is accepted.
#   multifd      a multifd channel's init and packets as a destination
#                decodes them, payloads inflated into a scratch guest RAM
#                (tests/fuzz/fuzz-multifd.c).
# The last five start from seeds tests/fuzz/gen-seeds.c writes into
# build-fuzz/corpus-NAME, plus the regression inputs in
# tests/fuzz/regress/NAME; qmp also from build-fuzz/qmp.dict.
# docs/untrusted-input.md says what each target checks.
# FUZZ_TARGET picks some (e.g. FUZZ_TARGET=blockdev); the default is all.
# Crashing inputs are saved as build-fuzz/crashes/NAME-crash-* (and
# NAME-oom-*, NAME-leak-*, NAME-timeout-*); replay one by passing it to its
# binary,
#     build-fuzz/tests/fuzz/fuzz-blockdev build-fuzz/crashes/blockdev-crash-...
# (FUZZ_VERBOSE=1 makes most print what they did with the input).
# FUZZ_ARGS passes more libFuzzer options (e.g. FUZZ_ARGS=-jobs=4).
# build-fuzz/.gitignore keeps the tree (objects, corpus) out of git.
FUZZ_BUILD := build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_ARGS ?=
FUZZ_TARGET ?= stream-load blockdev keyval pvchannel handoff qmp return-path \
               pvblk http multifd
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined \
            -fno-omit-frame-pointer

fuzz:
	scripts/install-deps --quiet --fuzz
	@mkdir -p $(FUZZ_BUILD) && echo '*' > $(FUZZ_BUILD)/.gitignore
	$(MAKE) BUILD=$(FUZZ_BUILD) CONFIGURE_FLAGS=--cc=clang \
	    CFLAGS='-O1 -g $(FUZZ_SAN) -fsanitize=fuzzer-no-link' \
	    WARN='$(WARN) -Wno-error' FUZZ_TARGET='$(FUZZ_TARGET)' fuzz-run

fuzz-clean:
	rm -rf $(FUZZ_BUILD)

ifeq ($(BUILD),$(FUZZ_BUILD))
FUZZ_DIR := $(BUILD)/tests/fuzz
FUZZ_GEN := $(FUZZ_DIR)/gen-corpus
# The machine's run state reaches its boot code, and so the guest blob.
FUZZ_LIBS := $(FERRY_LIBS) $(BUILD)/guest/blob.o
FUZZ_BLK_GEN := $(FUZZ_DIR)/gen-blockdev-corpus
FUZZ_SEEDS := $(FUZZ_DIR)/gen-seeds
FUZZ_LINK = $(CC) $(HOST_LDFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(LIBS)

$(FUZZ_DIR)/fuzz-stream-load: $(FUZZ_DIR)/fuzz-stream-load.o \
                              $(FUZZ_DIR)/fuzz-common.o $(FUZZ_LIBS)
	$(FUZZ_LINK)

$(FUZZ_GEN): $(FUZZ_DIR)/gen-corpus.o $(FUZZ_DIR)/fuzz-common.o $(FUZZ_LIBS)
	$(CC) $(HOST_LDFLAGS) $(FUZZ_SAN) -o $@ $^ $(LIBS)

# Every other target: its own object and the rule fuzz-outcome.c checks.
$(FUZZ_DIR)/fuzz-%: $(FUZZ_DIR)/fuzz-%.o $(FUZZ_DIR)/fuzz-outcome.o \
                    $(FUZZ_LIBS)
	$(FUZZ_LINK)

# The seed writer runs every seed through the harness itself.
$(FUZZ_BLK_GEN): $(FUZZ_DIR)/gen-blockdev-corpus.o $(FUZZ_DIR)/fuzz-blockdev.o \
                 $(FUZZ_DIR)/fuzz-outcome.o $(FUZZ_LIBS)
	$(CC) $(HOST_LDFLAGS) $(FUZZ_SAN) -o $@ $^ $(LIBS)

$(FUZZ_SEEDS): $(FUZZ_DIR)/gen-seeds.o $(FUZZ_LIBS)
	$(CC) $(HOST_LDFLAGS) $(FUZZ_SAN) -o $@ $^ $(LIBS)

fuzz-run: $(addprefix fuzz-run-,$(FUZZ_TARGET))

# The targets of FUZZ_TARGET before $(1): one runs after the other, even
# under -j.
fuzz_before = $(addprefix fuzz-run-,$(call fuzz_upto,$(1),$(FUZZ_TARGET)))
fuzz_upto = $(if $(2),$(if $(filter $(1),$(firstword $(2))),,\
            $(firstword $(2)) $(call fuzz_upto,$(1),$(wordlist 2,999,$(2)))))

# $(1): the target; $(2): more libFuzzer options.  Crashes go to
# build-fuzz/crashes/$(1)-*; the regression inputs run first.
define fuzz_run
	@mkdir -p $(BUILD)/corpus-$(1) $(BUILD)/crashes
	$(FUZZ_DIR)/fuzz-$(1) -max_total_time=$(FUZZ_SECONDS) -timeout=10 \
	    -print_final_stats=1 -artifact_prefix=$(BUILD)/crashes/$(1)- \
	    $(2) $(FUZZ_ARGS) $(BUILD)/corpus-$(1) \
	    $(wildcard tests/fuzz/regress/$(1))
endef

# docs/untrusted-input.md: beyond its guest's RAM a stream makes the
# destination allocate at most 17 MiB; one allocation larger is a finding.
FUZZ_STREAM_MB := 17

fuzz-run-stream-load: $(FUZZ_DIR)/fuzz-stream-load $(FUZZ_GEN) | \
                      $(call fuzz_before,stream-load)
	@mkdir -p $(BUILD)/corpus-stream-load
	$(FUZZ_GEN) $(BUILD)/corpus-stream-load
	$(call fuzz_run,stream-load,-malloc_limit_mb=$(FUZZ_STREAM_MB))

fuzz-run-blockdev: $(FUZZ_DIR)/fuzz-blockdev $(FUZZ_BLK_GEN) | \
                   $(call fuzz_before,blockdev)
	@mkdir -p $(BUILD)/corpus-blockdev
	$(FUZZ_BLK_GEN) $(BUILD)/corpus-blockdev $(BUILD)/blockdev.dict
	$(call fuzz_run,blockdev,-dict=$(BUILD)/blockdev.dict)

fuzz-run-keyval: $(FUZZ_DIR)/fuzz-keyval | $(call fuzz_before,keyval)
	$(call fuzz_run,keyval,-dict=tests/fuzz/keyval.dict)

fuzz-run-pvchannel: $(FUZZ_DIR)/fuzz-pvchannel | $(call fuzz_before,pvchannel)
	$(call fuzz_run,pvchannel)

fuzz-run-handoff: $(FUZZ_DIR)/fuzz-handoff | $(call fuzz_before,handoff)
	$(call fuzz_run,handoff)

fuzz-run-qmp: $(FUZZ_DIR)/fuzz-qmp $(FUZZ_SEEDS) | $(call fuzz_before,qmp)
	$(call fuzz_seed,qmp)
	$(FUZZ_SEEDS) qmp $(BUILD)/corpus-qmp $(BUILD)/qmp.dict
	$(call fuzz_run,qmp,-dict=$(BUILD)/qmp.dict)

# $(1): a target whose seeds gen-seeds writes.
define fuzz_seed
	@mkdir -p $(BUILD)/corpus-$(1)
	$(FUZZ_SEEDS) $(1) $(BUILD)/corpus-$(1)
endef

fuzz-run-return-path: $(FUZZ_DIR)/fuzz-return-path $(FUZZ_SEEDS) | \
                      $(call fuzz_before,return-path)
	$(call fuzz_seed,return-path)
	$(call fuzz_run,return-path)

fuzz-run-pvblk: $(FUZZ_DIR)/fuzz-pvblk $(FUZZ_SEEDS) | $(call fuzz_before,pvblk)
	$(call fuzz_seed,pvblk)
	$(call fuzz_run,pvblk)

fuzz-run-http: $(FUZZ_DIR)/fuzz-http $(FUZZ_SEEDS) | $(call fuzz_before,http)
	$(call fuzz_seed,http)
	$(call fuzz_run,http)

# 64 KiB: a few packets with their pages; the compressed seeds of 128
# pages fit.
fuzz-run-multifd: $(FUZZ_DIR)/fuzz-multifd $(FUZZ_SEEDS) | \
                  $(call fuzz_before,multifd)
	$(call fuzz_seed,multifd)
	$(call fuzz_run,multifd,-max_len=65536)
endif

.PHONY: fuzz fuzz-clean fuzz-run $(addprefix fuzz-run-,stream-load blockdev \
        keyval pvchannel handoff qmp return-path pvblk http)
# --- end of fuzzing -------------------------------------------------------------

# --- benchmarks ---
# `make bench`: migration performance, ferry and QEMU side by side
# (scripts/bench.py; BENCH_ARGS='--quick --repeat 3 --no-qemu' and so on),
# then downtime against disk attach latency (scripts/bench_block.py,
# BENCH_BLOCK_ARGS).  Results in $(BUILD)/bench/results.md and
# block-results.md; see docs/performance.md.
BENCH_ARGS ?=
BENCH_BLOCK_ARGS ?=
BENCH_LU_ARGS ?=
bench: all
	python3 scripts/bench.py --build $(BUILD) $(BENCH_ARGS)
	python3 scripts/bench_block.py --build $(BUILD) $(BENCH_BLOCK_ARGS)
	python3 scripts/bench_live_update.py --build $(BUILD) $(BENCH_LU_ARGS)

.PHONY: bench
# --- end benchmarks ---
