#!/bin/sh
# The main job: compile a bundled bringup spec for its system against the
# bundled tiny checkpoint of its architecture, and evaluate it against the
# HuggingFace reference (teacher forcing).  Usage: scripts/demo.sh [HF_ID]
# (default meta-llama/Llama-3.2-1B; see graphs/bringups.tsv for the others).
set -eu
cd "$(dirname "$0")/.."
hf=${1:-meta-llama/Llama-3.2-1B}
echo "== mgc check (every bundled spec)"
"${MGC:-build/mgc}" check graphs/common/llama.graph graphs/*/*/*.graph && echo "all specs check"
echo
echo "== $hf: compile for its system and evaluate against the HF reference"
exec sh scripts/run_eval.sh --hf-model "$hf"
