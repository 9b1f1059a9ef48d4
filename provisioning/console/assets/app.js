// The fleetgate operator console: one page, hash routes, the /v1 operator
// API for records and changes, /console/api for lists and live figures.
// Every text from the server is set as text, never parsed as HTML.

const view = document.getElementById("view");
let me = null;
let stopPage = () => {};

// h builds an element: h("td", {class: "x"}, "text", child).
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

class APIError extends Error {
  constructor(status, code, message) { super(message); this.status = status; this.code = code; }
}

async function api(path, opts = {}) {
  const init = { method: opts.method || "GET", headers: {}, credentials: "same-origin" };
  if (opts.body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(opts.body);
  }
  if (init.method !== "GET" && me && me.csrf) init.headers[me.csrf_header] = me.csrf;
  const res = await fetch(path, init);
  const text = await res.text();
  const body = text ? JSON.parse(text) : null;
  if (!res.ok) {
    const e = (body && body.error) || {};
    throw new APIError(res.status, e.code || "http_" + res.status, e.message || res.statusText);
  }
  return body;
}

const fmtTime = (t) => (!t || t.startsWith("0001")) ? "" : new Date(t).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
const statusCell = (s) => h("span", { class: "status-" + s, "data-status": s }, s);
const connCell = (c) => c === undefined ? h("span", { class: "muted" }, "unknown")
  : h("span", { class: c ? "dot-on" : "dot-off", "data-connected": String(c) }, c ? "● connected" : "○ offline");

