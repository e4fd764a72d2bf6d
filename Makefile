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
            migration/format migration/ram migration/transport block \
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
# migrations with 10 faults (make check runs 6 with 1; docs/reliability.md).
soak: all
	FERRY_LIVE_UPDATE_COUNT=50 python3 scripts/run-tests --build $(BUILD) \
		--timeout 3600 -v -k test_live_update.Sequential
	FERRY_PINGPONG_COUNT=50 FERRY_PINGPONG_FAULTS=10 python3 \
		scripts/run-tests --build $(BUILD) --timeout 3600 -v \
		-k test_pingpong

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
#                valid streams, in build-fuzz/corpus.
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
# FUZZ_TARGET picks some (e.g. FUZZ_TARGET=blockdev); the default is all.
# Crashing inputs are saved as build-fuzz/crashes/crash-* (stream-load) and
# build-fuzz/crashes/blockdev-crash-* (keyval-crash-*); replay one by passing
# it to its binary,
#     build-fuzz/tests/fuzz/fuzz-stream-load build-fuzz/crashes/crash-...
#     build-fuzz/tests/fuzz/fuzz-blockdev build-fuzz/crashes/blockdev-crash-...
# (FUZZ_VERBOSE=1 makes either print what it did with the input).
# FUZZ_ARGS passes more libFuzzer options (e.g. FUZZ_ARGS=-jobs=4).
# build-fuzz/.gitignore keeps the tree (objects, corpus) out of git.
FUZZ_BUILD := build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_ARGS ?=
FUZZ_TARGET ?= stream-load blockdev keyval pvchannel handoff
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
FUZZ_BIN := $(FUZZ_DIR)/fuzz-stream-load
FUZZ_GEN := $(FUZZ_DIR)/gen-corpus
FUZZ_COMMON := $(FUZZ_DIR)/fuzz-common.o $(FERRY_LIBS)
FUZZ_BLK_BIN := $(FUZZ_DIR)/fuzz-blockdev
FUZZ_BLK_GEN := $(FUZZ_DIR)/gen-blockdev-corpus
FUZZ_KV_BIN := $(FUZZ_DIR)/fuzz-keyval
FUZZ_CH_BIN := $(FUZZ_DIR)/fuzz-pvchannel
FUZZ_HO_BIN := $(FUZZ_DIR)/fuzz-handoff

