// zoo playground: the page. The server trains (zoo's MLP, task, optimizer and data, see session.py);
// this page sends the settings, which are zoo options by their command-line names, and draws the
// snapshots it gets back. Plain JavaScript, no build step, nothing loaded from elsewhere.
"use strict";

const TOKEN = new URLSearchParams(location.search).get("token") || "";
const $ = (id) => document.getElementById(id);

// The controls of this page, each a zoo option; their values are read back from the recipe the
// server resolves, so the URL holds every control's value (and any other option it was given).
const UI = [
  "data.name", "data.n_samples", "data.noise", "data.test_split", "data.val_split", "data.batch_size",
  "data.split_seed", "data.features", "model.hidden", "model.activation", "model.leaky_slope",
  "model.noise_std", "model.batch_norm", "model.dropout", "model.weight_init", "model.bias_init",
  "model.l1", "model.l2", "optimizer.name", "optimizer.lr", "optimizer.momentum", "optimizer.nesterov",
  "task.loss", "seed_everything",
];
const CHOICES = {  // values offered where zoo takes any number; a value from a link or recipe is added
  "optimizer.lr": [0.00001, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10],
  "model.l1": [0, 0.00001, 0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03, 0.1],
  "model.l2": [0, 0.00001, 0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03, 0.1],
  "optimizer.momentum": [0, 0.5, 0.9, 0.95, 0.99],
  "model.dropout": [0, 0.1, 0.2, 0.3, 0.5],
  "model.leaky_slope": [0.01, 0.1, 0.2, 0.3],
  "model.noise_std": [null, 0.1, 0.3, 1],
  "data.n_samples": [100, 200, 500, 1000, 2000],
  "data.val_split": [0.01, 0.05, 0.1, 0.2, 0.3],
  "speed": [1, 2, 5, 10, 20],
};
const LABELS = { "model.noise_std": { null: "sqrt(sigmoid(x)) (paper)" } };
const NEG = [245, 147, 34], POS = [8, 119, 189], MID = [240, 240, 240];

// What tests and the benchmark read: frames drawn, snapshots received, latencies from a change to
// the first frame that reflects it.
const pg = (window.pg = {
  frames: 0, snapshots: 0, epoch: 0, trainLoss: NaN, testLoss: NaN, trainAcc: NaN, testAcc: NaN,
  playing: false, applied: -1, latencies: [], errors: [], fatal: null, connected: false, copied: null,
  fps: 0, states: 0, lr: null, drawnEpochs: [],
});

let ws = null, seq = 0, hello = null, current = null, latest = null, shown = null;
let settings = {};
const view = { "view.epochs_per_frame": 1, "view.test": false, "view.discretize": false };
const sent = new Map();
let curve = [], layout = null, frameTimes = [];

// --- values as zoo's command line writes them (the URL keeps them so) -----------------------------
function cliValue(v) {
  if (v === null) return "null";
  if (Array.isArray(v)) return "[" + v.map(cliValue).join(",") + "]";
  return String(v);
}
function parseCli(text) {
  const t = text.trim();
  if (t === "true" || t === "false") return t === "true";
  if (t === "null") return null;
  if (t.startsWith("[") && t.endsWith("]")) {
    const inner = t.slice(1, -1).trim();
    return inner === "" ? [] : inner.split(",").map(parseCli);
  }
  if (/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(t)) return Number(t);
  return t;
}
function readHash() {
  if (location.hash.length < 2) return null;
  const out = {};
  for (const part of location.hash.slice(1).split("&")) {
    const at = part.indexOf("=");
    if (at > 0) out[decodeURIComponent(part.slice(0, at))] = parseCli(decodeURIComponent(part.slice(at + 1)));
  }
  return out;
}
function writeHash() {
  const enc = (s) => encodeURIComponent(s).replace(/%5B/g, "[").replace(/%5D/g, "]").replace(/%2C/g, ",");
  const parts = Object.keys(settings).sort().map((k) => `${enc(k)}=${enc(cliValue(settings[k]))}`);
  for (const k of Object.keys(view)) parts.push(`${k}=${cliValue(view[k])}`);
  history.replaceState(null, "", location.pathname + location.search + "#" + parts.join("&"));
}

