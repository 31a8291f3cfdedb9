#!/bin/sh
# Runs every benchmark binary given on the command line (from the repository
# root, as `make bench` does), one after the other, printing each one's output
# under a header with its wall time.  Benchmarks take their default settings,
# chosen so that the whole run stays around a minute; BENCH_ARGS_<name> (e.g.
# BENCH_ARGS_bench_compile=100) passes arguments to one of them.  Exits 1 if
# any benchmark failed (non-zero status, e.g. a missed target), after running
# them all.
status=0
failed=""
for b in "$@"; do
  name=$(basename "$b")
  eval "args=\${BENCH_ARGS_$name:-}"
  echo "==== $name $args"
  start=$(date +%s)
  # shellcheck disable=SC2086
  "$b" $args
  rc=$?
  end=$(date +%s)
  echo "==== $name: exit $rc, $((end - start)) s"
  echo
  if [ "$rc" -ne 0 ]; then
    status=1
    failed="$failed $name"
  fi
done
[ -n "$failed" ] && echo "benchmarks that failed:$failed"
exit $status
