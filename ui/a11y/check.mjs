// Accessibility check: builds the UI, serves it on an ephemeral loopback port
// with the mock backend, drives Debian's chromium through playwright-core to
// each main state (idle, incoming, connected with context and notes, consult,
// wrap-up, history, settings, the connection form refused and saved; English
// and Spanish; light and dark), runs axe-core there and fails on any serious
// or critical violation. A PNG per state goes to a11y/out/ for a person to
// look at.
//
//   npm run a11y              build, then check
//   npm run a11y -- --no-build  check the existing dist/
import { execFileSync } from "node:child_process";
import { createReadStream, existsSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { createServer } from "node:http";
import { createRequire } from "node:module";
import { dirname, extname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..");
const dist = join(root, "dist");
const out = join(here, "out");
const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

if (!process.argv.includes("--no-build")) {
  execFileSync("npx", ["vite", "build", "--logLevel", "warn"], { cwd: root, stdio: "inherit" });
}
mkdirSync(out, { recursive: true });

const types = { ".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml", ".png": "image/png" };
const server = createServer((req, res) => {
  const path = normalize(decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname)).replace(/^(\.\.[/\\])+/, "");
  let file = join(dist, path);
  if (!file.startsWith(dist) || !existsSync(file) || statSync(file).isDirectory()) file = join(dist, "index.html");
  res.writeHead(200, { "content-type": types[extname(file)] ?? "application/octet-stream" });
  createReadStream(file).pipe(res);
});
await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
const { port } = /** @type {import("node:net").AddressInfo} */ (server.address());
const base = `http://127.0.0.1:${port}/`;

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
});

/** @type {{state: string, serious: number, other: number}[]} */
const results = [];
let failed = false;

async function audit(page, name) {
  // Let animations and live updates settle a moment before looking.
  await page.waitForTimeout(250);
  await page.screenshot({ path: join(out, `${name}.png`) });
  if (!(await page.evaluate(() => "axe" in window))) await page.addScriptTag({ content: axeSource });
  const violations = await page.evaluate(async () => {
    // @ts-ignore axe is injected above
    const r = await window.axe.run(document, { resultTypes: ["violations"] });
    return r.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.slice(0, 4).map((n) => `${n.target.join(" ")} — ${n.failureSummary?.split("\n").slice(0, 2).join(" ")}`),
    }));
  });
  const serious = violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  results.push({ state: name, serious: serious.length, other: violations.length - serious.length });
  for (const v of violations) {
    const bad = v.impact === "serious" || v.impact === "critical";
    console.log(`${bad ? "FAIL" : "note"} ${name}: [${v.impact}] ${v.id}: ${v.help}`);
    for (const n of v.nodes) console.log(`       ${n}`);
  }
  if (serious.length) failed = true;
}

