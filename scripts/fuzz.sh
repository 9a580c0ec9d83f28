#!/usr/bin/env bash
# scripts/fuzz.sh — build, replay and run kwire's cargo-fuzz targets (fuzz/).
# See docs/fuzzing.md for what each target covers.
#
#   scripts/fuzz.sh list                       the targets
#   scripts/fuzz.sh build                      build every target (nightly, ASan)
#   scripts/fuzz.sh replay [TARGET...]         run every input of fuzz/corpus/<T> and
#                                              fuzz/regressions/<T> once (no fuzzing)
#   scripts/fuzz.sh run [--time S] [--runs N] [--jobs N] [TARGET...]
#                                              fuzz each target for S seconds (default 60),
#                                              or until N executions with --runs (then S,
#                                              if given, still caps the time);
#                                              new inputs go to fuzz/corpus-tmp/<T>
#                                              (git-ignored), the committed corpus is
#                                              read only
#   scripts/fuzz.sh ci [--time S]              build + replay + run --time S (default 20)
#   scripts/fuzz.sh cmin TARGET                merge fuzz/corpus-tmp/<T> into a minimal
#                                              fuzz/corpus/<T>
#
# Every mode exits non-zero on the first crash, leak, timeout, out-of-memory or
# over-allocation; libFuzzer writes the input to fuzz/artifacts/<T>/ and the log
# says how to reproduce it (`cargo +nightly fuzz run <T> <file>`). Keep a fixed
# crash as a regression input in fuzz/regressions/<T>/.
#
# Limits on every run: -rss_limit_mb (RSS_MB, 1024) and -malloc_limit_mb
# (MALLOC_MB, 128: no single allocation may exceed it), -timeout (TIMEOUT_S, 10),
# inputs up to -max_len (MAX_LEN, 65536) bytes. The targets themselves also
# fail when a decode allocates more than a small multiple of its input (see
# fuzz/src/lib.rs).
#
# Needs rustup: installs the nightly toolchain and cargo-fuzz when missing.
# Environment: CARGO_TARGET_DIR (default fuzz/target), FUZZ_TOOLCHAIN (nightly),
# FUZZ_SANITIZER (address; `none` runs ~2x faster, for long runs),
# FUZZ_CODEGEN_UNITS (16: builds several times faster than cargo-fuzz's 1, for
# slightly slower runs).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FUZZ="$ROOT/fuzz"
TOOLCHAIN=${FUZZ_TOOLCHAIN:-nightly}
SANITIZER=${FUZZ_SANITIZER:-address}
CODEGEN_UNITS=${FUZZ_CODEGEN_UNITS:-16}
RSS_MB=${RSS_MB:-1024}
MALLOC_MB=${MALLOC_MB:-128}
TIMEOUT_S=${TIMEOUT_S:-10}
MAX_LEN=${MAX_LEN:-65536}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$FUZZ/target}

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
step() { printf '==> %s\n' "$*" >&2; }

targets() {
  # The [[bin]] names of fuzz/Cargo.toml, in file order.
  awk '/^\[\[bin\]\]/{b=1; next} b && /^name *=/{gsub(/"/, "", $3); print $3; b=0}' "$FUZZ/Cargo.toml"
}

check_targets() {
  local all t
  all=$(targets)
  for t in "$@"; do
    grep -qx "$t" <<<"$all" || { echo "unknown fuzz target: $t (scripts/fuzz.sh list)" >&2; exit 2; }
  done
}

ensure_tools() {
  command -v rustup >/dev/null || { echo "rustup not found: install Rust from https://rustup.rs" >&2; exit 1; }
  if ! rustup run "$TOOLCHAIN" rustc --version >/dev/null 2>&1; then
    step "installing the $TOOLCHAIN toolchain"
    rustup toolchain install "$TOOLCHAIN" --profile minimal >&2
  fi
  if ! cargo "+$TOOLCHAIN" fuzz --version >/dev/null 2>&1; then
    step "installing cargo-fuzz"
    cargo install cargo-fuzz --locked >&2
  fi
}

fuzz_cmd() { (cd "$FUZZ" && cargo "+$TOOLCHAIN" fuzz "$@"); }

build() {
  ensure_tools
  step "building fuzz targets ($TOOLCHAIN, sanitizer $SANITIZER, target dir $CARGO_TARGET_DIR)"
  fuzz_cmd build --sanitizer "$SANITIZER" --codegen-units "$CODEGEN_UNITS" >&2
}

# The built binary of target $1 (cargo-fuzz's layout).
bin_of() {
  local triple
  triple=$(rustup run "$TOOLCHAIN" rustc -vV | sed -n 's/^host: //p')
  echo "$CARGO_TARGET_DIR/$triple/release/$1"
}

limits=()
set_limits() {
  limits=(-rss_limit_mb="$RSS_MB" -malloc_limit_mb="$MALLOC_MB" -timeout="$TIMEOUT_S" -max_len="$MAX_LEN")
}

