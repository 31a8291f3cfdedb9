#!/bin/sh
# Runs every cmocka suite given on the command line from the repository root and
# prints one closing line "N passed, N failed" summed over all of them.
# A suite that crashes (no cmocka summary) counts as one failure.
passed=0; failed=0; broken=""
for t in "$@"; do
  case "$t" in
    *.sh) out=$(sh "$t" 2>&1); rc=$? ;;
    *) out=$("$t" 2>&1); rc=$? ;;
  esac
  printf '%s\n' "$out"
  p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9][0-9]*\) test.*/\1/p' | tail -n 1)
  f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9][0-9]*\) test.*/\1/p' | tail -n 1)
  [ -n "$p" ] || p=0
  [ -n "$f" ] || f=0
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; broken="$broken $t"; fi
  passed=$((passed + p)); failed=$((failed + f))
done
[ -n "$broken" ] && echo "suites that exited abnormally:$broken"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
