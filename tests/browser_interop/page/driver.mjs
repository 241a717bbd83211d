// Drives the JsSIP phone (index.html, phone.js) in Debian's headless
// Chromium for tests/browser_interop, through playwright-core.
//
//   node driver.mjs <page url> <tone.wav> <work dir>
//
// It bundles JsSIP from node_modules into <work dir>/jssip.js (the test's
// HTTP server serves it as /jssip.js), starts Chromium with a fresh profile
// in <work dir> whose fake microphone plays <tone.wav>, opens the page and
// then speaks JSON lines: on stdin {"id": n, "call": "name", "args": [...]}
// runs window.phone.name(...args) and answers on stdout
// {"id": n, "ok": true, "value": ...} or {"id": n, "ok": false, "error": "..."};
// whatever the page reports comes as {"fact": {...}}, its console as
// {"log": "..."}. End of stdin closes the browser and exits.
import { createInterface } from "node:readline";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { chromium } from "playwright-core";

const [url, wav, work] = process.argv.slice(2);
if (!url || !wav || !work) {
  console.error("usage: node driver.mjs <page url> <tone.wav> <work dir>");
  process.exit(2);
}
const here = dirname(fileURLToPath(import.meta.url));
const send = (obj) => process.stdout.write(`${JSON.stringify(obj)}\n`);

await build({
  stdin: { contents: 'import JsSIP from "jssip"; window.JsSIP = JsSIP;', resolveDir: here, loader: "js" },
  bundle: true,
  format: "iife",
  platform: "browser",
  outfile: join(work, "jssip.js"),
  logLevel: "warning",
});

// A fresh profile (--user-data-dir) in the test's own directory.
const context = await chromium.launchPersistentContext(join(work, "profile"), {
  executablePath: "/usr/bin/chromium",
  // playwright adds its own headless switches; these are the ones the
  // tests rely on, named so a reader sees the whole browser set-up here.
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    `--use-file-for-fake-audio-capture=${wav}`,
    // Chromium's fake audio output: the page's AudioContext renders on
    // Chromium's own real-time clock, whatever the machine's sound server.
    "--disable-audio-output",
    // The page's AudioContext starts without a click.
    "--autoplay-policy=no-user-gesture-required",
  ],
});
const page = context.pages()[0] ?? (await context.newPage());
await page.exposeFunction("report", (fact) => send({ fact }));
page.on("console", (m) => send({ log: `console.${m.type()}: ${m.text()}` }));
page.on("pageerror", (e) => send({ log: `page error: ${e.message}` }));
await page.goto(url);
await page.waitForFunction(() => typeof window.phone === "object");
send({ ready: true, version: context.browser()?.version() ?? null });

const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  if (!line.trim()) continue;
  const { id, call, args } = JSON.parse(line);
  try {
    const value = await page.evaluate(([name, a]) => window.phone[name](...a), [call, args ?? []]);
    send({ id, ok: true, value: value ?? null });
  } catch (e) {
    send({ id, ok: false, error: String(e && e.message ? e.message : e) });
  }
}
await context.close();