$(FUZZ_BIN): $(FUZZ_DIR)/fuzz-stream-load.o $(FUZZ_COMMON)
	$(CC) $(HOST_LDFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(LIBS)

$(FUZZ_GEN): $(FUZZ_DIR)/gen-corpus.o $(FUZZ_COMMON)
	$(CC) $(HOST_LDFLAGS) $(FUZZ_SAN) -o $@ $^ $(LIBS)

$(FUZZ_BLK_BIN): $(FUZZ_DIR)/fuzz-blockdev.o $(FUZZ_DIR)/fuzz-outcome.o \
                 $(FERRY_LIBS)
	$(CC) $(HOST_LDFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(LIBS)

$(FUZZ_KV_BIN): $(FUZZ_DIR)/fuzz-keyval.o $(FUZZ_DIR)/fuzz-outcome.o \
                $(FERRY_LIBS)
	$(CC) $(HOST_LDFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(LIBS)

# The channel reaches the machine's run state, and so its boot code.
$(FUZZ_CH_BIN): $(FUZZ_DIR)/fuzz-pvchannel.o $(FUZZ_DIR)/fuzz-outcome.o \
                $(FERRY_LIBS) $(BUILD)/guest/blob.o
	$(CC) $(HOST_LDFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(LIBS)

$(FUZZ_HO_BIN): $(FUZZ_DIR)/fuzz-handoff.o $(FUZZ_DIR)/fuzz-outcome.o \
                $(FERRY_LIBS) $(BUILD)/guest/blob.o
	$(CC) $(HOST_LDFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(LIBS)

# The seed writer runs every seed through the harness itself.
$(FUZZ_BLK_GEN): $(FUZZ_DIR)/gen-blockdev-corpus.o $(FUZZ_DIR)/fuzz-blockdev.o \
                 $(FUZZ_DIR)/fuzz-outcome.o $(FERRY_LIBS)
	$(CC) $(HOST_LDFLAGS) $(FUZZ_SAN) -o $@ $^ $(LIBS)

fuzz-run: $(addprefix fuzz-run-,$(FUZZ_TARGET))

fuzz-run-stream-load: $(FUZZ_BIN) $(FUZZ_GEN)
	@mkdir -p $(BUILD)/corpus $(BUILD)/crashes
	$(FUZZ_GEN) $(BUILD)/corpus
	$(FUZZ_BIN) -max_total_time=$(FUZZ_SECONDS) -timeout=10 \
	    -print_final_stats=1 -artifact_prefix=$(BUILD)/crashes/ \
	    $(FUZZ_ARGS) $(BUILD)/corpus

# One target after the other, even under -j.
fuzz-run-blockdev: $(FUZZ_BLK_BIN) $(FUZZ_BLK_GEN) | \
                   $(filter fuzz-run-stream-load,$(addprefix fuzz-run-,$(FUZZ_TARGET)))
	@mkdir -p $(BUILD)/corpus-blockdev $(BUILD)/crashes
	$(FUZZ_BLK_GEN) $(BUILD)/corpus-blockdev $(BUILD)/blockdev.dict
	$(FUZZ_BLK_BIN) -max_total_time=$(FUZZ_SECONDS) -timeout=10 \
	    -dict=$(BUILD)/blockdev.dict -print_final_stats=1 \
	    -artifact_prefix=$(BUILD)/crashes/blockdev- \
	    $(FUZZ_ARGS) $(BUILD)/corpus-blockdev

fuzz-run-keyval: $(FUZZ_KV_BIN) | \
                 $(filter fuzz-run-stream-load fuzz-run-blockdev,$(addprefix fuzz-run-,$(FUZZ_TARGET)))
	@mkdir -p $(BUILD)/corpus-keyval $(BUILD)/crashes
	$(FUZZ_KV_BIN) -max_total_time=$(FUZZ_SECONDS) -timeout=10 \
	    -dict=tests/fuzz/keyval.dict -print_final_stats=1 \
	    -artifact_prefix=$(BUILD)/crashes/keyval- \
	    $(FUZZ_ARGS) $(BUILD)/corpus-keyval

fuzz-run-pvchannel: $(FUZZ_CH_BIN) | \
                    $(filter fuzz-run-stream-load fuzz-run-blockdev fuzz-run-keyval,$(addprefix fuzz-run-,$(FUZZ_TARGET)))
	@mkdir -p $(BUILD)/corpus-pvchannel $(BUILD)/crashes
	$(FUZZ_CH_BIN) -max_total_time=$(FUZZ_SECONDS) -timeout=10 \
	    -print_final_stats=1 -artifact_prefix=$(BUILD)/crashes/pvchannel- \
	    $(FUZZ_ARGS) $(BUILD)/corpus-pvchannel

fuzz-run-handoff: $(FUZZ_HO_BIN) | \
                  $(filter fuzz-run-stream-load fuzz-run-blockdev fuzz-run-keyval fuzz-run-pvchannel,$(addprefix fuzz-run-,$(FUZZ_TARGET)))
	@mkdir -p $(BUILD)/corpus-handoff $(BUILD)/crashes
	$(FUZZ_HO_BIN) -max_total_time=$(FUZZ_SECONDS) -timeout=10 \
	    -print_final_stats=1 -artifact_prefix=$(BUILD)/crashes/handoff- \
	    $(FUZZ_ARGS) $(BUILD)/corpus-handoff
endif

.PHONY: fuzz fuzz-clean fuzz-run fuzz-run-stream-load fuzz-run-blockdev \
        fuzz-run-keyval fuzz-run-pvchannel fuzz-run-handoff
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
