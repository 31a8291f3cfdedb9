#!/bin/sh
# run.sh TARGET SECONDS [libFuzzer options...]: fuzzes one target (safetensors, plan,
# spec, config, tokenizer) for SECONDS seconds, at low priority, from the repository
# root.  Needs `make fuzz`.  The corpus grows in build/fuzz/corpus/TARGET (seeded by
# fuzz/seeds.sh on first use); crashing inputs land in build/fuzz/crashes/TARGET.
set -e
target=$1; secs=$2
[ -n "$target" ] && [ -n "$secs" ] || { echo "usage: fuzz/run.sh TARGET SECONDS [options]" >&2; exit 2; }
shift 2
bin=build/fuzz/fuzz/fuzz_$target
[ -x "$bin" ] || { echo "run.sh: $bin missing: run 'make fuzz' first" >&2; exit 2; }
corpus=build/fuzz/corpus/$target
crashes=build/fuzz/crashes/$target
[ -d "$corpus" ] || sh fuzz/seeds.sh "$target" "$corpus"
mkdir -p "$crashes"
# past findings are read (never written) first: clang's UBSan sees what gcc's misses
regress=
[ -d "fuzz/regressions/$target" ] && regress=fuzz/regressions/$target
# Plans: libyaml's loader dominates and costs ~50 us per KB under the sanitizers; a
# bringup's plan is 20-40 KB (under 100 inputs/s), the test specs' plans ~3 KB.  Keep
# inputs small so mutation explores the reader, not libyaml, 10x faster.
maxlen=65536
[ "$target" = plan ] && maxlen=4096
# -timeout is wall-clock time, and at nice 19 on a busy machine a 0.5 s input (a config
# near the 1024-layer limit, under ASan) has passed 10 s: 30 s still catches a hang.
scratch=${TMPDIR:-/tmp}
[ -d /dev/shm ] && scratch=/dev/shm
TMPDIR=$scratch MGC_ROOT=$(pwd) exec nice -n 19 "$bin" -max_total_time="$secs" \
  -max_len=$maxlen -timeout=30 -rss_limit_mb=2048 -artifact_prefix="$crashes/" -print_final_stats=1 "$@" "$corpus" $regress
