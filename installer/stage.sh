#!/usr/bin/env bash
# installer/stage.sh NAME COMMAND... : runs one stage of `make test`, prints
# its wall time, and keeps a table of all stages in target/stages.txt.
set -uo pipefail
name=$1
shift
mkdir -p target
if [[ "$name" == "summary" ]]; then
    echo
    echo "== stage wall times"
    cat target/stages.txt
    awk '{s += $2} END {printf "%-10s %5d s\n", "total", s}' target/stages.txt
    rm -f target/stages.txt
    exit 0
fi
printf '\n== %s: %s\n' "$name" "$*"
start=$SECONDS
"$@"
status=$?
elapsed=$((SECONDS - start))
printf '%-10s %5d s%s\n' "$name" "$elapsed" "$([[ $status -ne 0 ]] && echo "  FAILED ($status)")" >> target/stages.txt
printf '== %s: %d s%s\n' "$name" "$elapsed" "$([[ $status -ne 0 ]] && echo ", FAILED")"
if [[ $status -ne 0 ]]; then
    echo "== stage wall times so far"
    cat target/stages.txt
    rm -f target/stages.txt
fi
exit $status
