# hcshim — non-recursive build.
#
#   make            build/libhcshim.so, build/libhcshim-core.so, build/hc-analyze, build/hc-gateway
#   make check      install dependencies, build, run every test (prints "N passed, N failed")
#   make demo       install dependencies, build, run the example agent under the shim, print the report
#   make bench      benchmarks, each printed as a ratio to a baseline measured in the same run
#   make fuzz       libFuzzer harnesses, bounded time each
#   make lint       house rules (scripts/checksrc) and clang-format (.clang-format); part of check
#   make deps       Debian packages only
#
# Layout: shim/ is the preloaded library (libc only, so every process stays cheap);
# core/ is the gateway + recorder, dlopen'ed on the first LLM connection; common/ is
# linked into both core and analyzer/. See README.md and the DESIGN comments.

CC      ?= cc
B       ?= build
SAN     ?=
OPT     ?= -O2
CFLAGS_BASE := -std=gnu11 $(OPT) -g -fPIC -fvisibility=hidden -Wall -Wextra -Werror \
               -Wshadow -Wno-unused-parameter -Wno-format-truncation -Wstrict-prototypes -Wmissing-prototypes \
               -D_GNU_SOURCE -MMD -MP -I. -Icommon
CFLAGS_ALL  := $(CFLAGS_BASE) $(SAN) $(CFLAGS)
LDFLAGS_ALL := $(SAN) $(LDFLAGS)

CORE_LIBS := -lssl -lcrypto -llmdb -lcjson -lzstd -lz -lbrotlidec -lpthread -ldl -lm
ANA_LIBS  := -llmdb -lcjson -lzstd -lz -lbrotlidec -lm

