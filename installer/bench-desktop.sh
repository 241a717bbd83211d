#!/usr/bin/env bash
# Desktop figures for `make bench` (run inside installer/test-session.sh):
# cold start to an interactive window, and the PSS of the whole process
# tree (the app and its WebKit processes) idle and during a call, next to a
# bare Tauri window (the same binary with WARMLINE_BARE=1: an empty page,
# no agent) measured the same way in the same run. A benchmark, not a test:
# it waits fixed spans for things to settle and prints what it measured.
set -euo pipefail
cd "$(dirname "$0")/.."
# The debug build `make bench` makes; WARMLINE_BIN=target/release/warmline
# after `make package` for release figures.
BIN=${WARMLINE_BIN:-target/debug/warmline}
SETTLE=${SETTLE_SECONDS:-5}

tree_pids() { # the process and all its descendants
  local all=("$1") queue=("$1")
  while [ ${#queue[@]} -gt 0 ]; do
    local p=${queue[0]}; queue=("${queue[@]:1}")
    for c in $(pgrep -P "$p" || true); do all+=("$c"); queue+=("$c"); done
  done
  echo "${all[@]}"
}

ctxt_switches() { # voluntary + involuntary context switches of all a process's threads
  cat /proc/"$1"/task/*/status 2>/dev/null | awk '/^(non)?voluntary_ctxt_switches/ {n += $2} END {print n + 0}'
}

wakeups_per_s() { # context switches per second of process $1 over $2 seconds
  local a b
  a=$(ctxt_switches "$1"); sleep "$2"; b=$(ctxt_switches "$1")
  echo $(((b - a) / $2))
}

streams_of() { # PulseAudio capture and playback streams process $1 holds, from pactl's own lists
  local kind n out=""
  for kind in source-outputs sink-inputs; do
    n=$( (pactl list "$kind" 2>/dev/null || true) | grep -c "application.process.id = \"$1\"" || true)
    out+="$kind $n "
  done
  echo "${out% }"
}

pss_mib() { # summed PSS of a process tree, MiB
  local kb=0
  for p in $(tree_pids "$1"); do
    local v
    v=$(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup" 2>/dev/null || echo 0)
    kb=$((kb + ${v:-0}))
  done
  echo "scale=1; $kb / 1024" | bc
}

start() { # mode -> sets PID, READY_MS
  local log=$1; shift
  "$@" > "$log" 2>&1 &
  PID=$!
  READY_MS=""
  for _ in $(seq 1 300); do
    READY_MS=$(sed -n 's/^warmline: window ready \([0-9]*\) ms.*/\1/p' "$log" | head -1)
    [ -n "$READY_MS" ] && return 0
    sleep 0.1
  done
  echo "the window never became ready; log:" >&2; tail -20 "$log" >&2; return 1
}

stop() { kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; }

call_expert() { # focus the window, Ctrl+Shift+K (dial), a lab expert's number, Enter
  xdotool mousemove 640 600 click 1 && sleep 0.3
  xdotool key ctrl+shift+k && sleep 0.3
  xdotool type --delay 20 "+442079460101" && xdotool key Return
  # The expert answers after 3 s; media and the call card are then live.
  sleep $((SETTLE + 5))
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

start "$tmp/bare.log" env WARMLINE_BARE=1 "$BIN"
bare_ready=$READY_MS; sleep "$SETTLE"; bare_pss=$(pss_mib "$PID"); stop
# Like for like: the bare window rendered as the app renders it (WebKitGTK
# without accelerated compositing, see desktop.rs).
start "$tmp/lighter.log" env WARMLINE_BARE=lighter "$BIN"
sleep "$SETTLE"; lighter_pss=$(pss_mib "$PID"); stop

start "$tmp/app.log" "$BIN"
app_ready=$READY_MS; sleep "$SETTLE"; app_idle=$(pss_mib "$PID")
call_expert
app_call=$(pss_mib "$PID")
connected=$(grep -c '"connected"' "$tmp/app.log" || true)
stop

# The same app on a real configuration, its contact center in another
# process (`warmline-cli lab`): what an agent's PC runs in production, with
# no embedded lab in the app's own memory. The configuration file is written
# here; the SIP password goes to the keyring through the agent's own
# `configure` command (what the settings screen does).
CLI=${WARMLINE_CLI:-$(dirname "$BIN")/warmline-cli}
lab_in="$tmp/lab.in"; mkfifo "$lab_in"
"$CLI" lab < "$lab_in" > "$tmp/lab.out" 2> "$tmp/lab.err" &
LAB=$!
exec 7> "$lab_in"
field() { sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p" | head -1; }
for _ in $(seq 1 100); do grep -q '"event":"ready"' "$tmp/lab.out" 2>/dev/null && break; sleep 0.1; done
ready=$(grep -m1 '"event":"ready"' "$tmp/lab.out")
echo '{"id":"accounts","cmd":"sip_accounts"}' >&7
for _ in $(seq 1 100); do grep -q '"id":"accounts"' "$tmp/lab.out" && break; sleep 0.1; done
accounts=$(grep -m1 '"id":"accounts"' "$tmp/lab.out")
aor=$(field aor <<< "$accounts"); ext=$(field extension <<< "$accounts"); password=$(field password <<< "$accounts")
mkdir -p "$tmp/xdg/config/warmline" "$tmp/xdg/data"
cat > "$tmp/xdg/config/warmline/warmline.toml" <<TOML
acd = "pidf"
[sip]
servers = ["$(field sip_ws <<< "$ready")"]
user = "$aor"
auth_user = "$ext"
[microsoft365]
tenant = "$(field entra_tenant <<< "$ready")"
client_id = "$(field entra_client_id <<< "$ready")"
authority = "$(field entra_authority <<< "$ready")"
graph = "$(field graph_base <<< "$ready")"
TOML
xdg=(env XDG_CONFIG_HOME="$tmp/xdg/config" XDG_DATA_HOME="$tmp/xdg/data")
printf '{"cmd":"configure","settings":{"servers":["%s"],"user":"%s","auth_user":"%s","display_name":null,"outbound_proxy":null,"tenant":null,"client_id":null},"password":"%s"}\n{"cmd":"quit"}\n' \
  "$(field sip_ws <<< "$ready")" "$aor" "$ext" "$password" | "${xdg[@]}" "$CLI" agent --lab > "$tmp/configure.out" 2>&1 || true
start "$tmp/real.log" "${xdg[@]}" "$BIN"
real_ready=$READY_MS; sleep "$SETTLE"; real_idle=$(pss_mib "$PID")
# Issue #23: idle, signed in, no call, the app holds no audio stream and
# its threads (audio task, device watchers) sleep.
real_wakes=$(wakeups_per_s "$PID" "${IDLE_WAKE_SECONDS:-20}")
real_streams=$(streams_of "$PID")
call_expert
real_call=$(pss_mib "$PID")
stop
exec 7>&-
kill "$LAB" 2>/dev/null || true; wait "$LAB" 2>/dev/null || true

over() { printf '%+.1f' "$(echo "$1 - $2" | bc)"; }
echo "desktop ($BIN, Xvfb):"
printf '  cold start to an interactive window: app %s ms, on a configuration %s ms, bare Tauri window %s ms (target: app <= 1000 ms)\n' \
  "$app_ready" "$real_ready" "$bare_ready"
printf '  PSS of the process tree: bare window %s MiB; app idle %s MiB (%s); app during a call %s MiB (%s)\n' \
  "$bare_pss" "$app_idle" "$(over "$app_idle" "$bare_pss")" "$app_call" "$(over "$app_call" "$bare_pss")"
printf '  the app on a configuration, its contact center (warmline-cli lab) in another process: idle %s MiB (%s); during a call %s MiB (%s)\n' \
  "$real_idle" "$(over "$real_idle" "$bare_pss")" "$real_call" "$(over "$real_call" "$bare_pss")"
echo "  targets: idle <= bare + 25 MiB, during a call <= bare + 50 MiB"
printf '  the app on a configuration, idle and signed in, no call: %s context switches/s (main process, all threads, over %s s); PulseAudio streams held: %s (target: none)\n' \
  "$real_wakes" "${IDLE_WAKE_SECONDS:-20}" "$real_streams"
printf '  like for like, against a bare window also rendered without accelerated compositing (%s MiB): app idle %s, during a call %s; on a configuration idle %s, during a call %s\n' \
  "$lighter_pss" "$(over "$app_idle" "$lighter_pss")" "$(over "$app_call" "$lighter_pss")" \
  "$(over "$real_idle" "$lighter_pss")" "$(over "$real_call" "$lighter_pss")"
