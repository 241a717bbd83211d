#!/usr/bin/env python3
"""Drives `warmline-cli agent --lab` through one call and keeps its stdout lines.

  cargo build -p warmline-cli
  sed 's/^per_hour = 30/per_hour = 1200/' assets/lab/default-scenario.toml > /tmp/busy.toml
  installer/test-session.sh python3 ui/src/test/transcripts/record.py \
      ui/src/test/transcripts/basic-call.jsonl /tmp/busy.toml basic     # or transfer, conference

The scenario only places calls sooner (the default places 30 an hour). The
commands sent are written beside the transcript (*.commands.jsonl, for a
person; transcripts.test.ts sends the same ones to the mock).
"""
import json, os, subprocess, sys, time, threading, queue

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "../../../.."))
out_path = sys.argv[1]
scenario = sys.argv[2]
flow = sys.argv[3] if len(sys.argv) > 3 else "basic"
OUT = os.environ.get("TMPDIR", "/tmp")
p = subprocess.Popen([os.path.join(ROOT, "target/debug/warmline-cli"), "agent", "--lab", "--scenario", scenario,
                      "--log-dir", os.path.join(OUT, "logs")],
                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=open(os.path.join(OUT, "stderr-%s.log" % flow), "w"), text=True)
q = queue.Queue()
lines = []
def reader():
    for line in p.stdout:
        line = line.strip()
        if not line: continue
        lines.append(line)
        try: q.put(json.loads(line))
        except Exception: print("bad line", line, file=sys.stderr)
    q.put(None)
threading.Thread(target=reader, daemon=True).start()
cmds = []
def send(c):
    cmds.append(c)
    print(">>", json.dumps(c), file=sys.stderr)
    p.stdin.write(json.dumps(c) + "\n"); p.stdin.flush()
def wait(pred, timeout=60, what=""):
    end = time.time() + timeout
    while time.time() < end:
        try: e = q.get(timeout=max(0.05, end - time.time()))
        except queue.Empty: break
        if e is None: raise SystemExit("agent exited while waiting for " + what)
        print("<<", json.dumps(e)[:200], file=sys.stderr)
        if pred(e): return e
    raise SystemExit("timeout waiting for " + what)
def drain(sec):
    end = time.time() + sec
    while time.time() < end:
        try: e = q.get(timeout=0.05)
        except queue.Empty: continue
        if e is None: return
        print("<<", json.dumps(e)[:200], file=sys.stderr)

ready = wait(lambda e: e.get("event") == "ready", 60, "ready")
wait(lambda e: e.get("event") == "registration" and e["registration"]["state"] == "registered", 60, "registered")
disp = ready["session"]["dispositions"][0]["code"]
send({"cmd": "state", "state": "available", "id": 1})
inc = wait(lambda e: e.get("event") == "incoming", 120, "incoming")
call = inc["call"]
drain(1.0)
send({"cmd": "answer", "call": call, "id": 2})
wait(lambda e: e.get("event") == "call" and e["call"] == call and e["state"]["state"] == "connected", 30, "connected")
drain(1.5)
if flow in ("transfer", "conference"):
    # Grace Thompson in the default scenario: available, answers after 2 s.
    mode = "warm" if flow == "transfer" else "conference"
    send({"cmd": "transfer", "to": "+442079460103", "mode": mode, "call": call, "id": 4})
    wait(lambda e: e.get("event") == "transfer" and e["phase"] in ("consulting", "conference", "returned", "failed"), 60, "consulting")
    drain(1.5)
    send({"cmd": "complete_transfer", "id": 5})
    wait(lambda e: e.get("event") == "state" and e["agent"]["state"] == "wrap_up", 60, "wrap_up")
else:
    send({"cmd": "hold", "call": call, "id": 3})
    wait(lambda e: e.get("event") == "call" and e["call"] == call and e["state"]["state"] == "held", 30, "held")
    drain(1.5)
    send({"cmd": "resume", "call": call, "id": 4})
    wait(lambda e: e.get("event") == "call" and e["call"] == call and e["state"]["state"] == "connected", 30, "resumed")
    drain(1.5)
    send({"cmd": "note", "text": "Customer asked about the router", "call": call, "id": 5})
    drain(0.5)
    send({"cmd": "hangup", "call": call, "id": 6})
    wait(lambda e: e.get("event") == "state" and e["agent"]["state"] == "wrap_up", 30, "wrap_up")
drain(0.5)
send({"cmd": "disposition", "disposition": disp, "id": 7})
drain(0.5)
send({"cmd": "wrapup", "disposition": disp, "id": 8})
wait(lambda e: e.get("event") == "state" and e["agent"]["state"] == "available", 30, "available")
send({"cmd": "state", "state": "offline", "id": 9})
drain(1.0)
send({"cmd": "quit", "id": 10})
try: p.wait(timeout=15)
except subprocess.TimeoutExpired: p.kill()
time.sleep(0.3)
with open(out_path, "w") as f:
    for l in lines: f.write(l + "\n")
with open(out_path.replace(".jsonl", ".commands.jsonl"), "w") as f:
    for c in cmds: f.write(json.dumps(c) + "\n")
print("wrote", len(lines), "lines", file=sys.stderr)
