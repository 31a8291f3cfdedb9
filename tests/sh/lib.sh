# Shared by the shell-driven suites (sourced, run from the repository root):
# check/pass/fail counting in cmocka's summary format, which
# tests/run_tests.sh adds up, and the reference's token ids.
BUILD=${BUILD:-build}
SAN=${SAN:-0}
CC=${CC:-cc}
REPO=$(pwd)
passed=0
failed=0
# ok NAME COMMAND...: runs COMMAND, counts it.
ok() {
  name=$1; shift
  if "$@" >"$tmp/out.txt" 2>&1; then
    echo "[       OK ] $name"; passed=$((passed + 1))
  else
    echo "[  FAILED  ] $name"; sed 's/^/    /' "$tmp/out.txt" | tail -n 30; failed=$((failed + 1))
  fi
}
finish() {
  echo "[==========] $((passed + failed)) test(s) run."
  echo "[  PASSED  ] $passed test(s)."
  [ "$failed" -eq 0 ] || echo "[  FAILED  ] $failed test(s)."
  rm -rf "$tmp"
  [ "$failed" -eq 0 ]
}
# Under SAN=1 the library is built with ASan: programs that load it are
# built with the same flags, and an interpreter gets the runtime preloaded.
SANFLAGS=
if [ "$SAN" = 1 ]; then
  SANFLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer"
  export ASAN_OPTIONS=detect_leaks=0
fi
# ids FILE TENSOR [START [END]]: a tensor of I64 ids of a safetensors file, comma-separated.
ids() {
  /usr/bin/python3 - "$@" <<'PY'
import json, struct, sys
path, name = sys.argv[1], sys.argv[2]
b = open(path, 'rb').read()
n = struct.unpack('<Q', b[:8])[0]
h = json.loads(b[8:8 + n])
s, e = h[name]['data_offsets']
v = struct.unpack('<%dq' % ((e - s) // 8), b[8 + n + s:8 + n + e])
lo = int(sys.argv[3]) if len(sys.argv) > 3 else 0
hi = int(sys.argv[4]) if len(sys.argv) > 4 else len(v)
print(','.join(str(x) for x in v[lo:hi]))
PY
}
prompt_len() {
  /usr/bin/python3 -c "
import json, struct, sys
b = open(sys.argv[1], 'rb').read(); n = struct.unpack('<Q', b[:8])[0]
print(json.loads(b[8:8 + n])['__metadata__']['prompt_len'])" "$1"
}
