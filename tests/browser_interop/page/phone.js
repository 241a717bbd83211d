// A SIP-over-WebSocket phone on JsSIP: the far end Warmline meets most
// (libwebrtc in a browser). driver.mjs calls `window.phone.*` and receives
// what happens through `window.report` (a playwright binding), one JSON
// object per fact: registration, sessions and their states, every SDP JsSIP
// hands to or gets from the RTCPeerConnection, holds, REFER and Replaces.
//
// The microphone is Chromium's fake capture device, which plays the WAV
// tone the test wrote (--use-file-for-fake-audio-capture). What the phone
// hears is every session's remote track mixed into one AudioWorklet
// (listener.js) that keeps a verdict per 20 ms window.
"use strict";

(() => {
  const report = (fact) => {
    // The binding exists once the driver attached; before that nothing happens.
    if (typeof window.report === "function") window.report(fact);
  };

  let ua = null;
  let microphone = null;
  let nextId = 1;
  const sessions = new Map();
  const ids = new WeakMap();

  // What the phone hears.
  let context = null;
  let mix = null;
  let tones = [];
  const windows = [];
  const sinks = [];

  async function listen(toneList) {
    tones = toneList;
    context = new AudioContext({ sampleRate: 48000 });
    await context.audioWorklet.addModule("/listener.js");
    const node = new AudioWorkletNode(context, "listener", {
      numberOfInputs: 1,
      numberOfOutputs: 1,
      channelCount: 1,
      channelCountMode: "explicit",
      channelInterpretation: "speakers",
      processorOptions: { tones, windowMs: 20 },
    });
    node.port.onmessage = (e) => windows.push(e.data);
    mix = context.createGain();
    mix.connect(node);
    // Pulled by the destination, silently, so the worklet runs.
    const mute = context.createGain();
    mute.gain.value = 0;
    node.connect(mute).connect(context.destination);
    await context.resume();
  }

  function hearTrack(track) {
    const stream = new MediaStream([track]);
    // Chromium renders a remote WebRTC track into WebAudio only while a
    // media element plays it too (crbug.com/933677); the element is muted.
    const sink = new Audio();
    sink.muted = true;
    sink.srcObject = stream;
    sink.play().catch((e) => report({ type: "log", text: `audio element: ${e}` }));
    sinks.push(sink);
    const source = context.createMediaStreamSource(stream);
    source.connect(mix);
    track.addEventListener("ended", () => source.disconnect());
  }

  function watch(session, direction) {
    const id = nextId++;
    sessions.set(id, session);
    ids.set(session, id);
    const facts = (type, extra = {}) => report({ type, session: id, ...extra });
    const peer = (pc) => {
      pc.addEventListener("track", (e) => {
        if (e.track.kind === "audio") {
          hearTrack(e.track);
          facts("track");
        }
      });
      pc.addEventListener("iceconnectionstatechange", () => facts("ice", { state: pc.iceConnectionState }));
      pc.addEventListener("connectionstatechange", () => facts("connection", { state: pc.connectionState }));
    };
    if (session.connection) peer(session.connection);
    else session.on("peerconnection", (e) => peer(e.peerconnection));
    session.on("sdp", (e) => facts("sdp", { originator: e.originator, kind: e.type, sdp: e.sdp }));
    session.on("progress", (e) => facts("progress", { originator: e.originator }));
    session.on("accepted", (e) => facts("accepted", { originator: e.originator }));
    session.on("confirmed", (e) => facts("confirmed", { originator: e.originator }));
    session.on("ended", (e) => {
      facts("ended", { originator: e.originator, cause: e.cause });
      sessions.delete(id);
    });
    session.on("failed", (e) => {
      facts("failed", { originator: e.originator, cause: e.cause });
      sessions.delete(id);
    });
    session.on("hold", (e) => facts("hold", { originator: e.originator }));
    session.on("unhold", (e) => facts("unhold", { originator: e.originator }));
    session.on("newDTMF", (e) => facts("dtmf", { originator: e.originator, tone: e.dtmf.tone }));
    // A transferor asks us to call someone else (blind, or attended with
    // Replaces in the Refer-To): do it, as a phone does.
    session.on("refer", (e) => {
      facts("refer", { to: e.request.refer_to.uri.toString() });
      e.accept((next) => watch(next, "outgoing"), callOptions());
    });
    // Someone calls us to take this session's place (attended transfer
    // completed at the transferor): answer; JsSIP ends this one once the
    // new one is confirmed.
    session.on("replaces", (e) => {
      facts("replaces");
      replacing = true;
      e.accept();
    });
    facts("session", { direction, remote: session.remote_identity ? session.remote_identity.uri.toString() : null });
    return id;
  }

  let replacing = false;

  function callOptions() {
    return {
      // Each call gets its own clone of the microphone track: JsSIP mutes
      // a held call's track (track.enabled = false), and a track shared
      // with the call that replaces it (a warm transfer) would mute that one too.
      mediaStream: new MediaStream(microphone.getAudioTracks().map((t) => t.clone())),
      pcConfig: { iceServers: [] },
    };
  }

  function session(id) {
    const s = id ? sessions.get(id) : [...sessions.values()].find((x) => !x.isEnded());
    if (!s) throw new Error(`no session ${id ?? "at all"}`);
    return s;
  }

  window.phone = {
    // Opens the microphone and the listener, then registers.
    // `source` is "capture" (Chromium's fake capture device playing the
    // test's WAV) or "oscillator" (a WebAudio oscillator at `toneHz`, as
    // web apps that play prompts or music send audio).
    async start({ wsUrl, uri, authUser, password, displayName, listenFor, source, toneHz }) {
      const captured = await navigator.mediaDevices.getUserMedia({
        audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false },
        video: false,
      });
      await listen(listenFor);
      if (source === "oscillator") {
        captured.getTracks().forEach((t) => t.stop());
        const oscillator = context.createOscillator();
        oscillator.frequency.value = toneHz;
        const level = context.createGain();
        level.gain.value = 0.5;
        const out = context.createMediaStreamDestination();
        oscillator.connect(level).connect(out);
        oscillator.start();
        microphone = out.stream;
      } else {
        microphone = captured;
      }
      JsSIP.debug.enable("JsSIP:*:ERROR,JsSIP:*:WARN");
      const socket = new JsSIP.WebSocketInterface(wsUrl);
      ua = new JsSIP.UA({
        sockets: [socket],
        uri,
        authorization_user: authUser,
        password,
        display_name: displayName,
        register: true,
        session_timers: false,
        user_agent: "JsSIP (Warmline browser interop)",
      });
      ua.on("registered", () => report({ type: "registered" }));
      ua.on("registrationFailed", (e) => report({ type: "registrationFailed", cause: e.cause }));
      ua.on("newRTCSession", (e) => {
        if (e.originator === "local") return; // watched where it was made
        const id = watch(e.session, "incoming");
        if (replacing) {
          // The INVITE with Replaces: a phone answers it without ringing.
          replacing = false;
          e.session.answer(callOptions());
        } else {
          report({ type: "incoming", session: id, from: e.request.from.uri.toString() });
        }
      });
      ua.start();
      return true;
    },
    call(target) {
      const s = ua.call(target, callOptions());
      return watch(s, "outgoing");
    },
    answer(id) {
      session(id).answer(callOptions());
      return true;
    },
    hold(id) {
      return session(id).hold();
    },
    unhold(id) {
      return session(id).unhold();
    },
    hangup(id) {
      session(id).terminate();
      return true;
    },
    dtmf(digits, id) {
      // RFC 4733 through the RTCDTMFSender, as browsers send DTMF.
      session(id).sendDTMF(digits, { transportType: "RFC2833", duration: 160, interToneGap: 120 });
      return true;
    },
    // Windows measured so far: the next window's index.
    mark() {
      return windows.length;
    },
    // The share of windows in [from, to) in which tone `hz` is heard.
    heard(from, to, hz, minRatio) {
      const k = tones.indexOf(hz);
      if (k < 0) throw new Error(`not listening for ${hz} Hz (only ${tones})`);
      const span = windows.slice(from, to);
      if (span.length === 0) return { share: 0, windows: 0 };
      const hits = span.filter((w) => w[0] >= 0.01 && w[k + 1] >= minRatio).length;
      return { share: hits / span.length, windows: span.length };
    },
    // For failure messages: the audio clock and what was measured.
    status() {
      return {
        audio: context ? { state: context.state, time: context.currentTime, rate: context.sampleRate } : null,
        windows: windows.length,
        sessions: [...sessions.keys()],
        registered: ua ? ua.isRegistered() : false,
      };
    },
    stop() {
      if (ua) ua.stop();
      return true;
    },
  };
})();
