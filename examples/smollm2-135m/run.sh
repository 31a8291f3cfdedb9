#!/bin/sh
# Every command of this walkthrough, in order (run from the repository root:
# sh examples/smollm2-135m/run.sh).  The tests run it and check what it prints.
set -u
MGC=${MGC:-build/mgc}
E=examples/smollm2-135m
T=$(mktemp -d "${TMPDIR:-/tmp}/mgc-example.XXXXXX")
trap 'rm -rf "$T"' EXIT

echo '$ mgc check examples/smollm2-135m/n150.graph'
"$MGC" check $E/n150.graph && echo "(no output: the spec checks)"

echo
echo '$ mgc compile examples/smollm2-135m/n150.graph --config examples/smollm2-135m/config.json --system t3000'
"$MGC" compile $E/n150.graph --config $E/config.json --system t3000 -o "$T/t3000.plan.yaml" 2>&1
echo "(exit status $?)"

echo
echo '$ mgc compile examples/smollm2-135m/n150.graph --config examples/smollm2-135m/config.json -o smollm2.plan.yaml'
"$MGC" compile $E/n150.graph --config $E/config.json -o "$T/smollm2.plan.yaml" 2>&1 | sed "s|$T/||"

echo
echo '$ mgc compile examples/smollm2-135m/n150.graph --model tests/fixtures/llama32 --max-seq-len 128 -o tiny.plan.yaml'
"$MGC" compile $E/n150.graph --model tests/fixtures/llama32 --max-seq-len 128 -o "$T/tiny.plan.yaml" 2>&1 | sed "s|$T/||"

echo
echo '$ mgc eval tiny.plan.yaml --model tests/fixtures/llama32 --reference builtin --tokens 1,5,9,200,31,7,77,300,12,4 --max-new-tokens 16 --layers'
"$MGC" eval "$T/tiny.plan.yaml" --model tests/fixtures/llama32 --reference builtin \
    --tokens 1,5,9,200,31,7,77,300,12,4 --max-new-tokens 16 --layers