COMMON_SRC   := $(wildcard common/*.c)
COMMON_ASM   := common/prices_blob.S
SHIM_SRC     := $(wildcard shim/*.c shim/*.S)
CORE_SRC     := $(wildcard core/*.c)
ANALYZER_SRC := $(wildcard analyzer/*.c)
UNIT_SRC     := $(wildcard tests/unit/test_*.c)
TOOLS_SRC    := $(wildcard tests/tools/*.c)

obj = $(patsubst %.c,$(B)/obj/%.o,$(patsubst %.S,$(B)/obj/%.o,$(1)))

COMMON_OBJ   := $(call obj,$(COMMON_SRC) $(COMMON_ASM))
# libhcshim.so links only libc: its few common modules must not need more.
SHIM_OBJ     := $(call obj,$(SHIM_SRC) common/log.c common/mode.c common/provider.c common/sockaddr.c)
CORE_OBJ     := $(call obj,$(CORE_SRC))
ANALYZER_OBJ := $(call obj,$(ANALYZER_SRC))
UNIT_BIN     := $(patsubst tests/unit/%.c,$(B)/tests/%,$(UNIT_SRC))
TOOLS_BIN    := $(patsubst tests/tools/%.c,$(B)/tools/%,$(TOOLS_SRC))

SHIM_LIB := $(B)/libhcshim.so
CORE_LIB := $(B)/libhcshim-core.so
ANALYZER := $(B)/hc-analyze
# hc-gateway: the same core as a standalone service (service/), with the shim's host tables.
GATEWAY     := $(B)/hc-gateway
GATEWAY_OBJ := $(call obj,$(wildcard service/*.c))

.PHONY: all deps check check-unit check-asan check-tsan demo bench fuzz lint clean
all: $(SHIM_LIB) $(CORE_LIB) $(ANALYZER) $(GATEWAY) $(UNIT_BIN) $(TOOLS_BIN)

$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c $< -o $@

$(B)/obj/shim/%.o: shim/%.S
	@mkdir -p $(dir $@)
	$(CC) -c $(SAN) $< -o $@

# The price table is data (data/prices.tsv); it is embedded verbatim with .incbin.
$(B)/obj/common/prices_blob.o: common/prices_blob.S data/prices.tsv
	@mkdir -p $(dir $@)
	$(CC) -c -I. $< -o $@

# libhcshim.so links nothing but libc: it is loaded into every process of a CI
# job, so its load cost is kept minimal — lazy binding (no -z now: only the libc
# functions a process actually reaches get resolved) and -Bsymbolic-functions
# (references to our own hooks need no lookup at load time). shim/exports.map
# gives the OpenSSL hooks OpenSSL 3's symbol version.
$(SHIM_LIB): $(SHIM_OBJ) shim/exports.map
	$(CC) -shared $(LDFLAGS_ALL) -Wl,-O1 -Wl,-Bsymbolic-functions -Wl,-z,relro \
	    -Wl,--version-script=shim/exports.map -o $@ $(SHIM_OBJ)

$(CORE_LIB): $(CORE_OBJ) $(COMMON_OBJ)
	$(CC) -shared $(LDFLAGS_ALL) -Wl,-z,now -Wl,-z,relro -Wl,-z,nodelete -o $@ $^ $(CORE_LIBS)

$(ANALYZER): $(ANALYZER_OBJ) $(COMMON_OBJ)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(ANA_LIBS)

$(GATEWAY_OBJ): CFLAGS_ALL += -Icore
$(GATEWAY): $(GATEWAY_OBJ) $(CORE_OBJ) $(COMMON_OBJ) $(B)/obj/shim/hosts.o
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(CORE_LIBS)

# Unit tests: test_core_*.c link the common and core objects; the others only common.
$(B)/tests/test_core_%: tests/unit/test_core_%.c $(COMMON_OBJ) $(CORE_OBJ) tests/unit/t.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Icore -Itests/unit -o $@ $< $(COMMON_OBJ) $(CORE_OBJ) $(CORE_LIBS) -lbrotlienc -lm

$(B)/tests/%: tests/unit/%.c $(COMMON_OBJ) tests/unit/t.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Itests/unit -o $@ $< $(COMMON_OBJ) $(CORE_LIBS) -lm

# Test and benchmark tools (e.g. a store generator) link the common objects.
$(B)/tools/%: tests/tools/%.c $(COMMON_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ $< $(COMMON_OBJ) $(ANA_LIBS)

# hc-config-check: hc-run's up-front check of the settings it makes, with the
# core's and the hooks' own parsers (core/cmd/config_check.c). Part of `all`.
CONFIG_CHECK := $(B)/hc-config-check
all: $(CONFIG_CHECK)
$(CONFIG_CHECK): core/cmd/config_check.c $(CORE_OBJ) $(COMMON_OBJ) $(B)/obj/shim/hosts.o
	$(CC) $(CFLAGS_ALL) -Icore $(LDFLAGS_ALL) -o $@ $< $(CORE_OBJ) $(COMMON_OBJ) $(B)/obj/shim/hosts.o $(CORE_LIBS)

deps:
	scripts/deps.sh test

check: deps
	$(MAKE) lint
	$(MAKE) all
	$(MAKE) check-asan
	$(MAKE) check-tsan
	/usr/bin/python3 tests/run.py --build $(B) --asan-build $(B)-asan --tsan-build $(B)-tsan

check-unit: all
	/usr/bin/python3 tests/run.py --build $(B) --only unit

# A second build tree with AddressSanitizer + UndefinedBehaviorSanitizer: the test
# runner runs its unit tests, its hc-analyze, and the shim's integration tests
# again with its libhcshim.so/libhcshim-core.so preloaded into the real clients.
check-asan:
	$(MAKE) B=$(B)-asan OPT=-O1 SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
	    $(B)-asan/hc-analyze $(B)-asan/libhcshim.so $(B)-asan/libhcshim-core.so \
	    $(patsubst $(B)/%,$(B)-asan/%,$(UNIT_BIN) $(TOOLS_BIN))

# ThreadSanitizer: only the in-process gateway concurrency test (it starts the
# core in the test binary, so every thread of the gateway is instrumented).
TSAN_TESTS := $(filter %/test_core_gateway,$(UNIT_BIN))
check-tsan:
	$(if $(TSAN_TESTS),$(MAKE) B=$(B)-tsan OPT=-O1 SAN="-fsanitize=thread -fno-omit-frame-pointer" \
	    $(patsubst $(B)/%,$(B)-tsan/%,$(TSAN_TESTS)),@true)

demo:
	scripts/deps.sh build
	$(MAKE) all
	scripts/demo.sh

bench:
	scripts/deps.sh bench
	$(MAKE) all
	/usr/bin/python3 tests/bench/bench.py --build $(B)
	/usr/bin/python3 tests/bench/bench_fleet.py --build $(B)
	/usr/bin/python3 tests/bench/bench_alerts.py --build $(B)
	/usr/bin/python3 tests/bench/bench_otlp.py --build $(B)

# Lint: scripts/checksrc (line length, banned functions, buffer sends, function
# length, the README's module table; docs/DESIGN.md "House style") and
# clang-format --dry-run over every C file (.clang-format; the tree is formatted).
LINT_ALL     := $(sort $(wildcard core/*.[ch] core/cmd/*.c common/*.[ch] shim/*.[ch] analyzer/*.[ch] \
                  service/*.c tests/unit/*.[ch] tests/tools/*.[ch] tests/fuzz/*.[ch]))
lint:
	/usr/bin/python3 scripts/checksrc
	clang-format --dry-run --Werror $(LINT_ALL)

fuzz: deps
	scripts/fuzz.sh

clean:
	rm -rf $(B) $(B)-asan

-include $(shell find $(B) -name '*.d' 2>/dev/null)
