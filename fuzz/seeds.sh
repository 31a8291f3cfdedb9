#!/bin/sh
# seeds.sh TARGET DIR: fills DIR with the seed corpus of a fuzz target, taken from the
# repository's own files (run from the repository root):
#   safetensors  fuzz/seeds/safetensors/* (small valid files) and the header of every
#                bundled fixture's .safetensors (its data left out to keep inputs small)
#   plan         the plans of the bundled bringups compiled for their fixtures, and
#                of the test specs of tests/specs/compile/ (needs build/mgc)
#   spec         every .graph of graphs/ and tests/specs/
#   config       every fixture's config.json
#   tokenizer    the tokenizer.json test files of tests/tokenizer/
set -e
target=$1; dir=$2
[ -n "$target" ] && [ -n "$dir" ] || { echo "usage: fuzz/seeds.sh TARGET DIR" >&2; exit 2; }
mkdir -p "$dir"
case $target in
safetensors)
  cp fuzz/seeds/safetensors/* "$dir"/
  for f in tests/fixtures/*/*.safetensors; do
    n=$(od -An -t u8 -N 8 "$f" | tr -d ' ')
    name=$(echo "$f" | tr '/' '_')
    head -c $((8 + n)) "$f" > "$dir/header_$name"
  done ;;
plan)
  MGC=${MGC:-build/mgc}
  tail -n +2 graphs/bringups.tsv | while IFS='	' read -r hf spec fixture ref; do
    name=$(echo "$hf" | tr '/' '_')
    "$MGC" compile "$spec" --model "$fixture" -o "$dir/$name.plan.yaml" >/dev/null 2>&1 ||
      echo "seeds.sh: could not compile $spec (skipped)" >&2
  done
  # small plans (a few KB: libFuzzer mutates them much faster) from the test specs
  # that compile; the others are meant to fail
  for spec in tests/specs/compile/*.graph; do
    "$MGC" compile "$spec" --config tests/specs/compile/tiny.json \
      -o "$dir/$(basename "$spec" .graph).plan.yaml" >/dev/null 2>&1 || true
  done ;;
spec)
  for f in graphs/*/*/*.graph graphs/common/*.graph tests/specs/*.graph tests/specs/compile/*.graph; do
    cp "$f" "$dir/$(echo "$f" | tr '/' '_')"
  done ;;
config)
  for f in tests/fixtures/*/config.json; do cp "$f" "$dir/$(echo "$f" | tr '/' '_')"; done ;;
tokenizer)
  for f in tests/tokenizer/*.json; do
    case $f in *package*) continue ;; esac
    cp "$f" "$dir/$(basename "$f")"
  done ;;
*) echo "seeds.sh: unknown target '$target' (safetensors, plan, spec, config, tokenizer)" >&2; exit 2 ;;
esac
