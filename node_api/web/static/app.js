// The web app's only script: wallet sign-in, and the prepare -> describe -> confirm -> sign -> submit
// sequence of every signing form. No dependency, no build step. What is signed is described by the
// node (POST /typed-data/describe), never decoded here a second time; without a description nothing
// is signed.

const $ = (sel, el = document) => el.querySelector(sel);
const SESSION = "coc-session";
const FLASH = "coc-flash";

export const session = () => JSON.parse(sessionStorage.getItem(SESSION) || "null");

function cookie(name, value) {
  const attrs = "; path=/app; SameSite=Strict";
  document.cookie = value == null ? `${name}=; max-age=0${attrs}` : `${name}=${encodeURIComponent(value)}${attrs}`;
}

function setSession(s) {
  if (s) sessionStorage.setItem(SESSION, JSON.stringify(s)); else sessionStorage.removeItem(SESSION);
  cookie("coc_wallet", s ? s.address : null);
  cookie("coc_key", s && s.mode === "key" ? s.key : null);
  cookie("coc_key_kind", s && s.mode === "key" ? s.header : null);
}

// ------------------------------------------------------------------ talking to the node
// Big integers in answers stay exact: a number beyond 2^53 is kept as its decimal text.
function parseExact(text) {
  return JSON.parse(text, (k, v, ctx) =>
    typeof v === "number" && !Number.isSafeInteger(v) && Number.isInteger(v) && ctx && ctx.source ? ctx.source : v);
}

