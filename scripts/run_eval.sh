#!/bin/sh
# Automation wrapper, the counterpart of the seeds' `scripts/run_eval.py`:
#
#   scripts/run_eval.sh --hf-model ORG/NAME [--mode tt|ref] [--model DIR]
#                       [--reference FILE|builtin] [--prompt-file FILE]
#                       [--max-new-tokens N] [--system NAME] [--max-seq-len N]
#
# Finds the bringup's spec in graphs/bringups.tsv, compiles it, evaluates it
# and prints the eval table ending in the YT_METRICS={...} line.
#   --mode tt   (default) the bringup's plan, with the precision its spec declares
#   --mode ref  the same spec unsharded on one device in f32: mgc's own
#               reference, checked against the HF reference
# Without --model it uses the bundled tiny checkpoint of that architecture and
# its HF reference (tests/fixtures/...); point --model at a real HuggingFace
# snapshot directory and --reference at a reference file made for it
# (scripts/hf_reference.py makes one), or use --reference builtin with
# --prompt-file: mgc's own f32 one-device reference of that prompt.
set -eu
cd "$(dirname "$0")/.."
MGC=${MGC:-build/mgc}
mode=tt; hf=""; model=""; ref=""; system=""; maxlen=""; pfile=""; maxnew=""
while [ $# -gt 0 ]; do
  case "$1" in
    --mode) mode=$2; shift 2;;
    --hf-model) hf=$2; shift 2;;
    --model) model=$2; shift 2;;
    --reference) ref=$2; shift 2;;
    --system) system=$2; shift 2;;
    --max-seq-len) maxlen=$2; shift 2;;
    --prompt-file) pfile=$2; shift 2;;
    --max-new-tokens) maxnew=$2; shift 2;;
    -h|--help) sed -n '2,/^set -eu/{/^#/p}' "$0" | sed 's/^# \{0,1\}//'; exit 0;;
    *) echo "run_eval: unknown argument '$1' (see --help)" >&2; exit 2;;
  esac
done
[ -n "$hf" ] || { echo "run_eval: --hf-model ORG/NAME is required" >&2; exit 2; }
case "$mode" in tt|ref) ;; *) echo "run_eval: --mode is tt or ref, not '$mode'" >&2; exit 2;; esac
line=$(awk -F '\t' -v id="$hf" '$1 == id' graphs/bringups.tsv)
if [ -z "$line" ]; then
  echo "run_eval: no bringup for '$hf' in graphs/bringups.tsv; known:" >&2
  grep -v '^#' graphs/bringups.tsv | cut -f1 | sed 's/^/  /' >&2
  exit 1
fi
spec=$(printf '%s\n' "$line" | cut -f2)
tiny=$(printf '%s\n' "$line" | cut -f3)
tinyref=$(printf '%s\n' "$line" | cut -f4)
[ -n "$model" ] || model=$tiny
[ -n "$ref" ] || ref=$tiny/$tinyref
if [ "$ref" = builtin ] && [ -z "$pfile" ]; then
  echo "run_eval: --reference builtin needs --prompt-file FILE" >&2; exit 2
fi
if [ -n "$pfile" ] && [ "$ref" != builtin ]; then
  echo "run_eval: --prompt-file goes with --reference builtin" >&2; exit 2
fi
[ -x "$MGC" ] || make -s "$MGC"
plan=$(mktemp "${TMPDIR:-/tmp}/mgc-plan.XXXXXX")
trap 'rm -f "$plan"' EXIT
set -- --model "$model" -o "$plan"
[ -n "$system" ] && set -- "$@" --system "$system"
[ -n "$maxlen" ] && set -- "$@" --max-seq-len "$maxlen"
if [ "$mode" = ref ]; then
  set -- "$@" --system cpu --weights-dtype f32 --activations-dtype f32
fi
"$MGC" compile "$spec" "$@"
set -- --model "$model" --reference "$ref"
[ -n "$pfile" ] && set -- "$@" --prompt-file "$pfile"
[ -n "$maxnew" ] && set -- "$@" --max-new-tokens "$maxnew"
"$MGC" eval "$plan" "$@"
