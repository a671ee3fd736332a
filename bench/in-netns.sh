# Sourced by a benchmark once its tools are installed: re-runs it in a network
# namespace of its own (with lo up; deleted on exit), so the dockerd,
# registry and containers it starts change nothing of the host's network (a
# dockerd in the host's namespace, even with --bridge=none, deletes the
# host's docker0). Disk, CPU and memory are the host's as a user has them.
if [ -z "${SKIFF_BENCH_NETNS:-}" ]; then
  _ns=skiff-bench-$$
  ip netns add "$_ns"
  trap 'ip netns del "$_ns" 2>/dev/null' EXIT
  ip -n "$_ns" link set lo up
  _rc=0
  SKIFF_BENCH_NETNS=$_ns nsenter --net="/run/netns/$_ns" -- bash "$0" "$@" || _rc=$?
  exit "$_rc"
fi
