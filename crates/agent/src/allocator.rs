//! The memory allocator of every Warmline process (the desktop app, the
//! CLI, the calls bench): jemalloc where it builds, the system heap on
//! Windows' MSVC targets. Each binary installs it with
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

/// The allocator type, for `#[global_allocator]`.
#[cfg(not(target_env = "msvc"))]
pub type Allocator = tikv_jemallocator::Jemalloc;
/// The allocator, for `#[global_allocator]`.
#[cfg(not(target_env = "msvc"))]
pub const ALLOCATOR: Allocator = tikv_jemallocator::Jemalloc;

/// The allocator type, for `#[global_allocator]`.
#[cfg(target_env = "msvc")]
pub type Allocator = std::alloc::System;
/// The allocator, for `#[global_allocator]`.
#[cfg(target_env = "msvc")]
pub const ALLOCATOR: Allocator = std::alloc::System;
