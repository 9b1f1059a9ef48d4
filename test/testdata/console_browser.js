// Drives the operator console in Debian's chromium with Playwright and the
// operator's PKCS#12 client certificate. Input: CONSOLE_TEST (JSON, from
// console_browser_test.go). Output: one JSON line of findings on stdout;
// any failed expectation throws and exits non-zero.
const { chromium } = require("playwright-core");
const path = require("path");

const cfg = JSON.parse(process.env.CONSOLE_TEST);
const shots = [];
const findings = {};

const t0 = Date.now();
// step logs progress to stderr, which the Go test shows with -v.
const step = (name) => console.error(`${((Date.now() - t0) / 1000).toFixed(1)}s ${name}`);

async function shot(page, name) {
  step("screenshot " + name);
  const file = path.join(cfg.artifacts, name + ".png");
  await page.screenshot({ path: file, fullPage: true });
  shots.push(file);
}

function expect(cond, what) {
  if (!cond) throw new Error("expectation failed: " + what);
}

async function context(browser, pfx) {
  const ctx = await browser.newContext({
    ignoreHTTPSErrors: true, // the fleet root is not in chromium's store
    viewport: { width: 1280, height: 900 },
    clientCertificates: [{ origin: cfg.origin, pfxPath: pfx, passphrase: cfg.passphrase }],
  });
  // Deadlines, not sleeps: generous because the test machine's cores are
  // shared with other builds.
  ctx.setDefaultTimeout(60000);
  return ctx;
}

// chartPixels counts painted pixels of a canvas: a chart that rendered
// has axes, labels and lines; a blank one has none.
async function chartPixels(page, id) {
  return page.evaluate((id) => {
    const c = document.getElementById(id);
    const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 3; i < d.length; i += 4) if (d[i] !== 0) n++;
    return n;
  }, id);
}

