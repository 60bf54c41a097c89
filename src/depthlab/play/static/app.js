// depthlab play: the page. Vanilla JS, no build step; charts by uPlot (vendored), heat maps on plain canvas.
// The server streams one JSON update per recorded step (Server-Sent Events); this page keeps the newest per
// job and paints on the next animation frame, so a slow paint never queues work (updates coalesce).
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const SIDES = ["A", "B"];
  const COLORS = { A: "#4cc9f0", B: "#f8961e" };
  const BLOCK_KEYS = ["heads", "norm_position", "branch_scale", "attention", "mlp"]; // the transformer's
  const MODEL_KEYS = ["depth", "width", "activation", "init", "norm", "residual", "dropout", ...BLOCK_KEYS];
  const TOY_KEYS = ["noise", "train_fraction"];
  const TRAIN_KEYS = ["optimizer", "lr", "batch_size", "warmup", "seed"];
  const MODEL_SELECTS = ["norm", "norm_position", "branch_scale"]; // their values depend on the model
  const KEYS = ["model", "data", ...TOY_KEYS, ...MODEL_KEYS, ...TRAIN_KEYS];
  const LABELS = {
    circle: "circle (2-D)", xor2d: "xor (2-D)", gauss: "two Gaussians (2-D)", spiral2d: "spiral (2-D)",
    mnist1d: "MNIST-1D", digits: "digits 8×8", user: "your data",
    mlp: "MLP", cnn1d: "CNN-1D (MNIST-1D)", resnet_cifar: "ResNet (images)",
    plain_cifar: "plain twin of ResNet (images)", parnet_lite: "ParNet-lite (images)",
    transformer: "Transformer", recall: "recall (sequences)", bit_parity: "bit parity (sequences)",
    brackets: "balanced brackets (sequences)", mod_add: "a + b mod p (sequences)", chars: "characters (text)",
    pre: "pre-norm", post: "post-norm", deepnorm: "DeepNorm", depth: "1/√(2·depth)",
  };
  const IMAGE_MODELS = ["resnet_cifar", "plain_cifar", "parnet_lite"];
  const FLOOR = 1e-20; // a log axis has no zero: gradients that underflowed are drawn here
  const HEAT_COLUMNS = 240;

  let OPT = null;
  const jobs = { A: null, B: null }; // job ids
  const sources = {};
  const latest = { A: null, B: null };
  const painted = { A: -1, B: -1 };
  let hist = { A: newHistory(), B: newHistory() };
  const perf = { paints: [], latencies: [], painted: 0, paintMs: [], bytes: 0 };
  let playing = false, frameQueued = false, charts = {};

  function newHistory() {
    return { loss: [[], [], []], acc: [[], [], []], heat: [], first: null, layers: null, mStep: -1, lStep: -1,
      bStep: -1, verdicts: "", boundary: null, status: "idle", reason: "" };
  }

  // ---- controls ---------------------------------------------------------------------------------------------
  function fill(select, values) {
    select.innerHTML = "";
    for (const v of values) {
      const o = document.createElement("option");
      o.value = v; o.textContent = LABELS[v] || v;
      if (v === "user" && OPT.user_data) o.textContent = `your data: ${OPT.user_data}`;
      select.appendChild(o);
    }
  }
  const fmtLr = (v) => Number(Math.pow(10, v).toPrecision(2)).toString();

  function readSettings() {
    const model = $("c-model").value, data = $("c-data").value;
    const accepted = OPT.models[model] || [];
    const s = { model, data };
    if (OPT.toys.includes(data)) for (const k of TOY_KEYS) s[k] = $("c-" + k).value;
    for (const k of MODEL_KEYS) {
      if (!accepted.includes(k)) continue;
      const el = $("c-" + k);
      s[k] = el.type === "checkbox" ? String(el.checked) : el.value;
    }
    s.optimizer = $("c-optimizer").value;
    s.lr = fmtLr(Number($("c-lr").value));
    s.batch_size = $("c-batch_size").value;
    if (Number($("c-warmup").value) > 0) s.warmup = $("c-warmup").value; // 0 is the default: left out
    s.seed = $("c-seed").value;
    return s;
  }

  function setControl(key, value) {
    const el = $("c-" + key);
    if (!el) return;
    if (el.type === "checkbox") el.checked = String(value) === "true";
    else if (key === "lr") el.value = Math.log10(Number(value));
    else if (el.tagName === "SELECT" && ![...el.options].some((o) => o.value === String(value))) {
      const o = document.createElement("option"); o.value = o.textContent = String(value); el.appendChild(o);
      el.value = String(value);
    } else el.value = value;
    if (key === "depth" || key === "width") $("n-" + key).value = value;
  }

  function twinOverrides() {
    const out = {};
    for (const pair of $("c-twin").value.trim().split(/\s+/)) {
      const i = pair.indexOf("=");
      if (i > 0) out[pair.slice(0, i)] = pair.slice(i + 1);
    }
    return out;
  }
  const comparing = () => $("c-compare").checked && Object.keys(twinOverrides()).length > 0;

  function settingsFor(side) {
    const a = readSettings();
    return side === "A" ? a : { ...a, ...twinOverrides() };
  }

  function refreshControls() {
    const model = $("c-model").value, data = $("c-data").value;
    const accepted = OPT.models[model] || [];
    for (const k of MODEL_KEYS) {
      const el = $("c-" + k), on = accepted.includes(k);
      el.disabled = !on; el.closest("label").classList.toggle("disabled", !on);
      if (k === "depth" || k === "width") $("n-" + k).disabled = !on;
    }
    for (const k of TOY_KEYS) $("c-" + k).closest("label").hidden = !OPT.toys.includes(data);
    $("fs-transformer").hidden = !accepted.includes("heads");
    $("v-noise").textContent = $("c-noise").value;
    $("v-train_fraction").textContent = Math.round(100 * $("c-train_fraction").value) + "%";
    $("v-dropout").textContent = $("c-dropout").value;
    $("v-lr").textContent = fmtLr(Number($("c-lr").value));
    $("n-depth").value = $("c-depth").value; $("n-width").value = $("c-width").value;
  }

  // a select whose values depend on the model (a transformer's norm is LayerNorm or RMSNorm, an MLP's is not)
  function fillModelChoices(model) {
    const own = OPT.model_choices[model] || {};
    for (const k of MODEL_SELECTS) {
      const el = $("c-" + k), values = own[k] || (k === "norm" ? OPT.norms : []);
      if ([...el.options].map((o) => o.value).join() !== values.join()) fill(el, values);
    }
  }

  function applyModelDefaults(model) {
    fillModelChoices(model);
    const d = OPT.model_defaults[model] || {};
    for (const [k, v] of Object.entries(d)) if (KEYS.includes(k)) setControl(k, v);
  }

  function compatible(model, data) {
    if (OPT.sequences.includes(data)) return model === "transformer"; // token ids need an embedding
    if (model === "mlp" || model === "transformer") return true;
    if (model === "cnn1d") return data === "mnist1d";
    return data === "digits" || data === "user";
  }

  // ---- URL state: #model=mlp&depth=30&activation=sigmoid&data=mnist1d&b.residual=true&play=1 ----------------
  function writeHash() {
    const p = new URLSearchParams(readSettings());
    if ($("c-compare").checked) for (const [k, v] of Object.entries(twinOverrides())) p.set("b." + k, v);
    if (playing) p.set("play", "1");
    history.replaceState(null, "", location.pathname + "#" + p.toString());
  }

  function readHash() {
    const p = new URLSearchParams(location.hash.slice(1));
    const twin = [];
    if (p.has("model")) { setControl("model", p.get("model")); applyModelDefaults(p.get("model")); }
    for (const [k, v] of p) {
      if (k.startsWith("b.")) twin.push(`${k.slice(2)}=${v}`);
      else if (k !== "model" && k !== "play") setControl(k, v);
    }
    if (twin.length) { $("c-compare").checked = true; $("c-twin").value = twin.join(" "); }
    return p.get("play") === "1";
  }

  // ---- talking to the server ----------------------------------------------------------------------------------
  async function api(method, path, body) {
    const r = await fetch(path, {
      method, headers: body ? { "content-type": "application/json" } : {},
      body: body ? JSON.stringify(body) : undefined, credentials: "same-origin",
    });
    const text = await r.text();
    let value = null;
    try { value = JSON.parse(text); } catch (e) { value = text; }
    if (!r.ok) throw new Error((value && value.error) || `${r.status} ${r.statusText}`);
    return value;
  }

  function showError(message) {
    const el = $("error");
    el.hidden = !message; el.textContent = message || "";
  }

  // Answers can arrive out of order (the start-up check and a quick edit are both in flight): only the
  // latest check may show or clear the message.
  let validation = 0;
  async function validate() {
    const mine = ++validation;
    const latestOnly = (ok, message) => { if (mine === validation) showError(message); return ok; };
    try {
      const sides = comparing() ? SIDES : ["A"];
      const answers = [];
      for (const side of sides) {
        const answer = await api("POST", "/api/validate", { settings: settingsFor(side) });
        if (answer.error) throw new Error(sides.length > 1 ? `${side}: ${answer.error}` : answer.error);
        answers.push(answer);
      }
      if (mine === validation) $("command").textContent = answers.map((a) => a.command).join("\n");
      return latestOnly(true, "");
    } catch (err) { return latestOnly(false, err.message); }
  }

  async function start(paused) {
    await stopAll();
    if (!(await validate())) return false;
    hist = { A: newHistory(), B: newHistory() };
    clearViews();
    try {
      for (const side of comparing() ? SIDES : ["A"]) {
        const info = await api("POST", "/api/jobs", { settings: settingsFor(side), paused });
        jobs[side] = info.id; hist[side].points = info.points; hist[side].sequence = info.sequence;
        connect(side, info.id);
      }
    } catch (err) { showError(err.message); await stopAll(); return false; }
    offerBlocks(readSettings().model); paintSequence();
    playing = !paused; updateButtons(); exportsFor(jobs.A); writeHash();
    return true;
  }

  function connect(side, id) {
    const es = new EventSource(`/api/jobs/${id}/events`);
    sources[side] = es;
    es.onmessage = (e) => {
      latest[side] = JSON.parse(e.data); perf.bytes = e.data.length;
      if (!["running", "paused", "starting"].includes(latest[side].status)) es.close(); // the last one
      if (!frameQueued) { frameQueued = true; requestAnimationFrame(paint); }
    };
    es.onerror = () => {
      const m = latest[side];
      if (m && !["running", "paused", "starting"].includes(m.status)) es.close();
    };
  }

  async function stopAll() {
    for (const side of SIDES) {
      if (sources[side]) { sources[side].close(); delete sources[side]; }
      if (jobs[side]) { const id = jobs[side]; jobs[side] = null; api("DELETE", `/api/jobs/${id}`).catch(() => {}); }
      latest[side] = null; painted[side] = -1;
    }
    playing = false; updateButtons();
  }

  async function control(action) {
    for (const side of SIDES) if (jobs[side]) await api("POST", `/api/jobs/${jobs[side]}/control`, { action });
  }

  function exportsFor(id) {
    for (const [el, what] of [["x-csv", "watch.csv"], ["x-weights", "weights.safetensors"]]) {
      if (id) $(el).href = `/api/jobs/${id}/${what}`; else $(el).removeAttribute("href");
    }
  }

  // ---- buttons ----------------------------------------------------------------------------------------------------
  function updateButtons() { $("btn-play").textContent = playing ? "❚❚ Pause" : "▶ Play"; }

  async function onPlay() {
    if (!jobs.A) { await start(false); return; }
    if (latest.A && !["running", "paused", "starting"].includes(latest.A.status)) { await start(false); return; }
    playing = !playing; updateButtons(); writeHash();
    await control(playing ? "play" : "pause");
  }
  async function onStep() {
    if (!jobs.A && !(await start(true))) return;
    playing = false; updateButtons();
    await control("step");
  }
  async function onReset() { await stopAll(); hist = { A: newHistory(), B: newHistory() }; clearViews(); writeHash(); }

  let restartTimer = null;
  function onChange() {
    refreshControls(); writeHash();
    clearTimeout(restartTimer);
    restartTimer = setTimeout(async () => {
      if (jobs.A) await start(!playing); else await validate();
    }, 150);
  }

  // ---- charts -----------------------------------------------------------------------------------------------------
  // log axes: one tick per decade, or per 2, 5, 10 decades when the range is wide
  function decades(u, axisIdx, min, max) {
    const lo = Math.floor(Math.log10(min)), hi = Math.ceil(Math.log10(max));
    const stride = [1, 2, 5, 10, 20].find((k) => (hi - lo) / k <= 7) || 50;
    const out = [];
    for (let e = Math.ceil(lo / stride) * stride; e <= hi; e += stride) out.push(Number("1e" + e)); // exact
    return out;
  }
  const expLabel = (v) => (v == null ? "" : "1e" + Math.round(Math.log10(v)));
  const WHOLE = [1, 2, 5].flatMap((m) => [1, 10, 100, 1e3, 1e4, 1e5].map((p) => m * p)).sort((a, b) => a - b);
  const axis = (label, log, whole) => ({
    label, stroke: "#8693ab", size: 50, labelSize: 16, font: "11px system-ui", labelFont: "11px system-ui",
    grid: { stroke: "rgba(255,255,255,0.07)", width: 1 }, ticks: { stroke: "rgba(255,255,255,0.12)", width: 1 },
    splits: log ? decades : undefined, incrs: whole ? WHOLE : undefined, // layers and steps are whole numbers
    values: log ? (u, vals) => vals.map(expLabel) : undefined,
  });
  const line = (label, color, dash, width = 2) => ({
    label, stroke: color, width, dash, spanGaps: true, points: { show: false },
    value: (u, v) => (v == null ? "–" : Math.abs(v) < 1e-2 || Math.abs(v) >= 1e4 ? v.toExponential(2) : v.toFixed(3)),
  });

  function makeChart(el, xLabel, yLabel, log, series, height, range) {
    const y = log ? { distr: 3, log: 10 } : range ? { auto: false, range } : { auto: true };
    const opts = {
      width: Math.max(200, $(el).clientWidth), height, legend: { show: true, live: false },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: false }, y },
      axes: [axis(xLabel, false, true), axis(yLabel, log)],
      series: [{ label: xLabel }, ...series],
    };
    return new uPlot(opts, [[], ...series.map(() => [])], $(el));
  }

  function buildCharts() {
    const both = (name, dash) => SIDES.map((s) => line(`${s} ${name}`, COLORS[s], dash));
    charts.grad = makeChart("chart-grad", "layer (input → output)", "gradient", true, [
      line("A now", COLORS.A), line("B now", COLORS.B),
      line("A at start", "rgba(76,201,240,0.45)", [4, 4], 1.5), line("B at start", "rgba(248,150,30,0.45)", [4, 4], 1.5),
    ], 340);
    charts.loss = makeChart("chart-loss", "step", "loss", true,
      [line("A train", COLORS.A), line("A test", COLORS.A, [5, 4]), line("B train", COLORS.B), line("B test", COLORS.B, [5, 4])], 190);
    charts.acc = makeChart("chart-acc", "step", "accuracy", false,
      [line("A train", COLORS.A), line("A test", COLORS.A, [5, 4]), line("B train", COLORS.B), line("B test", COLORS.B, [5, 4]),
        line("chance", "rgba(227,233,245,0.5)", [2, 4], 1.5)], 190, [0, 1]);
    charts.acc.setSeries(5, { show: false }); // drawn for the sequence tasks, whose chance level is known
    charts.act = makeChart("chart-act", "layer", "std", false, both("act std"), 190);
    charts.dead = makeChart("chart-dead", "layer", "fraction", false, [
      line("A dead", COLORS.A), line("A saturated", COLORS.A, [5, 4]),
      line("B dead", COLORS.B), line("B saturated", COLORS.B, [5, 4])], 190, [0, 1]);
    charts.upd = makeChart("chart-upd", "layer", "‖ΔW‖/‖W‖", true, both("update ratio"), 190);
  }

  // B's series show only in compare mode
  function showSides() {
    const b = comparing();
    for (const c of Object.values(charts)) c.series.forEach((s, i) => {
      if (i > 0 && s.label.startsWith("B ") && s.show !== b) c.setSeries(i, { show: b });
    });
  }

  function resizeCharts() {
    for (const [name, c] of Object.entries(charts)) {
      const el = c.root.parentElement;
      c.setSize({ width: Math.max(200, el.clientWidth), height: name === "grad" ? 340 : 190 });
    }
  }

  // columns of per-layer values for A and B on one x axis (layer 1..n); null where a side has no such layer.
  // `pick` reads another table out of a layers view (its blocks).
  function layerTable(column, floor, pick = (layers) => layers) {
    const rows = (s) => { const t = pick(hist[s].layers); return t ? t[column].length : 0; };
    const n = Math.max(0, ...SIDES.map(rows));
    const xs = Array.from({ length: n }, (_, i) => i + 1);
    const col = (raw) => xs.map((_, i) => {
      const layers = pick(raw);
      const v = layers && layers[column] ? layers[column][i] : null;
      return v == null ? null : floor ? Math.max(v, FLOOR) : v;
    });
    return { xs, col };
  }

  const blocksOf = (layers) => (layers ? layers.blocks : null);
  const byBlock = () => $("c-measure").value === "block";

  function paintLayerCharts() {
    const { xs, col } = byBlock() ? layerTable("grad_rms", true, blocksOf) : layerTable($("c-measure").value, true);
    const grad = (s) => col(hist[s].layers), first = (s) => col(hist[s].first);
    charts.grad.setData([xs, grad("A"), grad("B"), first("A"), first("B")]);
    const t = layerTable("act_std", false);
    charts.act.setData([t.xs, t.col(hist.A.layers), t.col(hist.B.layers)]);
    const d = layerTable("dead_frac", false), s = layerTable("saturated_frac", false);
    charts.dead.setData([d.xs, d.col(hist.A.layers), s.col(hist.A.layers), d.col(hist.B.layers), s.col(hist.B.layers)]);
    const u = layerTable("update_ratio", true);
    charts.upd.setData([u.xs, u.col(hist.A.layers), u.col(hist.B.layers)]);
  }

  function paintCurves() {
    const tables = (key) => SIDES.map((s) => hist[s][key]);
    const joined = (key) => {
      const [a, b] = tables(key);
      if (!b[0].length) return [a[0], a[1], a[2], a[0].map(() => null), a[0].map(() => null)];
      return uPlot.join([a, b]);
    };
    charts.loss.setData(joined("loss"));
    const acc = joined("acc"), chance = hist.A.sequence ? hist.A.sequence.chance : null;
    charts.acc.setData([...acc, acc[0].map(() => chance)]);
    if (charts.acc.series[5].show !== (chance != null)) charts.acc.setSeries(5, { show: chance != null });
  }

  // ---- the gradient per block (transformers): offered, and picked, when the model has such blocks --------------
  function offerBlocks(model) {
    const on = OPT.block_models.includes(model), el = $("c-measure");
    const option = el.querySelector('option[value="block"]');
    if (on && option.hidden) el.value = "block"; // a model whose per-layer line zigzags with layer shapes
    if (!on && el.value === "block") el.value = "grad_norm";
    option.hidden = !on;
    labelGradAxis();
  }

  function labelGradAxis() {
    const unit = byBlock() ? "block" : "layer";
    $("grad-unit").textContent = unit;
    if (!charts.grad) return;
    charts.grad.axes[0].label = `${unit} (input → output)`; // uPlot draws axis labels on its canvas
    charts.grad.redraw(false);
  }

  // ---- heat map: layer x update, log10 gradient norm -----------------------------------------------------------
  const STOPS = [[13, 8, 135], [126, 3, 168], [204, 71, 120], [248, 149, 64], [240, 249, 33]]; // plasma
  function colour(t) {
    t = Math.min(1, Math.max(0, t)) * (STOPS.length - 1);
    const i = Math.min(STOPS.length - 2, Math.floor(t)), f = t - i;
    return STOPS[i].map((c, k) => Math.round(c + f * (STOPS[i + 1][k] - c)));
  }

  function heatRange() {
    let lo = Infinity, hi = -Infinity;
    for (const s of SIDES) for (const column of hist[s].heat) for (const v of column) {
      if (v == null) continue; if (v < lo) lo = v; if (v > hi) hi = v;
    }
    return lo < hi ? [lo, hi] : [lo - 1, lo + 1];
  }

  function heatCanvas(side) {
    let c = document.querySelector(`#heatmaps canvas[data-side="${side}"]`);
    if (!c) {
      const box = document.createElement("div"); box.className = "hm";
      box.innerHTML = `<div class="label legend-${side.toLowerCase()}"></div>`;
      c = document.createElement("canvas"); c.dataset.side = side; box.appendChild(c);
      $("heatmaps").appendChild(box);
    }
    return c;
  }

  function paintHeat() {
    const [lo, hi] = heatRange();
    for (const side of SIDES) {
      const columns = hist[side].heat;
      if (!columns.length) continue;
      const c = heatCanvas(side), rows = columns[columns.length - 1].length;
      const width = columns.length; // the columns so far fill the width (the last HEAT_COLUMNS once full)
      c.width = width; c.height = Math.max(1, rows);
      const ctx = c.getContext("2d"), img = ctx.createImageData(width, rows);
      columns.forEach((column, x) => column.forEach((v, y) => {
        const [r, g, b] = v == null ? [20, 24, 36] : colour((v - lo) / (hi - lo));
        const p = 4 * (y * width + x);
        img.data[p] = r; img.data[p + 1] = g; img.data[p + 2] = b; img.data[p + 3] = 255;
      }));
      ctx.putImageData(img, 0, 0);
      const label = c.parentElement.querySelector(".label");
      label.textContent = `${comparing() ? side + ": " : ""}log₁₀‖∂L/∂W‖ from ${lo.toFixed(1)} (dark) to ${hi.toFixed(1)} (bright)`;
    }
  }

  // ---- decision boundary and per-unit maps ----------------------------------------------------------------------
  const ORANGE = [248, 150, 30], BLUE = [76, 201, 240], MID = [24, 30, 46];
  function mix(p) { // p in [0, 1]: class 0 orange, class 1 blue, undecided dark
    const [a, t] = p < 0.5 ? [ORANGE, 1 - 2 * p] : [BLUE, 2 * p - 1];
    return MID.map((m, k) => Math.round(m + t * 0.85 * (a[k] - m)));
  }

  function paintBoundary(side) {
    const b = hist[side].boundary;
    if (!b) return;
    $("card-boundary").hidden = false;
    let box = document.querySelector(`#boards .board[data-side="${side}"]`);
    if (!box) {
      box = document.createElement("div"); box.className = "board"; box.dataset.side = side;
      box.innerHTML = `<canvas width="240" height="240"></canvas><div class="label"></div>`;
      $("boards").appendChild(box);
    }
    const small = document.createElement("canvas"); small.width = small.height = b.n;
    const sctx = small.getContext("2d"), img = sctx.createImageData(b.n, b.n);
    b.p.forEach((p, i) => { const [r, g, bl] = mix(p); img.data.set([r, g, bl, 255], 4 * i); });
    sctx.putImageData(img, 0, 0);
    const c = box.querySelector("canvas"), ctx = c.getContext("2d");
    ctx.imageSmoothingEnabled = true; ctx.drawImage(small, 0, 0, 240, 240);
    const pts = hist[side].points;
    const toPx = (v) => ((v + b.extent) / (2 * b.extent)) * 240;
    if (pts) for (const [kind, filled] of [["train", true], ["test", false]]) for (const [x, y, label] of pts[kind]) {
      ctx.beginPath(); ctx.arc(toPx(x), 240 - toPx(y), 2.6, 0, 2 * Math.PI);
      const col = label ? "#4cc9f0" : "#f8961e";
      if (filled) { ctx.fillStyle = col; ctx.fill(); ctx.strokeStyle = "#0d111b"; ctx.lineWidth = 0.8; ctx.stroke(); }
      else { ctx.strokeStyle = col; ctx.lineWidth = 1.2; ctx.stroke(); }
    }
    box.querySelector(".label").textContent = `${comparing() ? side + " · " : ""}step ${b.step}`;
    paintUnits(side, b.units);
  }

  function paintUnits(side, layers) {
    if (side !== "A") return;
    $("card-units").hidden = !layers || !layers.length;
    if (!layers || !layers.length) return;
    const root = $("units");
    root.innerHTML = "";
    layers.forEach((units) => {
      const col = document.createElement("div"); col.className = "unit-layer";
      for (const values of units) {
        const c = document.createElement("canvas"), n = Math.round(Math.sqrt(values.length));
        c.width = c.height = n;
        const ctx = c.getContext("2d"), img = ctx.createImageData(n, n);
        values.forEach((v, i) => { const [r, g, b] = mix((v + 1) / 2); img.data.set([r, g, b, 255], 4 * i); });
        ctx.putImageData(img, 0, 0); col.appendChild(c);
      }
      root.appendChild(col);
    });
  }

  // ---- sequence tasks: chance level and test examples, in place of the 2-D boundary -------------------------------
  const pct = (v) => `${(100 * v).toFixed(v < 0.1 ? 1 : 0)}%`;
  function paintSequence() {
    const q = hist.A.sequence;
    $("card-sequence").hidden = !q;
    if (!q) return;
    const what = q.task === "lm" ? `next character of ${q.length}, from ${q.classes} ids` : `${q.classes} classes from ${q.length} tokens`;
    $("sequence-about").textContent = `${LABELS[$("c-data").value] || $("c-data").value}: ${what}; chance ${pct(q.chance)} ` +
      "(the best guess that ignores the input: the dotted line on the accuracy chart)";
  }

  function paintExamples() {
    const root = $("sequence");
    root.innerHTML = "";
    for (const e of hist.A.examples) {
      const row = document.createElement("div");
      const lm = typeof e.right === "number";
      row.className = `example ${lm ? "" : e.right ? "right" : "wrong"}`;
      const text = document.createElement("code");
      const visible = (t) => t.replace(/\n/g, "⏎"); // a text's line breaks, kept visible on one line
      text.textContent = lm ? visible(e.tokens) : e.tokens.join(" ");
      const said = document.createElement("div"); said.className = "said";
      said.textContent = lm ? `next: ${visible(e.answer)}\nnet:  ${visible(e.said)}  (${pct(e.right)} right)`
        : `→ ${e.answer} · net says ${e.said} ${e.right ? "✓" : "✗"}`;
      row.append(text, said); root.appendChild(row);
    }
  }

  // ---- verdicts ---------------------------------------------------------------------------------------------------
  function paintVerdicts() {
    const root = $("verdicts");
    const sides = SIDES.filter((s) => hist[s].verdictList);
    if (!sides.length) return;
    root.innerHTML = "";
    for (const side of sides) {
      const box = document.createElement("div"); box.className = "side"; box.dataset.side = side;
      if (comparing()) { const h = document.createElement("h3"); h.className = `legend-${side.toLowerCase()}`; h.textContent = side === "A" ? "A" : `B (${$("c-twin").value})`; box.appendChild(h); }
      for (const v of hist[side].verdictList) {
        const div = document.createElement("div"); div.className = `verdict ${v.status}`; div.title = v.line;
        const space = v.line.indexOf(" ");
        const tag = document.createElement("span"); tag.className = "tag"; tag.textContent = v.line.slice(0, space);
        div.append(tag, document.createTextNode(v.line.slice(space)));
        const entries = Object.entries(v.remedy || {});
        if (entries.length) {
          const br = document.createElement("div");
          for (const [k, val] of entries) br.appendChild(remedyButton(side, { [k]: val }, `apply ${k}=${val}`));
          if (entries.length > 1) br.appendChild(remedyButton(side, v.remedy, "apply all"));
          div.appendChild(br);
        }
        box.appendChild(div);
      }
      root.appendChild(box);
    }
  }

  function remedyButton(side, overrides, text) {
    const b = document.createElement("button"); b.textContent = text;
    b.onclick = () => {
      if (side === "A") for (const [k, v] of Object.entries(overrides)) setControl(k, v);
      else $("c-twin").value = Object.entries({ ...twinOverrides(), ...overrides }).map(([k, v]) => `${k}=${v}`).join(" ");
      onChange();
    };
    return b;
  }

  // ---- one frame: fold in the newest update of each job, then paint --------------------------------------------
  function absorb(side, m) {
    const h = hist[side];
    h.status = m.status; h.reason = m.reason;
    if (m.layers && m.layers.step !== h.lStep) {
      h.lStep = m.layers.step; h.layers = m.layers; if (!h.first) h.first = m.layers;
      h.heat.push(m.layers.grad_norm.map((v) => (v == null || v <= 0 ? null : Math.log10(v))));
      if (h.heat.length > HEAT_COLUMNS) h.heat.shift();
    }
    if (m.metrics && m.metrics.step !== h.mStep) {
      h.mStep = m.metrics.step;
      h.loss[0].push(m.metrics.step); h.loss[1].push(m.metrics.train_loss); h.loss[2].push(m.metrics.test_loss);
      h.acc[0].push(m.metrics.step); h.acc[1].push(m.metrics.train_acc ?? null); h.acc[2].push(m.metrics.test_acc ?? null);
      if (m.metrics.examples) { h.examples = m.metrics.examples; h.newExamples = true; }
    }
    if (m.boundary && m.boundary.step !== h.bStep) { h.bStep = m.boundary.step; h.boundary = m.boundary; h.newBoundary = true; }
    const v = JSON.stringify(m.verdicts);
    if (m.verdicts && m.verdicts.length && v !== h.verdicts) { h.verdicts = v; h.verdictList = m.verdicts; h.newVerdicts = true; }
  }

  function paint() {
    frameQueued = false;
    const fresh = SIDES.filter((s) => latest[s] && latest[s].seq !== painted[s]);
    if (!fresh.length) return;
    const began = performance.now();
    for (const s of fresh) absorb(s, latest[s]);
    showSides(); paintLayerCharts(); paintCurves(); paintHeat();
    for (const s of fresh) if (hist[s].newBoundary) { hist[s].newBoundary = false; paintBoundary(s); }
    if (hist.A.newExamples) { hist.A.newExamples = false; paintExamples(); }
    if (fresh.some((s) => hist[s].newVerdicts)) { for (const s of SIDES) hist[s].newVerdicts = false; paintVerdicts(); }
    const now = Date.now();
    for (const s of fresh) {
      painted[s] = latest[s].seq;
      if (s === "A" && latest.A.status === "running") {
        perf.painted += 1; perf.paints.push(now); perf.latencies.push(now - latest.A.t);
        perf.paintMs.push(performance.now() - began);
        if (perf.latencies.length > 200) { perf.latencies.shift(); perf.paintMs.shift(); }
      }
    }
    paintStatus();
  }

  function median(xs) {
    if (!xs.length) return null;
    const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)];
  }

  function paintStatus() {
    const m = latest.A, now = Date.now();
    perf.paints = perf.paints.filter((t) => now - t < 2000);
    const state = m ? m.status : "idle";
    const pill = $("st-state"); pill.textContent = state; pill.className = `pill ${state}`;
    $("st-step").textContent = m ? m.step : 0;
    $("st-sps").textContent = m ? Math.round(m.steps_per_s) : 0;
    $("st-ups").textContent = (perf.paints.length / 2).toFixed(1);
    const lat = median(perf.latencies.slice(-20));
    $("st-lat").textContent = lat == null ? "–" : Math.round(lat);
    if (m && (m.status === "error" || m.status === "diverged")) showError(`${m.status}: ${m.reason}`);
    if (m && !["running", "paused", "starting"].includes(m.status) && playing) { playing = false; updateButtons(); }
  }

  function clearViews() {
    for (const id of ["heatmaps", "boards", "units", "sequence"]) $(id).innerHTML = "";
    $("card-boundary").hidden = true; $("card-units").hidden = true; $("card-sequence").hidden = true;
    $("verdicts").innerHTML = '<p class="muted">Press play: the verdicts appear after a few steps.</p>';
    perf.paints = []; perf.latencies = [];
    if (charts.grad) { paintLayerCharts(); paintCurves(); }
    paintStatus();
  }

  // ---- start-up ---------------------------------------------------------------------------------------------------
  async function init() {
    if (new URLSearchParams(location.search).has("token")) history.replaceState(null, "", location.pathname + location.hash);
    OPT = await api("GET", "/api/options");
    fill($("c-data"), Object.keys(OPT.data)); fill($("c-model"), Object.keys(OPT.models));
    fill($("c-activation"), OPT.activations); fill($("c-norm"), OPT.norms); fill($("c-init"), OPT.inits);
    fill($("c-optimizer"), OPT.optimizers);
    $("c-depth").max = 256; $("n-depth").max = OPT.caps.depth; $("n-width").max = OPT.caps.width;
    setControl("data", OPT.defaults.data); setControl("model", OPT.defaults.model);
    applyModelDefaults(OPT.defaults.model); setControl("lr", OPT.defaults.lr); setControl("optimizer", "adamw");
    const autoplay = readHash();
    refreshControls(); buildCharts();
    wire();
    writeHash(); await validate();
    if (autoplay) await start(false);
    window.addEventListener("resize", resizeCharts);
    setInterval(paintStatus, 500);
  }

  function wire() {
    for (const k of KEYS) {
      const el = $("c-" + k);
      el.addEventListener("input", refreshControls);
      el.addEventListener("change", () => {
        if (k === "model") applyModelDefaults(el.value);
        if (k === "data" && !compatible($("c-model").value, el.value)) {
          const keep = IMAGE_MODELS.includes($("c-model").value) && el.value === "digits";
          const model = OPT.sequences.includes(el.value) ? "transformer" : keep ? $("c-model").value : "mlp";
          setControl("model", model); applyModelDefaults(model);
        }
        onChange();
      });
    }
    for (const k of ["depth", "width"]) $("n-" + k).addEventListener("change", () => {
      const v = $("n-" + k).value;
      if (Number(v) > 256) { const o = $("c-" + k); o.max = Math.max(256, Number(v)); }
      $("c-" + k).value = v; onChange();
    });
    $("c-compare").addEventListener("change", onChange);
    $("c-measure").addEventListener("change", () => { labelGradAxis(); if (charts.grad) paintLayerCharts(); });
    $("c-twin").addEventListener("change", onChange);
    for (const b of document.querySelectorAll("[data-twin]")) b.addEventListener("click", () => {
      const a = readSettings(), kind = b.dataset.twin;
      const twin = {
        residual: { residual: String(a.residual !== "true") },
        activation: { activation: a.activation === "sigmoid" ? "relu" : "sigmoid" },
        init: { init: (a.init || "").startsWith("he") ? "xavier_uniform" : "he_normal" },
        norm: { norm: a.norm === "batch" ? "none" : "batch" },
        cure: { residual: "true", norm: "batch", init: "he_normal" },
      }[kind];
      $("c-twin").value = Object.entries(twin).map(([k, v]) => `${k}=${v}`).join(" ");
      $("c-compare").checked = true; onChange();
    });
    $("btn-play").addEventListener("click", onPlay);
    $("btn-step").addEventListener("click", onStep);
    $("btn-reset").addEventListener("click", onReset);
    $("x-copy").addEventListener("click", async () => {
      const text = $("command").textContent;
      try { await navigator.clipboard.writeText(text); $("x-copy").textContent = "copied"; }
      catch (e) { getSelection().selectAllChildren($("command")); $("x-copy").textContent = "selected: ctrl-c"; }
      setTimeout(() => { $("x-copy").textContent = "copy command"; }, 1500);
    });
    document.addEventListener("keydown", (e) => {
      if (e.code === "Space" && !["INPUT", "SELECT", "TEXTAREA"].includes(document.activeElement.tagName)) {
        e.preventDefault(); onPlay();
      }
    });
    window.addEventListener("pagehide", () => { for (const s of SIDES) if (sources[s]) sources[s].close(); });
  }

  window.depthlabPlay = {
    stats: () => ({ painted: perf.painted, latencies: [...perf.latencies], paintMs: [...perf.paintMs],
      bytes: perf.bytes, status: latest.A && latest.A.status,
      step: latest.A && latest.A.step, timing: latest.A && latest.A.timing }),
    gradient: () => ({ unit: byBlock() ? "block" : "layer", data: charts.grad.data.map((c) => [...c]) }),
    jobs,
  };
  init().catch((err) => showError(String(err)));
})();
