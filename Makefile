# mgc build.  `make` builds build/mgc; `make test` builds and runs every suite;
# `make test SAN=1` does the same under AddressSanitizer + UBSan (in build/san);
# `make bench` builds and runs the benchmarks.
#
# Sources are picked up by wildcard: a new compiler/*.c, runtime/*.c, tokenizer/*.c,
# eval/*.c, driver/*.c,
# tests/test_*.c or bench/*.c file needs no edit here.

CC      ?= cc
PKGS    := yaml-0.1 json-c libpcre2-8 libutf8proc
SAN     ?= 0
OPT     ?= -O2

BUILD   ?= build
ifeq ($(SAN),1)
BUILD   := $(BUILD)/san
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
else
SANFLAGS :=
endif

CPPFLAGS += -D_GNU_SOURCE -Icommon -Icompiler -Iruntime -Itokenizer -Ieval -Idriver -Itests/support -I$(BUILD)/gen $(shell pkg-config --cflags $(PKGS) cmocka)
CFLAGS  += -std=c11 -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter $(OPT) -g $(SANFLAGS) -pthread
LDLIBS  += $(shell pkg-config --libs $(PKGS)) -lopenblas -lm -pthread
LDFLAGS += $(SANFLAGS)

GEN_SRC   := $(BUILD)/gen/mgc_parser.c $(BUILD)/gen/mgc_lexer.c
COMMON_SRC := $(sort $(wildcard common/*.c))
COMP_SRC  := $(sort $(wildcard compiler/*.c))
RT_SRC    := $(sort $(wildcard runtime/*.c))
TOK_SRC   := $(sort $(wildcard tokenizer/*.c))
EVAL_SRC  := $(sort $(wildcard eval/*.c))
DRV_SRC   := $(sort $(wildcard driver/*.c))
TEST_SRC  := $(sort $(wildcard tests/test_*.c))
TESTLIB_SRC := $(sort $(wildcard tests/support/*.c))
BENCH_SRC := $(sort $(wildcard bench/*.c))
BENCHLIB_SRC := $(sort $(wildcard bench/support/*.c))

COMP_OBJ  := $(COMP_SRC:%.c=$(BUILD)/obj/%.o) $(GEN_SRC:$(BUILD)/gen/%.c=$(BUILD)/obj/gen/%.o)
RT_OBJ    := $(RT_SRC:%.c=$(BUILD)/obj/%.o)
TOK_OBJ   := $(TOK_SRC:%.c=$(BUILD)/obj/%.o)
EVAL_OBJ  := $(EVAL_SRC:%.c=$(BUILD)/obj/%.o)
COMMON_OBJ := $(COMMON_SRC:%.c=$(BUILD)/obj/%.o)
DRV_OBJ   := $(DRV_SRC:%.c=$(BUILD)/obj/%.o)
TESTLIB_OBJ := $(TESTLIB_SRC:%.c=$(BUILD)/obj/%.o)
TESTS     := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
BENCHES   := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)
BENCHLIB_OBJ := $(BENCHLIB_SRC:%.c=$(BUILD)/obj/%.o)

LIBCOMP := $(BUILD)/libmgc_compiler.a
LIBRT   := $(BUILD)/libmgc_runtime.a
LIBTOK  := $(BUILD)/libmgc_tokenizer.a
LIBEVAL := $(BUILD)/libmgc_eval.a
LIBDRV  := $(BUILD)/libmgc_driver.a
LIBCOMMON := $(BUILD)/libmgc_common.a

.PHONY: all test bench bench-quick clean setup demo
# keep objects and generated sources between runs
.SECONDARY:
all: $(BUILD)/mgc

# Generated frontend: flex/bison -> C.
$(BUILD)/gen/mgc_parser.c $(BUILD)/gen/mgc_parser.h: grammar/mgc.y
	@mkdir -p $(@D)
	bison -Wall -Werror --defines=$(BUILD)/gen/mgc_parser.h -o $(BUILD)/gen/mgc_parser.c $<
$(BUILD)/gen/mgc_lexer.c $(BUILD)/gen/mgc_lexer.h: grammar/mgc.l $(BUILD)/gen/mgc_parser.h
	@mkdir -p $(@D)
	flex --header-file=$(BUILD)/gen/mgc_lexer.h -o $(BUILD)/gen/mgc_lexer.c $<

# Generated code is not held to -Wextra's unused-function noise from flex.
$(BUILD)/obj/gen/%.o: $(BUILD)/gen/%.c $(BUILD)/gen/mgc_parser.h $(BUILD)/gen/mgc_lexer.h
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -Wno-unused-function -Wno-sign-compare -MMD -MP -c -o $@ $<

$(BUILD)/obj/%.o: %.c | $(BUILD)/gen/mgc_parser.h $(BUILD)/gen/mgc_lexer.h
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

$(LIBCOMP): $(COMP_OBJ)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^
$(LIBCOMMON): $(COMMON_OBJ)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^
$(LIBRT): $(RT_OBJ)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^
$(LIBTOK): $(TOK_OBJ)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^
$(LIBEVAL): $(EVAL_OBJ)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^
# The driver's commands also form a library so tests can call them in-process.
$(LIBDRV): $(filter-out $(BUILD)/obj/driver/main.o,$(DRV_OBJ))
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/mgc: $(BUILD)/obj/driver/main.o $(LIBDRV) $(LIBEVAL) $(LIBTOK) $(LIBRT) $(LIBCOMP) $(LIBCOMMON)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/%.o $(TESTLIB_OBJ) $(LIBDRV) $(LIBEVAL) $(LIBTOK) $(LIBRT) $(LIBCOMP) $(LIBCOMMON)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(shell pkg-config --libs cmocka)

$(BUILD)/bench/%: $(BUILD)/obj/bench/%.o $(BENCHLIB_OBJ) $(LIBDRV) $(LIBEVAL) $(LIBTOK) $(LIBRT) $(LIBCOMP) $(LIBCOMMON)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# The tokenizer suite compares against the JavaScript reference tokenizers,
# installed (pinned) from npm by tests/tokenizer/setup.sh; quick when present.
test: $(BUILD)/mgc $(TESTS)
	@sh tests/tokenizer/setup.sh
	@MGC=$(BUILD)/mgc sh tests/run_tests.sh $(TESTS)

bench: $(BUILD)/mgc $(BENCHES)
	@MGC=$(BUILD)/mgc sh bench/run_bench.sh $(BENCHES)

# The same benchmarks in their quick mode (small sizes, a few seconds, no
# figure checked): that they run, for CI.
bench-quick: $(BUILD)/mgc $(BENCHES)
	@MGC=$(BUILD)/mgc MGC_BENCH_QUICK=1 sh bench/run_bench.sh $(BENCHES)

setup:
	@sh scripts/setup.sh

# The README's main job: compile a bundled bringup and evaluate it.
demo: $(BUILD)/mgc
	@MGC=$(BUILD)/mgc sh scripts/demo.sh $(MODEL)

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