function download(name, type, text) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = h("a", { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

// confirmAction shows the confirmation step; resolves with the reason, or
// null when cancelled.
function confirmAction(title, text, needReason) {
  const modal = document.getElementById("confirm");
  const form = document.getElementById("confirm-form");
  const reason = document.getElementById("confirm-reason");
  document.getElementById("confirm-title").textContent = title;
  document.getElementById("confirm-text").textContent = text;
  document.getElementById("confirm-reason-row").hidden = !needReason;
  reason.value = "";
  reason.required = needReason;
  modal.hidden = false;
  (needReason ? reason : document.getElementById("confirm-ok")).focus();
  return new Promise((resolve) => {
    const done = (v) => { modal.hidden = true; form.onsubmit = null; resolve(v); };
    form.onsubmit = (ev) => { ev.preventDefault(); done(reason.value.trim()); };
    document.getElementById("confirm-cancel").onclick = () => done(null);
  });
}

// ---- overview ----------------------------------------------------------

const palette = ["#2f7ed8", "#c62f3c", "#e08a00", "#7b4fc9", "#1d9a6c", "#d14f9c", "#5b6b7f", "#9a7b1d"];

function overviewPage() {
  const tiles = {};
  const tile = (key, label) => (tiles[key] = h("div", { class: "n", id: "tile-" + key }, "–"),
    h("div", { class: "tile" }, tiles[key], h("div", { class: "l" }, label)));
  const rateCanvas = h("canvas", { id: "chart-rates" });
  const lifeCanvas = h("canvas", { id: "chart-lifecycle" });
  const statusCanvas = h("canvas", { id: "chart-status" });
  view.replaceChildren(
    h("h2", {}, "Fleet overview"),
    h("div", { class: "tiles" }, tile("active", "active devices"), tile("suspended", "suspended"),
      tile("revoked", "revoked"), tile("sessions", "sessions now"),
      tile("enrolments", "certificates issued since opened"), tile("revocations", "devices revoked since opened")),
    h("div", { class: "charts" },
      h("div", { class: "card" }, h("h3", {}, "Connects and refusals per minute, by reason"), h("div", { class: "chartbox" }, rateCanvas)),
      h("div", { class: "card" }, h("h3", {}, "Devices by status"), h("div", { class: "chartbox" }, statusCanvas))),
    h("div", { class: "card" }, h("h3", {}, "Certificates issued (enrolments) and devices revoked per minute"), h("div", { class: "chartbox" }, lifeCanvas)));

  const opts = { animation: false, maintainAspectRatio: false, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } };
  const rates = new Chart(rateCanvas, { type: "line", data: { labels: [], datasets: [] }, options: opts });
  const life = new Chart(lifeCanvas, { type: "line", data: { labels: [], datasets: [] }, options: opts });
  const status = new Chart(statusCanvas, {
    type: "doughnut",
    data: { labels: ["active", "suspended", "revoked"], datasets: [{ data: [0, 0, 0], backgroundColor: ["#1d9a6c", "#e08a00", "#c62f3c"] }] },
    options: { animation: false, maintainAspectRatio: false },
  });
  window.fleetgateCharts = { rates, life, status };

  const es = new EventSource("/console/api/events");
  const live = document.getElementById("live");
  es.onopen = () => live.classList.add("on");
  es.onerror = () => live.classList.remove("on");
  es.addEventListener("overview", (ev) => {
    const o = JSON.parse(ev.data);
    const d = o.devices || {};
    for (const k of ["active", "suspended", "revoked"]) tiles[k].textContent = d[k] ?? "–";
    tiles.sessions.textContent = o.sessions === null ? "unknown" : o.sessions;
    tiles.enrolments.textContent = o.totals.enrolments;
    tiles.revocations.textContent = o.totals.revocations;
    const s = o.series;
    const line = (label, data, i) => ({ label, data, borderColor: palette[i % palette.length], backgroundColor: palette[i % palette.length], pointRadius: 0, tension: 0.2 });
    rates.data.labels = s.labels;
    rates.data.datasets = [line("connects", s.connects, 0),
      ...Object.keys(s.refusals).sort().map((r, i) => line("refused: " + r, s.refusals[r], i + 1))];
    rates.update();
    life.data.labels = s.labels;
    life.data.datasets = [line("enrolments", s.enrolments, 4), line("revocations", s.revocations, 1)];
    life.update();
    status.data.datasets[0].data = [d.active || 0, d.suspended || 0, d.revoked || 0];
    status.update();
    view.dataset.updated = o.time;
  });
  return () => { es.close(); live.classList.remove("on"); rates.destroy(); life.destroy(); status.destroy(); };
}

// ---- device list ---------------------------------------------------------

function devicesPage(params) {
  const q = new URLSearchParams(params);
  const field = (name, label, input) => h("label", {}, label, input);
  const search = h("input", { name: "q", id: "search", placeholder: "ID, group or metadata value", value: q.get("q") || "" });
  const status = h("select", { name: "status" }, ["", "active", "suspended", "revoked"].map((s) => h("option", { value: s, selected: q.get("status") === s }, s || "any")));
  const group = h("input", { name: "group", value: q.get("group") || "", size: 10 });
  const conn = h("select", { name: "connected" }, [["", "any"], ["yes", "connected"], ["no", "offline"]].map(([v, l]) => h("option", { value: v, selected: q.get("connected") === v }, l)));
  const seen = h("select", { name: "seen" }, [["", "any time"], ["1h", "last hour"], ["24h", "last 24 hours"], ["7d", "last 7 days"], ["never", "not since server start"]].map(([v, l]) => h("option", { value: v }, l)));
  const body = h("tbody");
  const info = h("span", { class: "muted", id: "page-info" });
  const prev = h("button", { type: "button", id: "prev" }, "‹ Previous");
  const next = h("button", { type: "button", id: "next" }, "Next ›");
  const form = h("form", { class: "filters", id: "device-filters" },
    field("q", "Search", search), field("status", "Status", status), field("group", "Group", group),
    field("connected", "Connected", conn), field("seen", "Last seen", seen), h("button", { type: "submit" }, "Search"));
  view.replaceChildren(h("h2", {}, "Devices"), form,
    h("table", { id: "devices" }, h("thead", {}, h("tr", {}, ["ID", "Status", "Group", "Connected", "Last seen", "Updated", "Reason"].map((t) => h("th", {}, t)))), body),
    h("div", { class: "pager" }, prev, next, info));

  const cursors = [""];
  let page = 0;
  const load = async () => {
    const p = new URLSearchParams();
    for (const [k, el] of [["q", search], ["status", status], ["group", group], ["connected", conn], ["seen", seen]]) if (el.value) p.set(k, el.value);
    if (cursors[page]) p.set("after", cursors[page]);
    p.set("limit", "50");
    try {
      const r = await api("/console/api/devices?" + p);
      body.replaceChildren(...r.devices.map((d) => h("tr", { "data-id": d.id },
        h("td", {}, h("a", { href: "#/device/" + encodeURIComponent(d.id) }, d.id)),
        h("td", {}, statusCell(d.status)), h("td", {}, d.group || ""), h("td", {}, connCell(d.connected)),
        h("td", { class: "seen" }, fmtTime(d.last_seen) || "–"), h("td", {}, fmtTime(d.updated_at)), h("td", {}, d.reason || ""))));
      cursors[page + 1] = r.next || null;
      next.disabled = !r.next;
      prev.disabled = page === 0;
      info.textContent = `page ${page + 1} · ${r.devices.length} shown · ${r.scanned} read` + (r.next && r.devices.length < 50 ? " · more may follow" : "");
      view.dataset.loaded = String(Date.now());
    } catch (e) {
      body.replaceChildren(h("tr", {}, h("td", { colspan: 7, class: "error" }, e.message)));
    }
  };
  form.addEventListener("submit", (ev) => { ev.preventDefault(); cursors.length = 1; page = 0; load(); });
  next.addEventListener("click", () => { if (cursors[page + 1]) { page++; load(); } });
  prev.addEventListener("click", () => { if (page > 0) { page--; load(); } });
  load();
  return () => {};
}

// ---- device page ---------------------------------------------------------

async function devicePage(id) {
  view.replaceChildren(h("h2", {}, "Device ", h("span", { id: "device-id" }, id)), h("p", { class: "muted" }, "loading…"));
  const enc = encodeURIComponent(id);
  let detail;
  try {
    detail = await api("/v1/devices/" + enc);
  } catch (e) {
    view.replaceChildren(h("h2", {}, "Device " + id), h("p", { class: "error" }, e.message));
    return () => {};
  }
  const d = detail.device;
  const sessionBox = h("dl", { id: "session" });
  const whyBox = h("div", { id: "diagnosis" }, h("p", { class: "muted" }, "loading…"));
  const auditBody = h("tbody");
  const msg = h("p", { id: "action-result" });
  const act = (label, path, verb, needReason, danger) => h("button", {
    type: "button", class: danger ? "danger" : null, id: "action-" + label.toLowerCase(),
    onclick: async () => {
      const reason = await confirmAction(`${label} ${id}?`, verb, needReason);
      if (reason === null) return;
      try {
        await api(`/v1/devices/${enc}/${path}`, { method: "POST", body: { reason } });
        msg.className = "";
        msg.textContent = `${label}: done.`;
        refresh();
      } catch (e) {
        msg.className = "error";
        msg.textContent = `${label} refused: ${e.message}`;
      }
    },
  }, label);
  const actions = h("div", { class: "actions admin-only", id: "actions" },
    d.status === "active" ? act("Suspend", "suspend", "The device's sessions end and it cannot connect until resumed.", false) : null,
    d.status === "suspended" ? act("Resume", "resume", "The device may connect again.", false) : null,
    d.status !== "revoked" ? act("Revoke", "revoke", "Revocation is final: every certificate of the device is revoked and its session dropped.", true, true) : null);
  view.replaceChildren(
    h("h2", {}, "Device ", h("span", { id: "device-id" }, id), " ", statusCell(d.status)),
    actions, msg,
    h("div", { class: "grid2" },
      h("div", { class: "card" }, h("h3", {}, "Record"), h("dl", {},
        h("dt", {}, "status"), h("dd", {}, d.status + (d.reason ? ` (${d.reason})` : "")),
        h("dt", {}, "group"), h("dd", {}, d.group || "–"),
        h("dt", {}, "metadata"), h("dd", {}, Object.entries(d.metadata || {}).map(([k, v]) => `${k}=${v}`).join(", ") || "–"),
        h("dt", {}, "created"), h("dd", {}, fmtTime(d.created_at)),
        h("dt", {}, "EK hash"), h("dd", {}, d.ek_hash || "–"))),
      h("div", { class: "card" }, h("h3", {}, "Current session"), sessionBox)),
    h("div", { class: "card" }, h("h3", {}, "Certificates"), h("table", { id: "certificates" },
      h("thead", {}, h("tr", {}, ["Serial", "Status", "Attestation", "Valid from", "Valid to", "Fingerprint"].map((t) => h("th", {}, t)))),
      h("tbody", {}, detail.certificates.map((c) => h("tr", {},
        h("td", {}, c.serial), h("td", {}, statusCell(c.status)), h("td", {}, c.attestation),
        h("td", {}, fmtTime(c.not_before)), h("td", {}, fmtTime(c.not_after)), h("td", { class: "muted" }, c.fingerprint.slice(0, 16) + "…")))))),
    h("div", { class: "card" }, h("h3", {}, "Why is it not connected?"), whyBox),
    h("div", { class: "card" }, h("h3", {}, "Audit trail"), h("table", { id: "device-audit" },
      h("thead", {}, h("tr", {}, ["Time", "Operator", "Action", "Detail"].map((t) => h("th", {}, t)))), auditBody)));

  const refresh = () => route();
  const loadSession = async () => {
    try {
      const s = await api(`/console/api/devices/${enc}/session`);
      sessionBox.replaceChildren(...[
        h("dt", {}, "connected"), h("dd", {}, s.known ? connCell(s.connected) : h("span", { class: "muted" }, "unknown (no broker in this process)")),
        h("dt", {}, "broker"), h("dd", {}, s.broker || "–"),
        h("dt", {}, "last seen"), h("dd", { id: "last-seen" }, fmtTime(s.last_seen) || "not since the server started"),
        ...(s.clustered ? [h("dt", {}, "cluster"), h("dd", { class: "muted" }, "only this process's broker is asked")] : [])]);
    } catch (e) { sessionBox.replaceChildren(h("dd", { class: "error" }, e.message)); }
  };
  const loadWhy = async () => {
    try {
      const w = diagnosis(await api(`/v1/devices/${enc}/why`));
      const refusals = w.refusals;
      whyBox.replaceChildren(h("div", {},
        h("p", { id: "why-summary" }, w.summary || ""), w.next_step ? h("p", {}, h("strong", {}, "Next step: "), w.next_step) : null,
        refusals.length ? h("table", { id: "refusals" }, h("thead", {}, h("tr", {}, ["Time", "Broker", "Remote", "Check", "Detail", "Claimed client ID"].map((t) => h("th", {}, t)))),
          h("tbody", {}, refusals.map((r) => h("tr", {}, h("td", {}, fmtTime(r.time)), h("td", {}, r.broker || ""), h("td", {}, r.remote || ""),
            h("td", { class: "check" }, r.check || ""), h("td", {}, r.detail || ""), h("td", {}, r.claimed_client_id || ""))))) : h("p", { class: "muted" }, "no recent refusals"),
        w.dropped ? h("p", { class: "muted" }, `${w.dropped} older refusals not kept`) : null));
    } catch (e) {
      whyBox.replaceChildren(h("p", { class: "muted", id: "why-summary" }, e.status === 404 ? "no diagnostics available" : e.message));
    }
  };
  const loadAudit = async () => {
    try {
      const r = await api(`/v1/audit?target=${enc}&limit=50`);
      auditBody.replaceChildren(...r.events.reverse().map((e) => h("tr", {}, h("td", {}, fmtTime(e.time)), h("td", {}, e.actor), h("td", {}, e.action), h("td", {}, e.detail || ""))));
    } catch (e) { auditBody.replaceChildren(h("tr", {}, h("td", { class: "error" }, e.message))); }
  };
  await Promise.all([loadSession(), loadWhy(), loadAudit()]);
  const timer = setInterval(() => { loadSession(); loadWhy(); }, 3000);
  view.dataset.loaded = String(Date.now());
  return () => clearInterval(timer);
}

// diagnosis reads wire.Diagnosis whether its JSON names are snake_case or
// the Go field names.
function diagnosis(raw) {
  const pick = (o, ...names) => { for (const n of names) if (o && o[n] !== undefined) return o[n]; return undefined; };
  const refusals = (pick(raw, "refusals", "Refusals") || []).map((r) => ({
    time: pick(r, "time", "Time"), broker: pick(r, "broker", "Broker"), remote: pick(r, "remote", "Remote"),
    check: pick(r, "check", "Check"), detail: pick(r, "detail", "Detail"),
    claimed_client_id: pick(r, "claimed_client_id", "claimedClientID", "ClaimedClientID"),
  }));
  return {
    summary: pick(raw, "summary", "Summary"), next_step: pick(raw, "next_step", "nextStep", "NextStep"),
    dropped: pick(raw, "dropped", "Dropped"), refusals,
  };
}

// ---- tokens --------------------------------------------------------------

function tokensPage() {
  const group = h("input", { name: "group", id: "token-group", required: true });
  const count = h("input", { name: "count", type: "number", min: 1, max: 1000, value: 1 });
  const ttl = h("input", { name: "ttl", placeholder: "24h" });
  const msg = h("p", { id: "token-result" });
  const form = h("form", { class: "filters" }, h("label", {}, "Group", group), h("label", {}, "Count", count), h("label", {}, "Lifetime", ttl),
    h("button", { type: "submit" }, "Create and download"));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      const r = await api("/v1/tokens", { method: "POST", body: { group: group.value, count: Number(count.value), ttl: ttl.value || undefined } });
      download(`tokens-${r.group}.txt`, "text/plain", r.tokens.join("\n") + "\n");
      msg.className = "";
      msg.textContent = `${r.tokens.length} token(s) for ${r.group} downloaded, valid until ${fmtTime(r.expires_at)}. The server keeps only their hashes: this was the one chance to save them.`;
    } catch (e) { msg.className = "error"; msg.textContent = e.message; }
  });
  view.replaceChildren(h("h2", {}, "Enrolment tokens"), h("p", { class: "muted" }, "One-time tokens for a group whose policy allows them. They are shown once, as a download."), form, msg);
  return () => {};
}

