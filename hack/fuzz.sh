#!/usr/bin/env bash
# Runs every fuzz target in the repository for FUZZ_TIME (default 15s) each: every `func FuzzX(f *testing.F)` in a
# _test.go file, on its own package, from the Go module that holds it (the root module, test/bench or test/e2e), so
# that a target in a nested module is built with that module's go.mod. `make fuzz` and hack/test.sh run this.
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZ_TIME=${FUZZ_TIME:-15s}

# module_of DIR: the nearest directory at or above DIR (relative to the repository, e.g. ./test/bench/x) with a go.mod.
module_of() {
  local d=$1
  while [ ! -f "$d/go.mod" ]; do d=$(dirname "$d"); done
  echo "$d"
}

grep -rl --include='*_test.go' -E '^func Fuzz[A-Za-z0-9_]+\(f \*testing\.F\)' . | sort | while read -r file; do
  dir=$(dirname "$file")
  pkg=./${dir#./}
  mod=$(module_of "$dir")
  rel=.
  [ "$dir" = "$mod" ] || rel=./${dir#"$mod"/}
  for target in $(grep -oE '^func Fuzz[A-Za-z0-9_]+' "$file" | sed 's/^func //'); do
    echo "-- $pkg $target"
    # Go's fuzzing coordinator sometimes fails a target with "context deadline exceeded" when -fuzztime ends while a
    # worker is busy, without any failing input (once in a run of the 10 targets here, FuzzDeployment; not in 3 reruns). That,
    # and only that, is run once more; a found crash (its input saved under testdata/fuzz) fails at once.
    log=$(mktemp)
    if ! (cd "$mod" && go test -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZ_TIME" "$rel") 2>&1 | tee "$log"; then
      if grep -q 'context deadline exceeded' "$log" && ! grep -q 'Failing input written to' "$log"; then
        echo "-- $pkg $target: the coordinator timed out without a failing input; once more"
        (cd "$mod" && go test -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZ_TIME" "$rel")
      else
        rm -f "$log"
        exit 1
      fi
    fi
    rm -f "$log"
  done
done