// --- the connection ----------------------------------------------------------------------------
function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  ws = new WebSocket(`${scheme}://${location.host}/ws?token=${encodeURIComponent(TOKEN)}`);
  ws.binaryType = "arraybuffer";
  ws.onopen = () => { pg.connected = true; };
  ws.onclose = () => {
    pg.connected = false;
    showError(pg.fatal || "Disconnected from zoo.playground (the server stopped, or this URL's token is not its token).", true);
    for (const id of ["play", "step", "reset"]) $(id).disabled = true;
  };
  ws.onmessage = onMessage;
}
function send(type, fields = {}) {
  if (!ws || ws.readyState !== WebSocket.OPEN) return;
  seq += 1;
  sent.set(seq, { type, t: performance.now() });
  ws.send(JSON.stringify({ type, seq, ...fields }));
}
function change(key, value) {
  if (value === undefined) delete settings[key];
  else settings[key] = value;
  writeHash();
  send("settings", { settings });
}

function onMessage(event) {
  if (typeof event.data !== "string") {
    const snap = decode(event.data);
    pg.snapshots += 1;
    addToCurve(snap.head);
    latest = snap;
    return;
  }
  const m = JSON.parse(event.data);
  if (m.type === "hello") onHello(m);
  else if (m.type === "state") onState(m);
  else if (m.type === "applied") { settings = m.settings; showSettings(); writeHash(); }
  else if (m.type === "status") { pg.playing = m.playing; $("play").innerHTML = m.playing ? "&#10074;&#10074; pause" : "&#9654; play"; }
  else if (m.type === "error") onError(m);
  else if (m.type === "recipe") showRecipe(m);
}

function onHello(m) {
  hello = m;
  fillChoices();
  const linked = readHash();
  settings = { ...m.settings };
  if (linked) {
    settings = {};
    for (const [k, v] of Object.entries(linked)) {
      if (k in view) view[k] = v;
      else settings[k] = v;
    }
  }
  send("settings", { settings });
  if (view["view.epochs_per_frame"] !== 1) send("speed", { epochs_per_frame: view["view.epochs_per_frame"] });
}

function onState(m) {
  current = m;
  latest = null;  // a frame of the previous network must not be drawn on this one
  pg.states += 1;
  // Every control's value from the resolved recipe; options the recipe lacks (momentum for Adam) go.
  settings = { ...m.settings };
  for (const key of UI) {
    const [section, name] = key.includes(".") ? key.split(".") : [null, key];
    const value = section ? m.recipe[section][name] : m.recipe[key];
    if (value === undefined) delete settings[key];
    else settings[key] = value;
  }
  showSettings();
  writeHash();
  curve = [];
  buildNetwork();
  $("info").textContent = `${m.steps_per_epoch} steps an epoch, ${m.points.train.length} training and ` +
    `${m.points.test.length} test points, on ${m.device}`;
}

function onError(m) {
  if (m.fatal) pg.fatal = m.message;
  showError(m.message, !!m.fatal);
  if (m.applied != null) for (const k of [...sent.keys()]) if (k <= m.applied) sent.delete(k);
  if (m.settings) { settings = m.settings; showSettings(); writeHash(); }
}
let errorTimer = null;
function showError(text, sticky = false) {
  pg.errors.push(text);
  $("error").textContent = text;
  $("error").hidden = false;
  clearTimeout(errorTimer);
  if (!sticky) errorTimer = setTimeout(() => { $("error").hidden = true; }, 10000);
}

// --- snapshots -----------------------------------------------------------------------------------
// A uint32 header length, the JSON header (padded to 4 bytes), float32 weights, the decision surface
// (grid x grid bytes), then each hidden neuron's picture (neuron_grid^2 bytes): see session.snapshot.
function decode(buffer) {
  const n = new DataView(buffer).getUint32(0, true);
  const head = JSON.parse(new TextDecoder().decode(new Uint8Array(buffer, 4, n)));
  let offset = 4 + n;
  const w = head.widths;
  let count = 0;
  for (let i = 0; i + 1 < w.length; i++) count += w[i] * w[i + 1];
  const weights = new Float32Array(buffer, offset, count);
  offset += 4 * count;
  const surface = new Uint8Array(buffer, offset, head.grid * head.grid);
  offset += head.grid * head.grid;
  const cells = head.neuron_grid * head.neuron_grid;
  const neurons = new Uint8Array(buffer, offset, head.scales.length * cells);
  return { head, weights, surface, neurons };
}