// ---- audit log -----------------------------------------------------------

function auditPage() {
  const target = h("input", { name: "target", placeholder: "device ID or serial" });
  const action = h("select", { name: "action" }, ["", "device.register", "device.suspend", "device.resume", "device.revoke", "device.import", "device.enroll", "cert.issue", "cert.revoke", "cert.supersede", "group.put", "token.create"].map((a) => h("option", { value: a }, a || "any")));
  const since = h("input", { name: "since", type: "datetime-local" });
  const body = h("tbody");
  let events = [];
  const form = h("form", { class: "filters", id: "audit-filters" }, h("label", {}, "Target", target), h("label", {}, "Action", action), h("label", {}, "Since (UTC)", since),
    h("button", { type: "submit" }, "Filter"),
    h("button", { type: "button", id: "export-json", onclick: () => download("audit.json", "application/json", JSON.stringify(events, null, 2)) }, "Export JSON"),
    h("button", { type: "button", id: "export-csv", onclick: () => download("audit.csv", "text/csv", toCSV(events)) }, "Export CSV"));
  const load = async () => {
    const p = new URLSearchParams({ limit: "500" });
    if (target.value) p.set("target", target.value);
    if (action.value) p.set("action", action.value);
    if (since.value) p.set("since", new Date(since.value + "Z").toISOString());
    try {
      events = (await api("/v1/audit?" + p)).events.reverse();
      body.replaceChildren(...events.map((e) => h("tr", {}, h("td", {}, e.seq), h("td", {}, fmtTime(e.time)), h("td", { class: "actor" }, e.actor),
        h("td", {}, e.remote || ""), h("td", { class: "action" }, e.action), h("td", { class: "target" }, e.target), h("td", {}, e.detail || ""))));
      view.dataset.loaded = String(Date.now());
    } catch (e) { body.replaceChildren(h("tr", {}, h("td", { class: "error", colspan: 7 }, e.message))); }
  };
  form.addEventListener("submit", (ev) => { ev.preventDefault(); load(); });
  view.replaceChildren(h("h2", {}, "Audit log"), form, h("table", { id: "audit" },
    h("thead", {}, h("tr", {}, ["#", "Time", "Operator", "From", "Action", "Target", "Detail"].map((t) => h("th", {}, t)))), body));
  load();
  return () => {};
}