async function run(lang, scheme, scenario = "") {
  const context = await browser.newContext({
    viewport: { width: 1180, height: 760 },
    colorScheme: scheme,
    locale: lang === "es" ? "es-ES" : "en-GB",
    reducedMotion: "reduce",
  });
  await context.addInitScript((l) => localStorage.setItem("warmline.lang", l), lang);
  const page = await context.newPage();
  page.on("pageerror", (e) => {
    console.log(`FAIL page error (${lang}/${scheme}): ${e.message}`);
    failed = true;
  });
  page.on("dialog", (d) => {
    console.log(`FAIL a script opened a dialog: ${d.message()}`);
    failed = true;
    void d.dismiss();
  });
  const tag = `${lang}-${scheme}${scenario ? `-${scenario}` : ""}`;
  await page.goto(`${base}?mock=fast${scenario ? `,${scenario}` : ""}`);
  await page.waitForSelector("[data-testid=health-0].tone-ok");
  await page.waitForSelector("[data-testid=expert]");
  await audit(page, `01-idle-${tag}`);

  await page.click("[data-testid=go-available]");
  await page.waitForSelector("[data-testid=incoming]");
  await page.waitForSelector("[data-testid=context][aria-busy=false]");
  await audit(page, `02-incoming-${tag}`);

  await page.keyboard.press("Control+Shift+A");
  await page.waitForSelector("[data-testid=call-card] [data-testid=hangup]");
  await page.fill("[data-testid=notes]", lang === "es" ? "Cliente pide reembolso del cargo duplicado." : "Customer asks for a refund of the duplicate charge.");
  await page.locator("[data-testid=notes]").blur();
  await page.waitForSelector("[data-testid=note-sync].tone-ok");
  await page.waitForSelector("[data-testid=quality]");
  await audit(page, `03-connected-${tag}`);
  if (scenario === "hostile") {
    const injected = await page.evaluate(
      () =>
        document.querySelectorAll("img[src=x], iframe, svg[onload], [onerror], [onload], a[href^=javascript]").length +
        [...document.scripts].filter((s) => s.textContent?.includes("alert(")).length,
    );
    if (injected) {
      console.log(`FAIL hostile markup became elements: ${injected}`);
      failed = true;
    }
  }

  if (!scenario) {
    await page.setViewportSize({ width: 900, height: 600 });
    await audit(page, `04-narrow-${tag}`);
    // A softphone docked beside the CRM (#18): nothing wider than the
    // window, and the timer and Hang up in sight with the experts scrolled to.
    await page.setViewportSize({ width: 320, height: 700 });
    await page.locator("[data-testid=expert]").last().scrollIntoViewIfNeeded();
    await audit(page, `04-320px-${tag}`);
    const narrow = await page.evaluate(() => {
      const inView = (sel) => {
        const el = document.querySelector(sel);
        if (!el) return false;
        const r = el.getBoundingClientRect();
        const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
        return r.top >= 0 && r.bottom <= innerHeight && !!hit && el.contains(hit);
      };
      return {
        overflow: document.documentElement.scrollWidth - innerWidth,
        hangup: inView("[data-testid=call-card] [data-testid=hangup]"),
        timer: inView("[data-testid=call-card] [role=timer]"),
        state: inView("[data-testid=agent-state]"),
      };
    });
    if (narrow.overflow > 0 || !narrow.hangup || !narrow.timer || !narrow.state) {
      console.log(`FAIL 320 px wide: ${JSON.stringify(narrow)}`);
      failed = true;
    }
    await page.setViewportSize({ width: 1180, height: 760 });
  }

  await page.click("[data-testid=warm-transfer] >> nth=0");
  await page.waitForSelector("[data-testid=complete-transfer]:not([disabled])");
  await audit(page, `05-consult-${tag}`);

  await page.click("[data-testid=complete-transfer]");
  await page.waitForSelector("[data-testid=wrapup]");
  await audit(page, `06-wrapup-${tag}`);

  await page.keyboard.press("Control+Shift+Y");
  await page.waitForSelector("[data-testid=history-list] li");
  await audit(page, `07-history-${tag}`);
  await page.keyboard.press("Escape");

  await page.keyboard.press("Control+Shift+S");
  await page.waitForSelector("[data-testid=mic-meter]");
  await audit(page, `08-settings-${tag}`);

  // The connection form: a refused save, then a saved one offering a restart.
  await page.fill("#conn-servers", "http://sbc.example.com");
  await page.fill("#conn-user", "sip:agent1001@contoso.example");
  await page.fill("#conn-auth_user", "agent1001");
  await page.fill("#conn-password", "not-a-real-password");
  await page.click("[data-testid=conn-save]");
  await page.waitForSelector("[data-testid=conn-error]");
  await page.locator("[data-testid=conn-save]").scrollIntoViewIfNeeded();
  await audit(page, `09-connection-error-${tag}`);
  await page.fill("#conn-servers", "wss://sbc1.contoso.example:443\nwss://sbc2.contoso.example:443");
  await page.click("[data-testid=conn-save]");
  await page.waitForSelector("[data-testid=restart]");
  await page.locator("[data-testid=restart]").scrollIntoViewIfNeeded();
  await audit(page, `10-connection-saved-${tag}`);
  await page.keyboard.press("Escape");
  await context.close();
}

try {
  for (const lang of ["en", "es"]) for (const scheme of ["light", "dark"]) await run(lang, scheme);
  await run("en", "light", "hostile");
} catch (e) {
  console.log(`FAIL ${e instanceof Error ? e.message : e}`);
  failed = true;
} finally {
  await browser.close();
  server.close();
}

console.log("\nstate                                  serious/critical  other");
for (const r of results) console.log(`${r.state.padEnd(40)} ${String(r.serious).padStart(4)}  ${String(r.other).padStart(14)}`);
console.log(failed ? "\na11y: FAILED" : `\na11y: ${results.length} states, no serious or critical violations`);
process.exit(failed ? 1 : 0);