async function api(method, path, body, headers = {}) {
  const s = session();
  const key = s && s.mode === "key" ? { [s.header]: s.key } : {};  // a node may restrict reading to key holders
  const r = await fetch(path, {
    method, headers: { "Content-Type": "application/json", ...key, ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  let answer;
  try { answer = parseExact(text); } catch { answer = { message: text }; }
  if (!r.ok) throw Object.assign(new Error(answer.message || r.statusText), { answer, status: r.status });
  return answer;
}

function refusal(e) {
  const a = e.answer || {};
  const errors = a.details && a.details.errors;
  const named = errors && errors.length ? " (" + errors.map((x) => `${x.field}: ${x.message}`).join("; ") + ")" : "";
  return `${a.error ? a.error + ": " : ""}${e.message}${named}`;
}

// ------------------------------------------------------------------ units and form values
function unitsFor(unit) {
  return unit === "g" ? [["t", "1000000"], ["kg", "1000"], ["g", "1"]] : [[unit || "unit", "1"]];
}

function syncUnits(form) {
  for (const sel of form.querySelectorAll("select[data-unit-select]")) {
    let unit = sel.dataset.unit || "";
    if (sel.dataset.unitFrom) {
      const src = form.elements.namedItem(sel.dataset.unitFrom);
      const opt = src && src.selectedOptions ? src.selectedOptions[0] : null;
      const attr = (sel.dataset.unitAttr || "unit").replace(/-(\w)/g, (_, c) => c.toUpperCase());
      unit = opt ? opt.dataset[attr] || "" : "";
    }
    const want = unitsFor(unit);
    const have = [...sel.options].map((o) => o.textContent).join(",");
    if (have === want.map((u) => u[0]).join(",")) continue;
    sel.replaceChildren(...want.map(([label, mult]) => new Option(label, mult)));
  }
}

// "1.25" in a unit worth `mult` base units -> whole base units (exact; refuses finer than one base unit)
export function toBase(text, mult) {
  const t = String(text).trim();
  if (!/^\d+(\.\d+)?$/.test(t)) throw new Error(`"${t}" is not a quantity (digits, optionally a decimal point)`);
  const [whole, frac = ""] = t.split(".");
  const m = BigInt(mult);
  const scale = 10n ** BigInt(frac.length);
  const n = (BigInt(whole) * scale + BigInt(frac || "0")) * m;
  if (n % scale !== 0n) throw new Error(`"${t}" is finer than the material's registered unit`);
  const v = n / scale;
  return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
}

function unitMult(form, name) {
  const sel = form.elements.namedItem(name + "__unit");
  return sel && sel.value ? sel.value : "1";
}

export function collect(form) {
  const body = {};
  const rows = {};
  for (const el of form.elements) {
    const kind = el.dataset ? el.dataset.kind : undefined;
    if (!el.name || !kind || el.disabled) continue;
    const name = el.name;
    const v = el.value;
    if (kind === "int") { if (v !== "") body[name] = Number(v); }
    else if (kind === "text") { if (v.trim() !== "") body[name] = v; }
    else if (kind === "site") {
      if (!(Number(v) > 0)) throw new Error("choose one of the organisation's sites");
      body[name] = Number(v);
    } else if (kind === "date") { if (v) body[name] = Math.floor(Date.parse(v + "T00:00:00Z") / 1000); }
    else if (kind === "percent") { if (v !== "") body[name] = Math.round(Number(v) * 10000); }
    else if (kind === "qty") { if (v.trim() !== "") body[name] = toBase(v, unitMult(form, name)); }
    else if (kind === "qtylist") {
      body[name] = v.split(",").map((s) => s.trim()).filter(Boolean).map((s) => toBase(s, unitMult(form, name)));
    } else if (kind === "bits") { body[name] = (body[name] || 0) | (el.checked ? Number(v) : 0); }
    else if (kind === "intlist") { (body[name] ||= []); if (el.checked) body[name].push(Number(v)); }
    else if (kind === "rowqty") { rows[el.dataset.row] = [v, unitMult(form, name + "-" + el.dataset.row)]; }
  }
  if (form.querySelector("[data-kind=rowqty]")) {
    if (!body.batchIds || !body.batchIds.length) throw new Error("choose at least one batch");
    body.quantities = body.batchIds.map((id) => {
      if (!rows[id] || !rows[id][0]) throw new Error(`give the quantity taken from batch #${id}`);
      return toBase(rows[id][0], rows[id][1]);
    });
  }
  return body;
}

// ------------------------------------------------------------------ the description and the confirmation
function el(tag, text, className) {
  const e = document.createElement(tag);
  if (text != null) e.textContent = text;
  if (className) e.className = className;
  return e;
}

// The node's Description (POST /typed-data/describe), shown as it is: the intent, the action in words,
// each field by label with its value in words, the organisations involved, the declaration.
function renderDescription(d) {
  const box = el("div");
  box.append(el("p", d.intent, "intent"), el("p", d.summary, "summary"));
  const dl = el("dl");
  for (const f of d.fields || []) {
    dl.append(el("dt", f.label), el("dd", f.signed === false ? `${f.value} (looked up, not signed)` : f.value));
  }
  if (d.validUntil && !(d.fields || []).some((f) => /valid until/i.test(f.label))) dl.append(el("dt", "Valid until"), el("dd", d.validUntil));
  box.append(dl);
  if ((d.organisations || []).length) {
    box.append(el("h3", "Organisations"));
    const ul = el("ul", null, "organisations");
    for (const o of d.organisations) {
      const name = o.name ? `${o.name}${o.site ? ", " + o.site : ""}` : `unregistered wallet ${o.wallet}`;
      ul.append(el("li", `${o.role}: ${name}`));
    }
    box.append(ul);
  }
  if (d.declaration) box.append(el("p", d.declaration, "declaration"));
  for (const w of d.warnings || []) box.append(el("p", "Warning: " + w, "warning"));
  return box;
}

function confirmSigning(description, by) {
  const dialog = $("#confirm");
  $("#confirm-body").replaceChildren(renderDescription(description), Object.assign(document.createElement("p"), {
    textContent: by, className: "by" }));
  dialog.returnValue = "";
  dialog.showModal();
  $("#confirm-cancel").focus();
  return new Promise((resolve) => dialog.addEventListener("close", () => resolve(dialog.returnValue === "sign"), { once: true }));
}

// ------------------------------------------------------------------ one action, end to end
// The wallet must be on the chain the typed data names (wallets refuse to sign for another): ask it to switch.
async function ensureChain(chainId) {
  const want = "0x" + Number(chainId).toString(16);
  const have = String(await window.ethereum.request({ method: "eth_chainId" })).toLowerCase();
  if (have === want) return;
  try {
    await window.ethereum.request({ method: "wallet_switchEthereumChain", params: [{ chainId: want }] });
  } catch (e) {
    throw Object.assign(new Error(`your wallet is on chain ${parseInt(have, 16)}; switch it to this ledger's chain ` +
      `${Number(chainId)} (${e.message})`), { answer: {} });
  }
}

async function waitIndexed(answer) {
  let block = answer.blockNumber;
  const until = Date.now() + 60000;
  while (block == null && answer.txHash && Date.now() < until) {
    const st = await api("GET", `/transactions/${answer.txHash}`);
    if (st.status === "reverted") throw Object.assign(new Error((st.error && st.error.message) || "reverted"), { answer: st.error || {} });
    block = st.blockNumber;
    if (block == null) await new Promise((r) => setTimeout(r, 500));
  }
  while (Date.now() < until) {
    const st = await api("GET", "/provenance/status");
    if ((st.last_indexed_block ?? -1) >= block) return block;
    await new Promise((r) => setTimeout(r, 300));
  }
  return block;
}

export async function runAction({ action, flow, body, out, next }) {
  const s = session();
  $("#flash").textContent = "";
  out.className = "outcome";
  if (!s) { out.textContent = "Sign in first (Sign in page): with your browser wallet or an API key."; return; }
  const prepBody = flow === "transfer" ? { ...body, from: s.address } : flow === "settle" ? body : { ...body, signer: s.address };
  out.textContent = "Checking with the node…";
  let prep;
  try { prep = await api("POST", `/${action}/prepare`, prepBody); }
  catch (e) { out.textContent = `Refused by the node, nothing signed: ${refusal(e)}`; out.classList.add("refused"); return; }
  let description;
  try { description = await api("POST", "/typed-data/describe", prep); }
  catch (e) { out.textContent = `Not signed: the node could not describe what you would sign (${refusal(e)}).`; out.classList.add("refused"); return; }
  const by = s.mode === "wallet" ? `Signed by your wallet ${s.address}.` : `Signed by the key this node holds for ${s.address}.`;
  if (!(await confirmSigning(description, by))) { out.textContent = "Cancelled: nothing was signed."; return; }
  out.textContent = "Signing and sending…";
  let answer;
  try {
    if (s.mode === "wallet") {
      await ensureChain(prep.typedData.domain.chainId);
      const signature = await window.ethereum.request({ method: "eth_signTypedData_v4",
        params: [s.address, JSON.stringify(prep.typedData)] });
      const submit = flow === "settle" ? { typedData: prep.typedData, signature, transfer: prep.transfer }
        : { typedData: prep.typedData, signature };
      answer = await api("POST", `/${action}/submit`, submit);
    } else {
      answer = await api("POST", `/${action}`, flow === "transfer" ? prepBody : body, { [s.header]: s.key });
    }
    if (answer.status === "reverted") throw Object.assign(new Error((answer.error && answer.error.message) || "reverted"), { answer: answer.error || {} });
    const block = await waitIndexed(answer);
    sessionStorage.setItem(FLASH, `Recorded: ${description.summary} (block ${block}).`);
  } catch (e) { out.textContent = `Not recorded: ${refusal(e)}`; out.classList.add("refused"); return; }
  const result = answer.result || {};
  location.assign(next ? next.replace(/\{(\w+)\}/g, (_, k) => encodeURIComponent(result[k])) : location.href);
}

// ------------------------------------------------------------------ wiring the page
async function connectWallet(status) {
  if (!window.ethereum) { status.textContent = "No browser wallet found. Install one, or sign in with an API key below."; return; }
  try {
    const [address] = await window.ethereum.request({ method: "eth_requestAccounts" });
    setSession({ mode: "wallet", address });
    location.assign("/app/");
  } catch (e) { status.textContent = `The wallet did not connect: ${e.message}`; }
}

function wire() {
  const flash = sessionStorage.getItem(FLASH);
  if (flash) { $("#flash").textContent = flash; sessionStorage.removeItem(FLASH); }
  for (const form of document.querySelectorAll("form[data-action]")) {
    syncUnits(form);
    form.addEventListener("change", (ev) => {
      syncUnits(form);
      const share = form.elements.namedItem("share");
      if (ev.target.hasAttribute("data-sets-share") && share) {
        share.value = ["segregated", "identity preserved"].includes(ev.target.value) ? "100" : "0";
      }
    });
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const out = $(".outcome", form);
      let body;
      try { body = collect(form); } catch (e) { out.textContent = e.message; out.className = "outcome refused"; return; }
      runAction({ action: form.dataset.action, flow: form.dataset.flow, body, out, next: form.dataset.next });
    });
  }
  for (const b of document.querySelectorAll("button[data-settle]")) {
    b.addEventListener("click", () => {
      let out = b.parentElement.querySelector(".outcome");
      if (!out) { out = Object.assign(document.createElement("div"), { className: "outcome", role: "alert" }); b.parentElement.append(out); }
      runAction({ action: `batches/${b.dataset.settle}`, flow: "settle", body: { transferId: b.dataset.transfer }, out });
    });
  }
  const connect = $("#connect");
  if (connect) connect.addEventListener("click", () => connectWallet($("#key-login .outcome")));
  const login = $("#key-login");
  if (login) login.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const header = $("#key-kind").value;
    const key = $("#api-key").value;
    try {
      const me = await api("GET", "/app/whoami", undefined, { [header]: key });
      setSession({ mode: "key", header, key, address: me.address });
      location.assign("/app/");
    } catch (e) { $(".outcome", login).textContent = `Not signed in: ${refusal(e)}`; }
  });
  const out = $("#signout");
  if (out) out.addEventListener("click", () => { setSession(null); location.assign("/app/"); });
}

wire();