function toCSV(events) {
  const cols = ["seq", "time", "actor", "remote", "action", "target", "detail"];
  const cell = (v) => { const s = String(v ?? ""); return /[",\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s; };
  return [cols.join(","), ...events.map((e) => cols.map((c) => cell(e[c])).join(","))].join("\n") + "\n";
}

// ---- routing -------------------------------------------------------------

async function route() {
  stopPage();
  stopPage = () => {};
  const hash = location.hash.replace(/^#/, "") || "/";
  const [path, query] = hash.split("?");
  const parts = path.split("/").filter(Boolean);
  const name = parts[0] || "overview";
  for (const a of document.querySelectorAll("[data-nav]")) a.classList.toggle("active", a.dataset.nav === (name === "device" ? "devices" : name));
  view.dataset.page = name;
  if (name === "devices") stopPage = devicesPage(query || "");
  else if (name === "device") stopPage = await devicePage(decodeURIComponent(parts.slice(1).join("/")));
  else if (name === "tokens" && me.role === "admin") stopPage = tokensPage();
  else if (name === "audit") stopPage = auditPage();
  else { view.dataset.page = "overview"; stopPage = overviewPage(); }
}

async function start() {
  me = await api("/console/api/me");
  document.body.classList.add("role-" + me.role);
  document.getElementById("me").textContent = `${me.name} (${me.role})`;
  window.addEventListener("hashchange", route);
  await route();
}

start().catch((e) => view.replaceChildren(h("p", { class: "error" }, "The console could not start: " + e.message)));
