#!/usr/bin/env bash
# Installs everything Warmline needs to build, run and test on Debian 12,
# idempotently: only what is missing is installed. `make run`, `make test`
# and `make package` call it first, so a fresh clone needs nothing else.
#
#   installer/setup.sh            system packages, tauri-driver, npm packages
#   installer/setup.sh --check    list what is missing, install nothing
set -euo pipefail
cd "$(dirname "$0")/.."

# Every system package, one group per purpose. Compare with the machine
# image's own list before adding to it.
APT_BUILD=(build-essential pkg-config cmake mold clang libssl-dev)
APT_DESKTOP=(libwebkit2gtk-4.1-dev libayatana-appindicator3-dev librsvg2-dev libxdo-dev)
APT_AUDIO=(libasound2-dev libwebrtc-audio-processing-dev)
# No dbus-x11: its dbus-launch "autolaunch" starts stray buses for programs
# outside a session and, when that fails, signals every process (kill -1).
APT_TEST_SESSION=(dbus gnome-keyring libsecret-tools xvfb dunst pulseaudio pulseaudio-utils libasound2-plugins)
# The desktop tests press global shortcuts as real X key events (xdotool).
APT_DESKTOP_TESTS=(webkit2gtk-driver xdotool)
# The UI's accessibility check (npm run a11y) and tests/browser_interop drive Debian's chromium headless through playwright-core.
APT_UI_A11Y=(chromium)
# make bench places a call in the desktop window with real key presses (xdotool, above) and sums PSS with bc.
APT_BENCH=(bc)
# Third-party peers the interop tests run on loopback: a SIP proxy with
# WebSocket, sipp, a media relay and a TURN server. Their Debian services are
# never started; each test starts its own instance on ephemeral ports.
APT_INTEROP=(kamailio kamailio-websocket-modules sip-tester rtpengine-daemon coturn)
# The Windows build (docs/windows.md): MinGW-w64 links x86_64-pc-windows-gnu
# (the Rust target is added below) and compiles the C parts (Opus, SQLCipher);
# Wine runs the Windows tests and warmline-cli.exe (wine64 is the 64-bit
# loader, wine the `wine` command in front of it); NSIS (makensis) builds the
# installer the Tauri bundler makes.
APT_WINDOWS=(gcc-mingw-w64-x86-64 g++-mingw-w64-x86-64 wine64 wine nsis)
APT_ALL=("${APT_BUILD[@]}" "${APT_DESKTOP[@]}" "${APT_AUDIO[@]}" "${APT_TEST_SESSION[@]}" "${APT_DESKTOP_TESTS[@]}"
    "${APT_UI_A11Y[@]}" "${APT_BENCH[@]}" "${APT_INTEROP[@]}" "${APT_WINDOWS[@]}")

TAURI_DRIVER_VERSION=2.1.0
# The Rust standard library for the Windows build (APT_WINDOWS links it).
WINDOWS_TARGET=x86_64-pc-windows-gnu

missing_apt() {
    local p
    for p in "${APT_ALL[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || echo "$p"
    done
}

mapfile -t MISSING < <(missing_apt)
if [[ "${1:-}" == "--check" ]]; then
    printf 'missing apt package: %s\n' "${MISSING[@]}"
    command -v tauri-driver >/dev/null || echo "missing: tauri-driver"
    rustup target list --installed | grep -qx "$WINDOWS_TARGET" || echo "missing: rustup target $WINDOWS_TARGET"
    [[ -d ui/node_modules ]] || echo "missing: ui/node_modules"
    [[ -d tests/browser_interop/page/node_modules ]] || echo "missing: tests/browser_interop/page/node_modules"
    exit 0
fi

t0=$SECONDS
if ((${#MISSING[@]})); then
    echo "setup: installing ${MISSING[*]}"
    SUDO=""
    [[ $(id -u) -eq 0 ]] || SUDO="sudo"
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${MISSING[@]}"
fi

# tauri-driver bridges WebDriver to WebKitWebDriver for the desktop tests.
# (tauri-driver has no --version flag: ask cargo what it installed.)
if ! command -v tauri-driver >/dev/null || ! cargo install --list | grep -qx "tauri-driver v$TAURI_DRIVER_VERSION:"; then
    echo "setup: cargo install tauri-driver@$TAURI_DRIVER_VERSION"
    cargo install --locked --quiet "tauri-driver@$TAURI_DRIVER_VERSION"
fi

# The Windows target's standard library for the default toolchain.
if ! rustup target list --installed | grep -qx "$WINDOWS_TARGET"; then
    echo "setup: rustup target add $WINDOWS_TARGET"
    rustup target add "$WINDOWS_TARGET"
fi

# The UI's npm packages, exactly as locked.
if [[ ! -d ui/node_modules ]] || [[ ui/package-lock.json -nt ui/node_modules/.package-lock.json ]]; then
    echo "setup: npm ci in ui/"
    (cd ui && npm ci --no-audit --no-fund --loglevel=error)
fi
# The browser interop page's npm packages (JsSIP, playwright-core, esbuild),
# exactly as locked; tests/browser_interop drives Debian's chromium with them.
if [[ ! -d tests/browser_interop/page/node_modules ]] \
    || [[ tests/browser_interop/page/package-lock.json -nt tests/browser_interop/page/node_modules/.package-lock.json ]]; then
    echo "setup: npm ci in tests/browser_interop/page/"
    (cd tests/browser_interop/page && npm ci --no-audit --no-fund --loglevel=error)
fi
echo "setup: done in $((SECONDS - t0)) s"
