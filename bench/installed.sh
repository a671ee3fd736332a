# Sourced by the start benchmarks. `installed DIR` copies the release
# binaries into DIR, as an install does (`cargo install` copies them too),
# and sets skiff_bin and runtime_bin to the copies. Users run installed
# copies, and a copy starts faster than the file the linker wrote in the
# target directory, though the bytes are the same (2026-12-07, both cached,
# in turns: `skiff --version` 1.48 against 1.72 ms, `skiff run --rm` 14.8
# against 16.2 ms; the page cache holds the two differently).
installed() {
  local rel=$CARGO_TARGET_DIR/x86_64-unknown-linux-gnu/release b
  mkdir -p "$1"
  for b in skiff skiff-supervisor skiff-runtime; do cp "$rel/$b" "$1/$b"; done
  skiff_bin=$1/skiff
  runtime_bin=$1/skiff-runtime
}
