# Sourced by benchmarks: what their exit traps share.
# stop_dockerd PID: SIGTERM, up to 30 s to go, then SIGKILL.
stop_dockerd() {
  [ -n "$1" ] || return 0
  kill "$1" 2>/dev/null
  for _ in $(seq 60); do kill -0 "$1" 2>/dev/null || break; sleep 0.5; done
  kill -9 "$1" 2>/dev/null
}
# remove_work DIR: whatever is mounted below DIR unmounted, then DIR removed.
remove_work() {
  for m in $(findmnt -rn -o TARGET | grep "^$1/" | sort -r); do
    umount "$m" 2>/dev/null || umount -l "$m"
  done
  rm -rf "$1"
}
