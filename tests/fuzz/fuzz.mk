# fuzz.mk — builds the libFuzzer harnesses into $(B) (default build-fuzz/).
# Run from the repository root; scripts/fuzz.sh is the entry point:
#     make -f tests/fuzz/fuzz.mk -j2 B=build-fuzz
#
# The library sources are compiled with coverage instrumentation
# (-fsanitize=fuzzer-no-link) plus ASan and UBSan; each harness links the
# common/ objects and only the core/ objects it needs (core/gateway.c and its
# friends pull in the whole gateway and are never linked here).

FUZZ_CC ?= clang
B       ?= build-fuzz

SAN      := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
CFLAGS_F := -std=gnu11 -g -O1 $(SAN) -D_GNU_SOURCE -I. -Icommon -Icore -MMD -MP
LIBS_F   := -lssl -lcrypto -llmdb -lcjson -lzstd -lz -lbrotlidec -lbrotlienc -lm -lpthread

COMMON_SRC := $(wildcard common/*.c)
COMMON_OBJ := $(patsubst %.c,$(B)/obj/%.o,$(COMMON_SRC)) $(B)/obj/common/prices_blob.o

# Harness name -> the core/ sources it needs (besides every common/ object).
CORE_http_request  :=
CORE_http_response := core/retry.c
CORE_chunked       :=
CORE_stream        :=
CORE_usage         :=
CORE_clienthello   := core/clienthello.c
CORE_streamfix     := core/streamfix.c core/jsonedit.c
CORE_jsonedit      := core/jsonedit.c
CORE_decode        := core/decode.c
CORE_record        :=
CORE_cachefmt      :=
CORE_header        := core/retry.c core/ratelimit.c core/fallback.c core/budget.c core/options.c \
                      core/config.c core/jsonedit.c core/cache.c core/context.c
CORE_pricing       :=
CORE_jsonflat      :=

# Stand-ins for symbols of gateway modules that a linked core file references
# but that no fuzzed path may reach (they abort if called).
STUBS_header       := tests/fuzz/stubs.c

TARGETS := http_request http_response chunked stream usage clienthello streamfix jsonedit \
           decode record cachefmt header pricing jsonflat

BINS := $(patsubst %,$(B)/fuzz_%,$(TARGETS))

.PHONY: all
all: $(BINS)

# Library objects: instrumented for coverage, not linked with libFuzzer's main.
$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CFLAGS_F) -fsanitize=fuzzer-no-link -c $< -o $@

$(B)/obj/common/prices_blob.o: common/prices_blob.S data/prices.tsv
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -c -I. $< -o $@

# Harness objects (the harness and its stubs) and the final link.
$(B)/hobj/%.o: tests/fuzz/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CFLAGS_F) -Wall -Wextra -Wno-unused-parameter -fsanitize=fuzzer -c $< -o $@

define harness
$(B)/fuzz_$(1): $(B)/hobj/fuzz_$(1).o $(COMMON_OBJ) $(patsubst %.c,$(B)/obj/%.o,$(CORE_$(1))) \
                $(patsubst tests/fuzz/%.c,$(B)/hobj/%.o,$(STUBS_$(1)))
	$(FUZZ_CC) $(SAN) -fsanitize=fuzzer -o $$@ $$^ -Wl,--as-needed $(LIBS_F)
endef
$(foreach t,$(TARGETS),$(eval $(call harness,$(t))))

-include $(shell find $(B)/obj $(B)/hobj -name '*.d' 2>/dev/null)
