# Warmline: `make run` starts the desktop app, `make test` runs everything CI runs.
# Every target installs what it needs first (installer/setup.sh is idempotent).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
CARGO ?= cargo
# The Tauri bundler CLI, fetched by npx for `make package` only.
TAURI_CLI_VERSION := 2.12.5
SESSION := installer/test-session.sh
# The Windows build, cross-compiled with MinGW-w64 (docs/windows.md).
WINDOWS_TARGET := x86_64-pc-windows-gnu

.PHONY: run test bench package lint setup ui bindings fmt fuzz test-windows package-windows

setup:
	installer/setup.sh

ui: setup
	cd ui && npm run build

## run: build and launch the desktop app (the embedded lab is the back end).
run: ui
	$(CARGO) build -p warmline
	./target/debug/warmline

## test: formatting, lints (Linux and Windows), Rust tests, UI checks and the desktop end-to-end test.
test:
	@installer/stage.sh setup     installer/setup.sh
	@installer/stage.sh ui-build  bash -c 'cd ui && npm run build'
	@installer/stage.sh fmt       $(CARGO) fmt --all --check
	@installer/stage.sh clippy    $(CARGO) clippy --workspace --all-targets --locked -- -D warnings
	@installer/stage.sh winclippy $(CARGO) clippy --workspace --all-targets --locked --target $(WINDOWS_TARGET) -- -D warnings
	@installer/stage.sh ui-check  bash -c 'cd ui && npm run check'
	@installer/stage.sh ui-test   bash -c 'cd ui && npm test'
	@installer/stage.sh ui-a11y   bash -c 'cd ui && npm run a11y'
	@installer/stage.sh build     bash -c "$(CARGO) build -p warmline --locked && $(CARGO) nextest run --workspace --locked --no-run"
	@installer/stage.sh rust-test $(SESSION) $(CARGO) nextest run --workspace --locked
	@installer/stage.sh summary   true

## lint: the static checks only.
lint: setup ui
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	cd ui && npm run check

## bindings: regenerate ui/src/lib/bindings.ts from the Rust commands.
bindings: ui
	WARMLINE_WRITE_BINDINGS=1 $(CARGO) test -p warmline --lib checked_in_bindings_match_the_rust_declarations

## bench: benchmarks that print figures (never part of `make test`).
bench: setup
	@echo "== SIP parse + serialize: cargo bench -p warmline-sip --bench parse"
	$(CARGO) bench -p warmline-sip --bench parse
	@echo "== store save/search/open: cargo bench -p warmline-store --bench store"
	$(SESSION) $(CARGO) bench -p warmline-store --bench store
	@echo "== media CPU per endpoint, setup, latency: cargo bench -p warmline-media --bench media"
	$(SESSION) $(CARGO) bench -p warmline-media --bench media
	@echo "== lab soak, 25 routed calls / 50 WebRTC endpoints for SOAK_SECONDS (60): cargo bench -p warmline-lab --bench soak"
	$(SESSION) $(CARGO) bench -p warmline-lab --bench soak
	@echo "== sequential lab calls with warm transfers (CALLS, default 200): cargo bench -p warmline-agent --bench calls"
	$(SESSION) $(CARGO) bench -p warmline-agent --bench calls
	@echo "== desktop start-up and memory next to a bare Tauri window: installer/bench-desktop.sh"
	cd ui && npm run build
	$(CARGO) build -p warmline -p warmline-cli
	$(SESSION) installer/bench-desktop.sh

## fuzz: the SIP parser, then the user agent fed any frames, under libFuzzer
## for FUZZ_SECONDS each (default 600); the corpora they grow stay in
## crates/sip/fuzz/corpus-work*, the checked-in seeds in corpus/parse and
## corpus/ua are replayed by `make test`.
FUZZ_SECONDS ?= 600
fuzz: setup
	command -v cargo-fuzz >/dev/null || $(CARGO) install --locked cargo-fuzz@0.13.2
	mkdir -p crates/sip/fuzz/corpus-work crates/sip/fuzz/corpus-work-ua
	cd crates/sip/fuzz && RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run -O parse corpus-work corpus/parse -- \
		-dict=sip.dict -max_len=4096 -max_total_time=$(FUZZ_SECONDS)
	cd crates/sip/fuzz && RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run -O ua corpus-work-ua corpus/ua -- \
		-dict=sip.dict -max_len=8192 -max_total_time=$(FUZZ_SECONDS)

## package: the .deb (offline) through the Tauri bundler.
package: ui
	npx --yes @tauri-apps/cli@$(TAURI_CLI_VERSION) build --config installer/tauri.bundle.json --bundles deb
	@ls -l target/release/bundle/deb/*.deb

## package-windows: the NSIS installer for Windows (per user, no admin),
## cross-built here with MinGW-w64 (docs/windows.md). The bundler downloads
## nsis_tauri_utils.dll from GitHub on its first run.
package-windows: ui
	npx --yes @tauri-apps/cli@$(TAURI_CLI_VERSION) build --config installer/tauri.bundle.json \
		--target $(WINDOWS_TARGET) --bundles nsis
	@ls -l $${CARGO_TARGET_DIR:-target}/$(WINDOWS_TARGET)/release/bundle/nsis/*-setup.exe

## test-windows: the Windows build's core tests and warmline-cli.exe under
## Wine (docs/windows.md).
test-windows: setup
	$(SESSION) installer/test-windows.sh

fmt:
	$(CARGO) fmt --all

## test-browser: only the browser interop suite (libwebrtc as the far end:
## headless Chromium running a JsSIP phone through Kamailio against Warmline
## agent sessions, tests/browser_interop; about 2.5 minutes). `make test`
## runs it too, in nextest's realtime group.
.PHONY: test-browser
test-browser: setup
	$(CARGO) nextest run -p warmline-e2e --test browser_interop --locked --no-run
	$(SESSION) $(CARGO) nextest run -p warmline-e2e --test browser_interop --locked
