#!/usr/bin/env bash
# installer/test-session.sh COMMAND [ARGS...]
#
# Runs COMMAND inside the desktop session every Warmline test relies on, on a
# machine with no desktop, no sound card and no keyring of its own:
#   * a private D-Bus session bus;
#   * gnome-keyring's Secret Service, with a fresh login keyring unlocked;
#   * PulseAudio with null sinks, paced in real time:
#       warmline_speaker  the default output; its monitor
#                         (warmline_speaker.monitor) records what was played;
#       warmline_mic      play into it to talk into the microphone: its monitor
#                         (warmline_mic.monitor) is the default input;
#       warmline_ringer   a second output for the ringtone;
#     ALSA's `default` is routed to PulseAudio (so cpal's ALSA host uses it);
#   * an Xvfb display and a notification daemon (dunst).
# Everything lives in a temporary directory (XDG_* point there), so tests
# never touch the user's real keyring, audio or settings, and it is removed
# afterwards. The exit status is COMMAND's.
#
# Inside, WARMLINE_TEST_SESSION=1 and WARMLINE_SESSION_DIR are set.
set -euo pipefail

if [[ $# -eq 0 ]]; then
    echo "usage: $0 COMMAND [ARGS...]" >&2
    exit 2
fi

if [[ "${WARMLINE_TEST_SESSION_INNER:-}" != "1" ]]; then
    # Refuse to nest: a second session would shadow the first one's bus.
    if [[ "${WARMLINE_TEST_SESSION:-}" == "1" ]]; then
        exec "$@"
    fi
    export WARMLINE_TEST_SESSION_INNER=1
    exec dbus-run-session -- "$0" "$@"
fi
unset WARMLINE_TEST_SESSION_INNER

SESSION_DIR=$(mktemp -d /tmp/warmline-session.XXXXXX)
chmod 700 "$SESSION_DIR"
export WARMLINE_SESSION_DIR=$SESSION_DIR
export XDG_RUNTIME_DIR=$SESSION_DIR/run
export XDG_DATA_HOME=$SESSION_DIR/data
export XDG_CONFIG_HOME=$SESSION_DIR/config
export XDG_CACHE_HOME=$SESSION_DIR/cache
export XDG_STATE_HOME=$SESSION_DIR/state
mkdir -p -m 700 "$XDG_RUNTIME_DIR" "$XDG_DATA_HOME" "$XDG_CONFIG_HOME" "$XDG_CACHE_HOME" "$XDG_STATE_HOME"

PIDS=()
cleanup() {
    local status=$?
    pactl exit >/dev/null 2>&1 || true
    # Anything COMMAND left running (a WebDriver, an app window) inherited
    # WARMLINE_SESSION_DIR: end it, so nothing outlives the session.
    local environ
    for environ in /proc/[0-9]*/environ; do
        local pid=${environ#/proc/}
        pid=${pid%/environ}
        [[ "$pid" == "$$" ]] && continue
        if { tr '\0' '\n' < "$environ"; } 2>/dev/null | grep -qx "WARMLINE_SESSION_DIR=$SESSION_DIR"; then
            kill "$pid" 2>/dev/null || true
        fi
    done
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    [[ -n "${KEYRING_PID:-}" ]] && kill "$KEYRING_PID" 2>/dev/null || true
    wait 2>/dev/null || true
    # The document portal (started on demand by GTK) mounts a FUSE file system here.
    if mountpoint -q "$XDG_RUNTIME_DIR/doc" 2>/dev/null; then
        fusermount -u -z "$XDG_RUNTIME_DIR/doc" 2>/dev/null || umount -l "$XDG_RUNTIME_DIR/doc" 2>/dev/null || true
    fi
    rm -rf "$SESSION_DIR" 2>/dev/null || true
    exit "$status"
}
trap cleanup EXIT INT TERM

log() { echo "test-session: $*" >&2; }

# --- Secret Service: a fresh login keyring, unlocked with a throwaway password.
KEYRING_ENV=$(printf '%s' "warmline-test-session" | gnome-keyring-daemon --unlock --components=secrets)
eval "$(printf '%s\n' "$KEYRING_ENV" | sed -n 's/^\(GNOME_KEYRING_[A-Z_]*\)=\(.*\)$/export \1="\2"/p')"
KEYRING_ENV=$(gnome-keyring-daemon --start --components=secrets 2>/dev/null)
eval "$(printf '%s\n' "$KEYRING_ENV" | sed -n 's/^\(GNOME_KEYRING_[A-Z_]*\)=\(.*\)$/export \1="\2"/p')"
KEYRING_PID=$(pgrep -n -f "gnome-keyring-daemon" || true)

# --- PulseAudio with null sinks, no config files, no autospawn elsewhere.
mkdir -p "$XDG_CONFIG_HOME/pulse"
printf 'autospawn = no\n' > "$XDG_CONFIG_HOME/pulse/client.conf"
export PULSE_RUNTIME_PATH=$XDG_RUNTIME_DIR/pulse
export PULSE_SERVER=unix:$PULSE_RUNTIME_PATH/native
pulseaudio --daemonize=no --exit-idle-time=-1 --disallow-exit=yes --disable-shm=yes \
    --log-target=file:"$SESSION_DIR/pulseaudio.log" -n \
    --load="module-native-protocol-unix socket=$PULSE_RUNTIME_PATH/native auth-anonymous=1" \
    --load="module-null-sink sink_name=warmline_speaker rate=48000 channels=2 sink_properties=device.description=Warmline_Speaker" \
    --load="module-null-sink sink_name=warmline_mic rate=48000 channels=1 sink_properties=device.description=Warmline_Microphone_Feed" \
    --load="module-null-sink sink_name=warmline_ringer rate=48000 channels=2 sink_properties=device.description=Warmline_Ringer" \
    >/dev/null 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do
    pactl info >/dev/null 2>&1 && break
    sleep 0.05
done
pactl info >/dev/null 2>&1 || { log "PulseAudio did not start:"; cat "$SESSION_DIR/pulseaudio.log" >&2; exit 1; }
pactl set-default-sink warmline_speaker
# libpulse keeps the server's cookie under $XDG_CONFIG_HOME, but cpal's
# PulseAudio host (the `pulseaudio` crate) only looks in $PULSE_COOKIE or
# ~/.config: without it the server drops the client and cpal falls back to
# ALSA, where no PulseAudio sink can be chosen or watched.
[[ -f "$XDG_CONFIG_HOME/pulse/cookie" ]] && export PULSE_COOKIE="$XDG_CONFIG_HOME/pulse/cookie"
pactl set-default-source warmline_mic.monitor

# ALSA's default device goes to PulseAudio, without touching /etc.
cat > "$SESSION_DIR/asound.conf" <<ALSA
</usr/share/alsa/alsa.conf>
pcm.!default { type pulse }
ctl.!default { type pulse }
ALSA
export ALSA_CONFIG_PATH=$SESSION_DIR/asound.conf

# --- X display and a notification daemon.
exec {DISPLAY_FD}<> <(:)
Xvfb -displayfd "$DISPLAY_FD" -screen 0 1280x800x24 -nolisten tcp -noreset >"$SESSION_DIR/xvfb.log" 2>&1 &
PIDS+=($!)
DISPLAY_NUM=""
for _ in $(seq 1 100); do
    read -r -t 0.1 -u "$DISPLAY_FD" DISPLAY_NUM && break
done
[[ -n "$DISPLAY_NUM" ]] || { log "Xvfb did not start:"; cat "$SESSION_DIR/xvfb.log" >&2; exit 1; }
export DISPLAY=":$DISPLAY_NUM"
unset WAYLAND_DISPLAY
# Services D-Bus starts on demand (portals, a11y) must see the display too.
dbus-update-activation-environment DISPLAY XDG_RUNTIME_DIR XDG_DATA_HOME XDG_CONFIG_HOME >/dev/null 2>&1 || true

dunst -config /dev/null >"$SESSION_DIR/dunst.log" 2>&1 &
PIDS+=($!)

export WARMLINE_TEST_SESSION=1
# WebKitGTK under Xvfb: no GPU, no compositing.
export LIBGL_ALWAYS_SOFTWARE=1
export NO_AT_BRIDGE=1
export GTK_USE_PORTAL=0

set +e
"$@"
status=$?
set -e
exit $status
