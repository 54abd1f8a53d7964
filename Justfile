# hearth's everyday tasks. The two commands a new user needs need none of these:
#   cargo run --release    (serve http://127.0.0.1:8080 on ./hearth.db)
#   cargo test             (the quick suite)
# Install just with `cargo install just` (it is not in Debian's packages).

set shell := ["bash", "-euo", "pipefail", "-c"]

# List the recipes.
default:
    @just --list

# Run hearth from source with debug logging, on ./hearth.db.
dev:
    RUST_LOG=hearth=debug,info cargo run -- serve

# The quick suite: everything that needs neither a browser nor PostgreSQL.
test:
    cargo test

# Everything CI runs: installs Chromium, checks PostgreSQL, fmt, clippy, all tests.
test-all:
    bash .ci/run

# The browser tests in headless Chromium (needs chromium and chromium-driver).
e2e:
    cargo test --test browser -- --include-ignored --test-threads=1

# The API suite again on PostgreSQL, and the multi-process tests.
test-postgres:
    cargo test --test api -- --include-ignored the_whole_suite_passes_on_postgres_too
    cargo test --test scaleout -- --include-ignored

# Formatting and lints, as CI checks them.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings

# Load generator vs the bare limit-server: scenarios a, b, c, p, h, the two-process x,
# http, search, upload and support (x and search need PostgreSQL):
# `just bench --scenario a --quick`.
bench *ARGS:
    CARGO_TARGET_DIR=target/limit-server cargo build --release --manifest-path ../shared/bench/limit-server/Cargo.toml
    cargo build --release -p hearth -p hearth-bench --bin hearth --bin loadgen
    ulimit -n "$(ulimit -Hn)" && target/release/loadgen {{ARGS}}

# Micro-benchmarks of the hot paths (criterion).
bench-micro:
    cargo bench -p hearth-bench --bench hot_paths

# Fuzz every target for FUZZ_SECONDS (default 60) each.
fuzz:
    bash fuzz/run.sh

# Soak: 2000 sockets coming and going for `minutes`, memory and delivery checked.
soak minutes="10":
    cargo build --release -p hearth -p hearth-bench
    ulimit -n "$(ulimit -Hn)" && target/release/soak --hearth-bin target/release/hearth --minutes {{minutes}}
