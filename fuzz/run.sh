#!/usr/bin/env bash
# Runs every cargo-fuzz target for FUZZ_SECONDS (default 60) seconds each, and fails on
# the first crash (its input is left in fuzz/artifacts/<target>/). This is `just fuzz`.
#
# cargo-fuzz wants a nightly compiler; RUSTC_BOOTSTRAP=1 lets the stable one accept the
# nightly-only flags it passes. The committed corpus (fuzz/corpus/<target>/) is read but
# not written: new inputs go to fuzz/target/corpus/<target>/. FUZZ_MERGE=1 minimises
# both back into the committed corpus afterwards (`cargo fuzz cmin`).
#
#   FUZZ_SECONDS   seconds per target (default 60)
#   FUZZ_SANITIZER address (default) or none; address falls back to none if it won't build
#   FUZZ_JOBS      parallel fuzzing jobs per target (default 1)
#   FUZZ_MERGE     1 to minimise what was found into fuzz/corpus/
set -euo pipefail
cd "$(dirname "$0")"

seconds="${FUZZ_SECONDS:-60}"
sanitizer="${FUZZ_SANITIZER:-address}"
jobs="${FUZZ_JOBS:-1}"
export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz: installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

if [[ "$sanitizer" == address ]] && ! cargo fuzz build -s address; then
    echo "fuzz: the address sanitizer does not build here; fuzzing without it"
    sanitizer=none
fi
cargo fuzz build -s "$sanitizer"

for target in $(cargo fuzz list); do
    scratch="target/corpus/$target"
    mkdir -p "$scratch" "corpus/$target" "artifacts/$target"
    dict=()
    if [[ -f "dicts/$target.dict" ]]; then
        dict=("-dict=dicts/$target.dict")
    fi
    echo "fuzz: $target for ${seconds}s (sanitizer: $sanitizer)"
    # The first corpus directory is where libFuzzer writes what it finds.
    if ! cargo fuzz run -s "$sanitizer" --jobs "$jobs" "$target" "$scratch" "corpus/$target" -- \
        -max_total_time="$seconds" -timeout=10 -print_final_stats=1 "${dict[@]}"; then
        echo "fuzz: $target crashed; the input is in fuzz/artifacts/$target/" >&2
        exit 1
    fi
    if [[ "${FUZZ_MERGE:-0}" == 1 ]]; then
        cp -n "$scratch"/* "corpus/$target/" 2>/dev/null || true
        # Edges only, not hit counts: keeps the committed corpus to a few hundred files.
        cargo fuzz cmin -s "$sanitizer" "$target" "corpus/$target" -- \
            -use_counters=0 -use_value_profile=0
    fi
done
echo "fuzz: every target ran ${seconds}s without a crash"