async function main() {
  step("launch");
  const browser = await chromium.launch({ executablePath: cfg.chromium, args: ["--no-sandbox"] });
  const errors = [];
  try {
    step("launched");
    const admin = await context(browser, cfg.adminPFX);
    const overview = await admin.newPage();
    // A refused request shows as "Failed to load resource"; the tests
    // cause some on purpose (the read-only and CSRF checks, the why route
    // before the diag branch). CSP violations and script errors count.
    const watch = (p) => {
      p.on("pageerror", (e) => errors.push(String(e)));
      p.on("console", (m) => { if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) errors.push(m.text()); });
      p.on("response", (r) => { if (r.status() >= 500) errors.push(`${r.status()} ${r.url()}`); });
    };
    watch(overview);
    step("context");
    await overview.goto(cfg.origin + "/console");
    step("loaded");
    await overview.waitForFunction(() => document.getElementById("tile-sessions")?.textContent === "1", null, { timeout: 60000 });
    await overview.waitForFunction(() => window.fleetgateCharts && window.fleetgateCharts.rates.data.labels.length >= 2, null, { timeout: 60000 });
    step("charts have points");
    findings.chartPoints = await overview.evaluate(() => window.fleetgateCharts.rates.data.labels.length);
    findings.rateChartPixels = await chartPixels(overview, "chart-rates");
    findings.statusChartPixels = await chartPixels(overview, "chart-status");
    findings.lifecycleChartPixels = await chartPixels(overview, "chart-lifecycle");
    findings.refusalSeries = await overview.evaluate(() => window.fleetgateCharts.rates.data.datasets.map((d) => d.label));
    findings.csp = (await (await admin.request.get(cfg.origin + "/console")).headers())["content-security-policy"];
    await shot(overview, "1-overview");

    // Search a device and open its page.
    const page = await admin.newPage();
    watch(page);
    await page.goto(cfg.origin + "/console#/devices");
    await page.fill("#search", cfg.device);
    await page.click("#device-filters button[type=submit]");
    const row = page.locator(`#devices tr[data-id="${cfg.device}"]`);
    await row.waitFor();
    findings.listConnected = await row.locator("[data-connected]").getAttribute("data-connected");
    findings.listRows = await page.locator("#devices tbody tr").count();
    findings.listLastSeen = await row.locator("td.seen").textContent();
    await shot(page, "2-devices-search");
    await row.locator("a").click();
    await page.waitForSelector("#certificates tbody tr");
    await page.waitForFunction(() => document.querySelector("#session [data-connected]"));
    findings.pageConnected = await page.locator("#session [data-connected]").getAttribute("data-connected");
    findings.certAttestation = await page.locator("#certificates tbody tr td").nth(2).textContent();

    // The refusal the test caused with mosquitto_sub and a wrong client ID.
    const why = await page.evaluate(async (id) => (await fetch(`/v1/devices/${encodeURIComponent(id)}/why`)).status, cfg.device);
    findings.whyStatus = why;
    if (why === 404) {
      // The diagnostics route comes with the diag branch; until then the
      // page must say so instead of failing.
      await page.waitForFunction(() => document.getElementById("why-summary")?.textContent === "no diagnostics available");
      findings.diagnosis = "no diagnostics available";
    } else {
      await page.waitForFunction((claimed) => [...document.querySelectorAll("#refusals tbody tr")].some((tr) => tr.textContent.includes(claimed)), cfg.wrongClientID, { timeout: 60000 });
      findings.diagnosis = await page.locator("#why-summary").textContent();
      findings.refusalRow = await page.locator("#refusals tbody tr").first().textContent();
    }
    await shot(page, "3-device-page");

    // Revoke with reason and confirmation; watch the overview drop live.
    await page.click("#action-revoke");
    await page.waitForSelector("#confirm:not([hidden])");
    await shot(page, "4-revoke-confirm");
    await page.fill("#confirm-reason", "lost in transit (browser test)");
    await page.click("#confirm-ok");
    await page.waitForFunction(() => document.querySelector("h2 [data-status]")?.textContent === "revoked", null, { timeout: 60000 });
    await overview.waitForFunction(() => document.getElementById("tile-sessions")?.textContent === "0", null, { timeout: 60000 });
    await overview.waitForFunction(() => document.getElementById("tile-revocations")?.textContent !== "0", null, { timeout: 60000 });
    findings.sessionsAfterRevoke = await overview.locator("#tile-sessions").textContent();
    findings.overviewNavigations = await overview.evaluate(() => performance.getEntriesByType("navigation").length);
    await shot(overview, "5-overview-after-revoke");

    // The audit entry names the operator from the client certificate.
    await page.goto(cfg.origin + "/console#/audit");
    await page.fill("input[name=target]", cfg.device);
    await page.selectOption("select[name=action]", "device.revoke");
    await page.click("#audit-filters button[type=submit]");
    await page.waitForFunction(() => document.querySelectorAll("#audit tbody tr td.action").length === 1);
    findings.auditActor = await page.locator("#audit tbody tr td.actor").first().textContent();
    findings.auditAction = await page.locator("#audit tbody tr td.action").first().textContent();
    await shot(page, "6-audit");

    // A change without the CSRF token is refused even for an admin.
    findings.adminNoCSRF = await page.evaluate(async (id) => {
      const r = await fetch(`/v1/devices/${encodeURIComponent(id)}/suspend`, { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" });
      return { status: r.status, code: (await r.json()).error.code };
    }, cfg.other);

    // A read-only operator sees no action, and a forged change is refused.
    const viewer = await context(browser, cfg.viewerPFX);
    const vp = await viewer.newPage();
    watch(vp);
    step("viewer context");
    await vp.goto(cfg.origin + "/console#/device/" + encodeURIComponent(cfg.other));
    await vp.waitForSelector("#certificates");
    findings.viewerRole = await vp.locator("#me").textContent();
    findings.viewerActionsVisible = await vp.locator("#actions").isVisible();
    findings.viewerSuspendVisible = await vp.locator("#action-suspend").isVisible();
    findings.viewerTokensLink = await vp.locator("a[data-nav=tokens]").isVisible();
    await shot(vp, "7-read-only-device");
    findings.viewerForged = await vp.evaluate(async ({ id, header }) => {
      const r = await fetch(`/v1/devices/${encodeURIComponent(id)}/suspend`, { method: "POST", headers: { "Content-Type": "application/json", [header]: "forged" }, body: "{}" });
      return { status: r.status, code: (await r.json()).error.code };
    }, { id: cfg.other, header: "X-Fleetgate-CSRF" });
    findings.errors = errors;
  } finally {
    await browser.close();
  }
  findings.screenshots = shots;
  console.log(JSON.stringify(findings));
}

main().catch((e) => { console.error(e.stack || String(e)); console.log(JSON.stringify({ failed: String(e), screenshots: shots, ...findings })); process.exit(1); });
