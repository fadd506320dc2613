#!/usr/bin/env bash
# Runs every Fuzz target of the project briefly (FUZZTIME each, default 5s),
# starting from the committed seed corpora. A crasher fails the run and is
# written under the package's testdata/fuzz/ by `go test`.
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZTIME="${FUZZTIME:-5s}"
status=0
while IFS= read -r line; do
  file=${line%%:*}
  name=$(sed -E 's/^.*func (Fuzz[A-Za-z0-9_]+).*/\1/' <<<"$line")
  pkg="./$(dirname "$file")"
  echo "fuzz $pkg $name ($FUZZTIME)"
  if ! go test -run='^$' -fuzz="^${name}\$" -fuzztime="$FUZZTIME" -fuzzminimizetime=1s "$pkg" >/tmp/fuzz.$$.log 2>&1; then
    cat /tmp/fuzz.$$.log
    status=1
  fi
done < <(grep -rn --include='*_test.go' -E '^func Fuzz[A-Za-z0-9_]+\(' . | sed 's|^\./||')
rm -f /tmp/fuzz.$$.log
exit $status
