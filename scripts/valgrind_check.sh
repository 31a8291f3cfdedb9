#!/bin/sh
# valgrind memcheck over one compile and one eval of a bundled bringup (Llama 3.2 on
# its tiny fixture, one device to keep it quick): any memory error or definite leak
# fails.  Run by `make valgrind` (and CI) from the repository root; $MGC is the binary.
set -e
MGC=${MGC:-build/mgc}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
vg="valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite"
echo "valgrind: compile"
$vg "$MGC" compile graphs/meta-llama/Llama-3.2-1B/t3000.graph --model tests/fixtures/llama32 \
  --system n150 --max-seq-len 64 -o "$tmp/plan.yaml"
echo "valgrind: eval"
$vg "$MGC" eval "$tmp/plan.yaml" --model tests/fixtures/llama32 \
  --reference tests/fixtures/llama32/reference.safetensors --max-new-tokens 4
echo "valgrind: clean"