function addToCurve(head) {
  const point = { epoch: head.epoch + head.step * 0, train: head.train_loss, test: head.test_loss };
  if (curve.length && curve[curve.length - 1].epoch === point.epoch) curve[curve.length - 1] = point;
  else curve.push(point);
  if (curve.length > 4000) curve = curve.filter((_, i) => i % 2 === 0);  // a long run keeps its shape
}

function animate(now) {
  if (latest && current && layout) {
    const snap = latest;
    latest = null;
    if (draw(snap)) {
      pg.frames += 1;
      pg.drawnEpochs.push(snap.head.epoch);
      if (pg.drawnEpochs.length > 4000) pg.drawnEpochs.splice(0, 2000);
      frameTimes.push(now);
      while (frameTimes.length && frameTimes[0] < now - 1000) frameTimes.shift();
      pg.fps = frameTimes.length;
      $("rate").textContent = pg.playing ? `${pg.fps} frames a second` : "";
      measure(snap.head.applied, performance.now());
    }
  }
  requestAnimationFrame(animate);
}
function measure(applied, now) {
  if (applied == null) return;
  pg.applied = applied;
  for (const [k, v] of [...sent.entries()]) {
    if (k > applied) continue;
    pg.latencies.push({ seq: k, type: v.type, ms: now - v.t });
    sent.delete(k);
  }
  if (pg.latencies.length > 1000) pg.latencies.splice(0, 500);
}

// Colours: a value in [-1, 1] (byte 0..255) from orange through light grey to blue.
function palette(strength) {
  const lut = new Uint8ClampedArray(256 * 4);
  for (let q = 0; q < 256; q++) {
    const v = q / 127.5 - 1, end = v < 0 ? NEG : POS, a = Math.min(1, Math.abs(v)) * strength;
    for (let c = 0; c < 3; c++) lut[4 * q + c] = MID[c] + (end[c] - MID[c]) * a;
    lut[4 * q + 3] = 255;
  }
  return lut;
}
const STRONG = palette(1), SOFT = palette(0.75);
function paint(canvas, bytes, size, lut, discretize = false) {
  const ctx = canvas.getContext("2d"), image = ctx.createImageData(size, size);
  for (let i = 0; i < size * size; i++) {
    let q = bytes[i];
    if (discretize) q = q >= 128 ? 255 : 0;
    image.data.set(lut.subarray(4 * q, 4 * q + 4), 4 * i);
  }
  ctx.putImageData(image, 0, 0);
}

function draw(snap) {
  const h = snap.head;
  const expected = layout.widths;
  if (h.widths.length !== expected.length || h.widths.some((w, i) => w !== expected[i])) return false;
  shown = snap;
  pg.epoch = h.epoch;
  pg.trainLoss = h.train_loss; pg.testLoss = h.test_loss; pg.trainAcc = h.train_acc; pg.testAcc = h.test_acc;
  pg.lr = h.lr;
  $("epoch").textContent = h.epoch.toLocaleString("en").padStart(6, "0");
  $("train-loss").textContent = h.train_loss.toFixed(3);
  $("test-loss").textContent = h.test_loss.toFixed(3);
  $("train-acc").textContent = h.train_acc.toFixed(3);
  $("test-acc").textContent = h.test_acc.toFixed(3);
  drawSurface(snap);
  const cells = h.neuron_grid * h.neuron_grid;
  layout.hidden.forEach((canvas, k) => paint(canvas, snap.neurons.subarray(k * cells, (k + 1) * cells), h.neuron_grid, STRONG));
  paint(layout.outputCanvas, snap.surface, h.grid, STRONG, view["view.discretize"]);
  drawLinks(snap);
  drawCurve();
  return true;
}

const offscreen = document.createElement("canvas");
function drawSurface(snap) {
  const g = snap.head.grid, canvas = $("surface"), ctx = canvas.getContext("2d");
  offscreen.width = offscreen.height = g;
  paint(offscreen, snap.surface, g, SOFT, view["view.discretize"]);
  ctx.imageSmoothingEnabled = !view["view.discretize"];
  ctx.drawImage(offscreen, 0, 0, canvas.width, canvas.height);
  const half = current.extent, scale = canvas.width / (2 * half);
  const dot = (p, ring) => {
    ctx.beginPath();
    ctx.arc((p[0] + half) * scale, (half - p[1]) * scale, 3, 0, 2 * Math.PI);
    ctx.fillStyle = p[2] === 1 ? "rgb(8,119,189)" : "rgb(245,147,34)";
    ctx.fill();
    ctx.lineWidth = 1;
    ctx.strokeStyle = ring;
    ctx.stroke();
  };
  for (const p of current.points.train) dot(p, "#fff");
  if (view["view.test"]) for (const p of current.points.test) dot(p, "#000");
}