# Replays the committed corpus and the regression inputs of each target.
replay() {
  local t d dirs n total=0 bin log
  set_limits
  for t in "$@"; do
    dirs=()
    for d in "$FUZZ/corpus/$t" "$FUZZ/regressions/$t"; do
      [[ -d $d ]] && dirs+=("$d")
    done
    n=0
    [[ ${#dirs[@]} -gt 0 ]] && n=$(find "${dirs[@]}" -type f | wc -l)
    if [[ $n == 0 ]]; then
      echo "fuzz target $t has no corpus (fuzz/corpus/$t)" >&2
      exit 1
    fi
    bin=$(bin_of "$t")
    [[ -x $bin ]] || { echo "$bin not built: scripts/fuzz.sh build" >&2; exit 1; }
    # -runs=0: execute every input once, no mutation.
    mkdir -p "$FUZZ/artifacts/$t"
    log="$FUZZ/artifacts/$t/replay.log"
    if ! (cd "$FUZZ" && "$bin" "${limits[@]}" -runs=0 -artifact_prefix="$FUZZ/artifacts/$t/" \
          "${dirs[@]}" >"$log" 2>&1); then
      tail -n 40 "$log" >&2
      echo "replay of $t FAILED (log: $log)" >&2
      exit 1
    fi
    printf 'replay %-18s %5d inputs ok\n' "$t" "$n" >&2
    total=$((total + n))
  done
  printf 'replayed %d inputs of %d targets\n' "$total" "$#" >&2
}

# Fuzzes each target for $time seconds (0: no limit) or $runs executions (0: no limit).
run() {
  local time=$1 jobs=$2 runs=$3 t bin tmp log execs cov
  shift 3
  set_limits
  for t in "$@"; do
    bin=$(bin_of "$t")
    [[ -x $bin ]] || { echo "$bin not built: scripts/fuzz.sh build" >&2; exit 1; }
    tmp="$FUZZ/corpus-tmp/$t"
    mkdir -p "$tmp" "$FUZZ/artifacts/$t" "$FUZZ/corpus/$t"
    log="$FUZZ/artifacts/$t/run.log"
    if [[ $runs -gt 0 ]]; then
      step "fuzzing $t for $runs executions${time:+ (at most ${time}s)}"
    else
      step "fuzzing $t for ${time}s"
    fi
    local extra=()
    [[ $runs -gt 0 ]] && extra+=(-runs="$runs")
    [[ -f $FUZZ/dict/$t.dict ]] && extra+=(-dict="$FUZZ/dict/$t.dict")
    [[ $jobs -gt 1 ]] && extra+=(-fork="$jobs")
    if ! (cd "$FUZZ" && "$bin" "${limits[@]}" "${extra[@]}" -max_total_time="${time:-0}" \
          -artifact_prefix="$FUZZ/artifacts/$t/" -print_final_stats=1 \
          "$tmp" "$FUZZ/corpus/$t" >"$log" 2>&1); then
      tail -n 60 "$log" >&2
      echo "fuzz target $t FAILED; input saved in fuzz/artifacts/$t/ (log: $log)" >&2
      exit 1
    fi
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
    printf 'run    %-18s %10s execs in %ss, %s edges, ok\n' "$t" "${execs:-?}" \
      "$(sed -n 's/^stat::.*//; s/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -n 1)" "${cov:-?}" >&2
  done
}

cmd=${1:-}
[[ -n $cmd ]] || usage
shift
time=
jobs=1
runs=0
args=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --time) time=$2; shift ;;
    --runs) runs=$2; shift ;;
    --jobs) jobs=$2; shift ;;
    -h|--help) usage ;;
    -*) echo "unknown option $1" >&2; usage ;;
    *) args+=("$1") ;;
  esac
  shift
done
if [[ ${#args[@]} -eq 0 ]]; then
  mapfile -t args < <(targets)
fi
check_targets "${args[@]}"

case $cmd in
  list) targets ;;
  build) build ;;
  replay) build; replay "${args[@]}" ;;
  run)
    build
    if [[ $runs -gt 0 ]]; then run "$time" "$jobs" "$runs" "${args[@]}"; else run "${time:-60}" "$jobs" 0 "${args[@]}"; fi
    ;;
  ci)
    time=${time:-20}
    t0=$SECONDS
    build
    replay "${args[@]}"
    run "$time" "$jobs" 0 "${args[@]}"
    printf 'fuzz ci: ok in %ds\n' $((SECONDS - t0)) >&2
    ;;
  cmin)
    [[ ${#args[@]} -eq 1 ]] || { echo "cmin takes one target" >&2; exit 2; }
    build
    t=${args[0]}
    set_limits
    mkdir -p "$FUZZ/corpus/$t" "$FUZZ/corpus-tmp/$t"
    new="$FUZZ/corpus-tmp/$t.min"
    rm -rf "$new"; mkdir -p "$new"
    (cd "$FUZZ" && "$(bin_of "$t")" "${limits[@]}" -merge=1 "$new" "$FUZZ/corpus/$t" "$FUZZ/corpus-tmp/$t" >&2)
    rm -rf "$FUZZ/corpus/$t"
    mv "$new" "$FUZZ/corpus/$t"
    echo "fuzz/corpus/$t: $(find "$FUZZ/corpus/$t" -type f | wc -l) inputs" >&2
    ;;
  *) usage ;;
esac
