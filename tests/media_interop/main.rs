//! Media interop with real third-party servers on loopback: Debian's
//! rtpengine between our WebRTC session and a plain-RTP peer, and a
//! relay-only ICE call through Debian's coturn. Test names carry `interop`
//! so nextest runs them alone (the `realtime` group): they play real time.

mod call;
mod coturn_interop;
mod plain_rtp;
mod rtpengine_interop;