function drawCurve() {
  const canvas = $("curve"), ctx = canvas.getContext("2d"), W = canvas.width, H = canvas.height;
  ctx.clearRect(0, 0, W, H);
  if (curve.length < 2) return;
  const finite = curve.flatMap((p) => [p.train, p.test]).filter(Number.isFinite);
  const top = Math.max(1e-6, ...finite), last = Math.max(1, curve[curve.length - 1].epoch);
  for (const [key, colour] of [["train", "#999"], ["test", "#000"]]) {
    ctx.beginPath();
    curve.forEach((p, i) => {
      const x = (p.epoch / last) * (W - 2) + 1, y = H - 2 - (Math.min(p[key], top) / top) * (H - 4);
      if (i === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
    });
    ctx.strokeStyle = colour;
    ctx.lineWidth = 1.2;
    ctx.stroke();
  }
}

// --- the network: feature column, hidden layers, output ----------------------------------------------
function nodeCanvas(size, px) {
  const c = document.createElement("canvas");
  c.width = c.height = size;
  c.style.width = c.style.height = `${px}px`;
  return c;
}

function buildNetwork() {
  const m = current, hidden = m.recipe.model.hidden, limits = hello.limits;
  const columns = $("columns");
  columns.textContent = "";
  const biggest = Math.max(7, ...hidden);
  const px = Math.max(14, Math.min(36, Math.floor(330 / biggest) - 6));
  layout = { widths: [m.features.length, ...hidden, 1], positions: [], hidden: [], outputCanvas: null, px };

  const features = column("Features", null);
  const inputs = [], maps = Uint8Array.from(atob(m.inputs.maps), (c) => c.charCodeAt(0));
  hello.choices["data.features"].forEach((name) => {
    const on = m.features.indexOf(name);
    const node = document.createElement("div");
    node.className = "node feature" + (on < 0 ? " off" : "");
    node.title = on < 0 ? `use ${name}` : `stop using ${name}`;
    const label = document.createElement("span");
    label.textContent = name.replace("_squared", "²").replace("x1_x2", "x1·x2").replace("sin_x", "sin x");
    const canvas = nodeCanvas(m.inputs.grid, px);
    const k = hello.choices["data.features"].indexOf(name), cells = m.inputs.grid * m.inputs.grid;
    paint(canvas, maps.subarray(k * cells, (k + 1) * cells), m.inputs.grid, STRONG);
    node.append(label, canvas);
    node.onclick = () => {
      const names = hello.choices["data.features"];
      const chosen = new Set(settings["data.features"] || m.features);
      if (chosen.has(name)) chosen.delete(name); else chosen.add(name);
      change("data.features", names.filter((n) => chosen.has(n)));
    };
    features.nodes.append(node);
    if (on >= 0) inputs[on] = canvas;
  });
  layout.columns = [inputs];

  hidden.forEach((width, layer) => {
    const col = column(`${width} neuron${width === 1 ? "" : "s"}`, layer);
    const canvases = [];
    for (let j = 0; j < width; j++) {
      const node = document.createElement("div");
      node.className = "node";
      const canvas = nodeCanvas(m.inputs.grid, px);
      node.title = `layer ${layer + 1}, neuron ${j + 1}: ${m.recipe.model.activation}` +
        (m.recipe.model.batch_norm ? " after batch norm" : "");
      node.append(canvas);
      col.nodes.append(node);
      canvases.push(canvas);
      layout.hidden.push(canvas);
    }
    layout.columns.push(canvases);
    const add = col.head.querySelector(".add"), remove = col.head.querySelector(".remove");
    add.disabled = width >= limits.neurons;
    remove.disabled = width <= 1;
    add.onclick = () => change("model.hidden", hidden.map((w, i) => (i === layer ? w + 1 : w)));
    remove.onclick = () => change("model.hidden", hidden.map((w, i) => (i === layer ? w - 1 : w)));
  });

  const out = column("Output", null);
  const node = document.createElement("div");
  node.className = "node";
  node.title = "the output: class 1's logit against class 0's, as P(class 1) over the plane";
  layout.outputCanvas = nodeCanvas(80, px + 8);
  node.append(layout.outputCanvas);
  out.nodes.append(node);
  layout.columns.push([layout.outputCanvas]);

  $("layer-count").textContent = hidden.length;
  $("add-layer").disabled = hidden.length >= limits.layers;
  $("remove-layer").disabled = hidden.length === 0;
  requestAnimationFrame(placeLinks);
}

function column(title, layer) {
  const col = document.createElement("div");
  col.className = "column";
  const head = document.createElement("div");
  head.className = "head";
  if (layer !== null) {
    const add = document.createElement("button"), remove = document.createElement("button");
    add.className = "add"; add.textContent = "+"; add.title = "one more neuron";
    remove.className = "remove"; remove.innerHTML = "&minus;"; remove.title = "one neuron less";
    head.append(add, " ", remove, document.createElement("br"));
  }
  head.append(title);
  const nodes = document.createElement("div");
  nodes.className = "nodes";
  nodes.style.gap = `${layout.px < 20 ? 2 : 6}px`;  // tall layers pack closer
  col.append(head, nodes);
  $("columns").append(col);
  return { head, nodes };
}

// Where each node's picture sits in the network panel, for the lines (after layout, and on resize).
function placeLinks() {
  if (!layout) return;
  const box = $("network").getBoundingClientRect(), canvas = $("links");
  canvas.width = box.width;
  canvas.height = box.height;
  layout.positions = layout.columns.map((col) => col.map((c) => {
    const r = c.getBoundingClientRect();
    return { left: r.left - box.left, right: r.right - box.left, y: r.top - box.top + r.height / 2 };
  }));
  if (shown) drawLinks(shown);
}
window.addEventListener("resize", placeLinks);

function drawLinks(snap) {
  const canvas = $("links"), ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  if (!layout.positions.length) return;
  const w = snap.head.widths;
  let offset = 0;
  for (let l = 0; l + 1 < w.length; l++) {
    const from = layout.positions[l], to = layout.positions[l + 1];
    for (let j = 0; j < w[l + 1]; j++) {
      for (let i = 0; i < w[l]; i++) {
        const weight = snap.weights[offset + j * w[l] + i];
        if (!from[i] || !to[j] || !Number.isFinite(weight)) continue;
        ctx.beginPath();
        ctx.moveTo(from[i].right, from[i].y);
        ctx.lineTo(to[j].left, to[j].y);
        ctx.strokeStyle = weight >= 0 ? "rgba(8,119,189,0.75)" : "rgba(245,147,34,0.75)";
        ctx.lineWidth = Math.max(0.4, Math.min(6, Math.abs(weight) * 2));
        ctx.stroke();
      }
    }
    offset += w[l] * w[l + 1];
  }
}

// --- controls ------------------------------------------------------------------------------------
function optionValue(v) { return JSON.stringify(v); }
function labelOf(key, v) {
  const named = LABELS[key];
  if (named && String(v) in named) return named[String(v)];
  return Array.isArray(v) ? cliValue(v) : String(v);
}
function setOptions(select, key, values) {
  select.textContent = "";
  for (const v of values) {
    const o = document.createElement("option");
    o.value = optionValue(v);
    o.textContent = labelOf(key, v);
    select.append(o);
  }
}
function setSelect(select, key, value) {
  const wanted = optionValue(value);
  if (![...select.options].some((o) => o.value === wanted)) {
    const o = document.createElement("option");
    o.value = wanted;
    o.textContent = labelOf(key, value);
    select.append(o);
  }
  select.value = wanted;
}

function fillChoices() {
  for (const key of ["model.activation", "model.weight_init", "model.bias_init", "optimizer.name", "task.loss"]) {
    setOptions($(key), key, hello.choices[key]);
  }
  for (const key of Object.keys(CHOICES)) setOptions($(key), key, CHOICES[key]);
  const datasets = $("datasets");
  datasets.textContent = "";
  for (const name of hello.choices["data.name"]) {
    const b = document.createElement("button");
    b.textContent = name;
    b.dataset.name = name;
    b.onclick = () => change("data.name", name);
    datasets.append(b);
  }
}

function showSettings() {
  for (const key of UI) {
    const el = $(key);
    if (!el || !(key in settings)) continue;
    if (el.tagName === "SELECT") setSelect(el, key, settings[key]);
    else if (el.type === "checkbox") el.checked = !!settings[key];
    else el.value = settings[key];
  }
  for (const b of $("datasets").children) b.classList.toggle("active", b.dataset.name === settings["data.name"]);
  const ratio = Math.round(100 * (1 - settings["data.test_split"]));
  $("ratio").value = ratio; $("ratio-value").textContent = `${ratio}%`;
  const noise = Math.round(100 * settings["data.noise"]);
  $("noise").value = noise; $("noise-value").textContent = noise;
  $("batch").value = settings["data.batch_size"]; $("batch-value").textContent = settings["data.batch_size"];
  $("split-seed").textContent = settings["data.split_seed"];
  const takes = (hello && hello.optimizer_options[settings["optimizer.name"]]) || [];
  for (const [cls, opt] of [["opt-momentum", "momentum"], ["opt-nesterov", "nesterov"]]) {
    document.querySelector("." + cls).hidden = !takes.includes(opt);
  }
  document.querySelector(".opt-leaky").hidden = settings["model.activation"] !== "leaky_relu";
  document.querySelector(".opt-noisy").hidden = settings["model.activation"] !== "noisy_relu";
  setSelect($("speed"), "speed", view["view.epochs_per_frame"]);
  $("show-test").checked = view["view.test"];
  $("discretize").checked = view["view.discretize"];
}

function wire() {
  for (const key of UI) {
    const el = $(key);
    if (!el) continue;
    if (el.tagName === "SELECT") el.onchange = () => change(key, JSON.parse(el.value));
    else if (el.type === "checkbox") el.onchange = () => change(key, el.checked);
    else el.onchange = () => change(key, el.value.trim() === "" || isNaN(Number(el.value)) ? el.value : Number(el.value));
  }
  $("optimizer.name").onchange = () => {  // keep only what the new optimizer takes (momentum is SGD's and RMSprop's)
    const name = JSON.parse($("optimizer.name").value), takes = hello.optimizer_options[name] || [];
    for (const k of Object.keys(settings)) if (k.startsWith("optimizer.") && !takes.includes(k.slice(10))) delete settings[k];
    change("optimizer.name", name);
  };
  const slider = (id, label, show, key, value) => {
    $(id).oninput = () => { $(label).textContent = show($(id).value); };
    $(id).onchange = () => change(key, value(Number($(id).value)));
  };
  slider("ratio", "ratio-value", (v) => `${v}%`, "data.test_split", (v) => Math.round(100 - v) / 100);
  slider("noise", "noise-value", (v) => v, "data.noise", (v) => v / 100);
  slider("batch", "batch-value", (v) => v, "data.batch_size", (v) => v);
  $("regenerate").onclick = () => change("data.split_seed", (settings["data.split_seed"] || 0) + 1);
  $("add-layer").onclick = () => change("model.hidden", [...(settings["model.hidden"] || []), 2]);
  $("remove-layer").onclick = () => change("model.hidden", (settings["model.hidden"] || []).slice(0, -1));
  $("play").onclick = () => send(pg.playing ? "pause" : "play");
  $("step").onclick = () => send("step");
  $("reset").onclick = () => { curve = []; send("reset"); };
  $("speed").onchange = () => {
    view["view.epochs_per_frame"] = JSON.parse($("speed").value);
    writeHash();
    send("speed", { epochs_per_frame: view["view.epochs_per_frame"] });
  };
  for (const [id, key] of [["show-test", "view.test"], ["discretize", "view.discretize"]]) {
    $(id).onchange = () => { view[key] = $(id).checked; writeHash(); if (shown) draw(shown); };
  }
  $("show-recipe").onclick = () => send("recipe");
  $("close-recipe").onclick = () => $("recipe-dialog").close();
  $("copy-command").onclick = () => copy($("command").textContent, "copy-command");
  $("copy-yaml").onclick = () => copy($("yaml").textContent, "copy-yaml");
}

function showRecipe(m) {
  $("command").textContent = m.command;
  $("yaml").textContent = m.yaml;
  if (!$("recipe-dialog").open) $("recipe-dialog").showModal();
}
function copy(text, button) {
  const done = () => { pg.copied = text; $(button).textContent = "Copied"; setTimeout(() => { $(button).textContent = button === "copy-yaml" ? "Copy recipe" : "Copy command"; }, 1500); };
  if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(text).then(done, () => fallbackCopy(text, done));
  else fallbackCopy(text, done);
}
function fallbackCopy(text, done) {  // a page served to another machine over plain http has no clipboard API
  const area = document.createElement("textarea");
  area.value = text;
  document.body.append(area);
  area.select();
  document.execCommand("copy");
  area.remove();
  done();
}

wire();
connect();
requestAnimationFrame(animate);
