//! The memory allocator of every Warmline process (the desktop app, the
//! CLI, the calls bench): jemalloc on Linux and macOS, the system heap on
//! Windows. Each binary installs it with
//!
//! ```ignore
//! #[global_allocator]
//! static ALLOCATOR: warmline_agent::allocator::Allocator = warmline_agent::allocator::ALLOCATOR;
//! ```
//!
//! Why: an agent's app runs all day, and every call churns buffers on
//! several threads (SIP, DTLS, SRTP, Opus, jitter buffers). Under glibc's
//! malloc that churn stayed in the process: in the calls bench (`make
//! bench`, 200 calls) RSS rose 6.6 MiB, in anonymous maps (the per-thread
//! arenas) with the same eight threads, and was still rising at the end.
//! Under jemalloc the same run rose 3.2 MiB, all of it in the first 20
//! calls, then moved between 32.5 and 34.1 MiB with no trend.
//!
//! Why not on Windows: tikv-jemalloc-sys does not build for MSVC, and for
//! windows-gnu it needs jemalloc's autoconf build under MinGW, which upstream
//! does not test and which would bring a second C runtime's heap next to the
//! one Rust's std, OpenSSL and Opus already share. Windows' own heap (the
//! low-fragmentation heap, per process) does not keep per-thread arenas the
//! way glibc's malloc does, which is what jemalloc fixed here; the Windows
//! build has not been measured (docs/windows.md).

/// The allocator type, for `#[global_allocator]`.
#[cfg(not(windows))]
pub type Allocator = tikv_jemallocator::Jemalloc;
/// The allocator, for `#[global_allocator]`.
#[cfg(not(windows))]
pub const ALLOCATOR: Allocator = tikv_jemallocator::Jemalloc;

/// The allocator type, for `#[global_allocator]`.
#[cfg(windows)]
pub type Allocator = std::alloc::System;
/// The allocator, for `#[global_allocator]`.
#[cfg(windows)]
pub const ALLOCATOR: Allocator = std::alloc::System;
