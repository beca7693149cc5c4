// dmdt-stream's web page: plain JavaScript over the API's JSON routes (no build step, no
// library, nothing fetched from outside). Views: an object of the stream, a pasted or
// uploaded light curve, the latest classifications, the model cards.
"use strict";

const $ = (selector) => document.querySelector(selector);
const MAX_PNG_CURVES = 4; // the API draws PNG images for at most this many curves a request
const JD_OFFSET = 2400000.5;
const COLUMNS = {
  time: ["mjd", "time", "t", "hjd", "bjd", "jd"],
  mag: ["mag", "magnitude"],
  err: ["err", "magerr", "mag_err", "e_mag", "sigma"],
  band: ["band", "filter", "passband", "fid"],
};

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === "text") node.textContent = value;
    else node.setAttribute(name, value);
  }
  node.append(...children);
  return node;
}

function say(text, error = false) {
  const status = $("#status");
  status.textContent = text;
  status.className = error ? "error" : "";
}

async function api(path, options = {}) {
  const headers = { ...(options.headers || {}) };
  const key = $("#api-key").value;
  if (key) headers["X-API-Key"] = key;
  const response = await fetch(path, { ...options, headers });
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    let detail = body && body.detail;
    if (Array.isArray(detail)) detail = detail.map((p) => `${p.loc.join(".")}: ${p.msg}`).join("; ");
    const error = new Error(`${response.status}: ${detail || response.statusText}`);
    error.status = response.status;
    throw error;
  }
  return body;
}

// ---- pictures ---------------------------------------------------------------------------

function lightCurve(points, title) {
  const width = 420, height = 220, pad = 36;
  const svgNS = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(svgNS, "svg");
  svg.setAttribute("class", "curve");
  svg.setAttribute("width", width);
  svg.setAttribute("height", height);
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", `${title}: ${points.t.length} points, magnitude against MJD`);
  const [t0, t1] = [Math.min(...points.t), Math.max(...points.t)];
  const [m0, m1] = [Math.min(...points.mag), Math.max(...points.mag)];
  const x = (t) => pad + ((t - t0) / (t1 - t0 || 1)) * (width - 2 * pad);
  const y = (m) => pad / 2 + ((m - m0) / (m1 - m0 || 1)) * (height - 1.5 * pad); // brighter up
  points.t.forEach((t, i) => {
    const dot = document.createElementNS(svgNS, "circle");
    dot.setAttribute("cx", x(t).toFixed(1));
    dot.setAttribute("cy", y(points.mag[i]).toFixed(1));
    dot.setAttribute("r", "2");
    const tip = document.createElementNS(svgNS, "title");
    tip.textContent = `MJD ${t.toFixed(4)}, mag ${points.mag[i].toFixed(3)}`;
    dot.append(tip);
    svg.append(dot);
  });
  const labels = [
    [pad, height - 6, `MJD ${t0.toFixed(1)}`, "start"],
    [width - pad, height - 6, `${t1.toFixed(1)}`, "end"],
    [4, pad / 2 + 4, m0.toFixed(2), "start"],
    [4, height - pad, m1.toFixed(2), "start"],
  ];
  for (const [lx, ly, text, anchor] of labels) {
    const label = document.createElementNS(svgNS, "text");
    label.setAttribute("x", lx);
    label.setAttribute("y", ly);
    label.setAttribute("text-anchor", anchor);
    label.textContent = text;
    svg.append(label);
  }
  return element("figure", {}, svg, element("figcaption", { text: title }));
}

function picture(base64, caption) {
  const image = element("img", { src: `data:image/png;base64,${base64}`, alt: caption });
  return element("figure", {}, image, element("figcaption", { text: caption }));
}

function images(set, band) {
  const figures = [picture(set.image, `dm-dt image, band ${band}`)];
  for (const [name, png] of Object.entries(set.subtracted)) {
    const which = name === "survey" && set.survey_background
      ? `its survey's background (${set.survey_background})`
      : `the ${name} background`;
    figures.push(picture(png, `band ${band} minus ${which}`));
  }
  return figures;
}

function verdict(result) {
  const label = element("div", {
    class: result.unknown ? "label unknown" : "label",
    text: result.unknown ? `${result.label}? (unknown)` : result.label,
  });
  const about = element("div", {},
    label,
    element("div", { text: `confidence ${result.confidence.toFixed(3)}, ${result.n_points} points` }),
    element("div", { text: `${result.model} ${result.model_version}` }));
  const bars = element("div", { class: "bars", role: "table", "aria-label": "class probabilities" });
  const sorted = Object.entries(result.probabilities).sort((a, b) => b[1] - a[1]);
  for (const [name, p] of sorted) {
    const bar = element("div", { class: "bar" });
    bar.style.width = `${(100 * p).toFixed(1)}%`; // CSSOM: allowed by the page's policy
    bars.append(
      element("span", { role: "cell", text: name }),
      element("div", { role: "cell" }, bar),
      element("span", { role: "cell", text: p.toFixed(3) }));
  }
  return element("div", { class: "verdict" }, about, bars);
}

function table(caption, header, rows) {
  const head = element("tr", {}, ...header.map((h) => element("th", { scope: "col", text: h })));
  const body = rows.map((row) => element("tr", {}, ...row.map((c) => element("td", { text: c }))));
  return element("table", {}, element("caption", { text: caption }),
    element("thead", {}, head), element("tbody", {}, ...body));
}

// ---- views ------------------------------------------------------------------------------

async function lookUp(objectId) {
  const view = $("#object-view");
  view.replaceChildren();
  say(`Looking up ${objectId}...`);
  const id = encodeURIComponent(objectId);
  try {
    const state = await api(`/objects/${id}?images=true&image_format=png&points=true`);
    const history = await api(`/objects/${id}/history`);
    view.append(element("h3", { text: state.object_id }));
    const perBand = Object.entries(state.points_per_band).map(([b, n]) => `${b}: ${n}`);
    view.append(element("p", { text: `points per band: ${perBand.join(", ")}; ` +
      `data version ${state.data_version}` }));
    if (state.result) {
      view.append(element("p", { text: `scored band ${state.result.band}, ` +
        `${new Date(state.result.scored_at * 1000).toISOString()}` }));
      view.append(verdict(state.result));
    } else {
      view.append(element("p", { text: "not classified yet (too few points in every band)" }));
    }
    for (const band of Object.keys(state.points_per_band)) {
      const figures = [lightCurve(state.points[band], `light curve, band ${band}`)];
      figures.push(...images(state.images[band], band));
      view.append(element("div", { class: "band" },
        element("h4", { text: `band ${band}` }), element("div", { class: "figures" }, ...figures)));
    }
    view.append(table("Classification history, newest first",
      ["scored at", "band", "points", "label", "p", "model"],
      history.map((r) => [new Date(r.scored_at * 1000).toISOString(), r.band, r.n_points,
        r.unknown ? `${r.label}?` : r.label, r.confidence.toFixed(3),
        `${r.model} ${r.model_version}`])));
    say(`${state.object_id}: ${history.length} classifications`);
  } catch (error) {
    say(error.status === 404 ? `${objectId}: not in the stream` : String(error.message), true);
  }
}

function parseCsv(text) {
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
  if (lines.length < 2) throw new Error("a header line and at least one row are needed");
  const split = (line) => line.split(/[,;\t]/).map((c) => c.trim().replace(/^"|"$/g, ""));
  const header = split(lines[0]).map((h) => h.toLowerCase());
  const find = (names) => names.map((n) => header.indexOf(n)).find((i) => i >= 0);
  const at = Object.fromEntries(Object.entries(COLUMNS).map(([k, names]) => [k, find(names)]));
  if (at.time === undefined) throw new Error(`no time column (one of ${COLUMNS.time.join(", ")})`);
  if (at.mag === undefined) throw new Error(`no magnitude column (${COLUMNS.mag.join(", ")})`);
  const julian = header[at.time] === "jd";
  const curves = new Map();
  lines.slice(1).forEach((line, k) => {
    const cells = split(line);
    const t = Number(cells[at.time]) - (julian ? JD_OFFSET : 0);
    const mag = Number(cells[at.mag]);
    if (!Number.isFinite(t) || !Number.isFinite(mag)) {
      throw new Error(`line ${k + 2}: time and magnitude must be numbers`);
    }
    const band = at.band === undefined ? "single" : cells[at.band] || "single";
    if (!curves.has(band)) curves.set(band, { t: [], mag: [], err: [], band });
    const curve = curves.get(band);
    curve.t.push(t);
    curve.mag.push(mag);
    if (at.err !== undefined) curve.err.push(Number(cells[at.err]));
  });
  return [...curves.values()].map((c) => (c.err.length ? c : { t: c.t, mag: c.mag, band: c.band }));
}

async function classify(text) {
  const view = $("#classify-view");
  view.replaceChildren();
  try {
    let curves = parseCsv(text);
    curves.sort((a, b) => b.t.length - a.t.length);
    if (curves.length > MAX_PNG_CURVES) {
      say(`${curves.length} bands: classifying the ${MAX_PNG_CURVES} with most points`);
      curves = curves.slice(0, MAX_PNG_CURVES);
    } else {
      say(`Classifying ${curves.length} band(s)...`);
    }
    const model = $("#curve-model").value || null;
    const answer = await api("/classify/batch", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ curves, model, images: true, image_format: "png" }),
    });
    answer.items.forEach((item) => {
      const curve = curves[item.index];
      const block = element("div", { class: "band" }, element("h4", { text: `band ${curve.band}` }));
      if (item.error) {
        block.append(element("p", { class: "unknown", text: item.error }));
      } else {
        block.append(verdict(item.classification));
        block.append(element("div", { class: "figures" },
          lightCurve(curve, `light curve, band ${curve.band}`),
          ...images(item.classification.images, curve.band)));
      }
      view.append(block);
    });
    say(`Classified ${answer.items.filter((i) => !i.error).length} of ${curves.length} band(s)`);
  } catch (error) {
    say(String(error.message), true);
  }
}

let liveTimer = null;

async function refreshLive() {
  try {
    const results = await api("/results/latest?limit=50");
    $("#live-table tbody").replaceChildren(...results.map((r) => element("tr", {},
      ...[r.object_id, r.band, r.n_points, r.unknown ? `${r.label}?` : r.label,
        r.confidence.toFixed(2), (r.scored_at - r.alert_time).toFixed(3),
        `${r.model} ${r.model_version}`].map((c) => element("td", { text: c })))));
    say(`${results.length} objects, refreshed ${new Date().toLocaleTimeString()}`);
  } catch (error) {
    say(String(error.message), true);
  }
}

async function showModels() {
  try {
    const models = await api("/models");
    const view = $("#models-view");
    view.replaceChildren();
    for (const summary of models) {
      const card = await api(`/models/${encodeURIComponent(summary.name)}`);
      const test = (card.metrics && card.metrics.test) || {};
      const facts = [
        ["version", card.version], ["architecture", card.architecture],
        ["classes", card.classes.join(", ")], ["grid", summary.grid],
        ["minimum points", card.min_points],
        ["trained on", (card.training_data && card.training_data.survey) || "?"],
        ["test macro-F1", test.macro_f1 !== undefined ? test.macro_f1.toFixed(3) : "?"],
        ["unknown below", card.unknown_threshold.toFixed(3)],
      ];
      const details = element("details", {}, element("summary", { text: "the whole card (JSON)" }),
        element("pre", { text: JSON.stringify(card, null, 1) }));
      view.append(element("div", { class: "band" }, element("h3", { text: card.name }),
        table(`${card.name}: what it is`, ["", ""], facts), details));
    }
    say(`${models.length} models`);
    $("#curve-model").replaceChildren(...models.map((m) =>
      element("option", { value: m.name, text: `${m.name} ${m.version}` })));
  } catch (error) {
    say(String(error.message), true);
  }
}

function show(view) {
  for (const section of document.querySelectorAll("main section")) {
    section.hidden = section.id !== view;
  }
  for (const link of document.querySelectorAll("nav a")) {
    if (link.dataset.view === view) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  clearInterval(liveTimer);
  if (view === "live") {
    refreshLive();
    liveTimer = setInterval(refreshLive, 2000);
  }
  if (view === "models") showModels();
}

function route() {
  const [view, argument] = decodeURIComponent(location.hash.slice(1)).split("/");
  const known = ["object", "classify", "live", "models"];
  show(known.includes(view) ? view : "object");
  if (view === "object" && argument) {
    $("#object-id").value = argument;
    lookUp(argument);
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("#api-key").value = sessionStorage.getItem("dmdt-api-key") || "";
  $("#api-key").addEventListener("change", (e) => {
    sessionStorage.setItem("dmdt-api-key", e.target.value);
  });
  $("#key-form").addEventListener("submit", (e) => e.preventDefault());
  $("#object-form").addEventListener("submit", (e) => {
    e.preventDefault();
    location.hash = `object/${encodeURIComponent($("#object-id").value.trim())}`;
  });
  $("#curve-file").addEventListener("change", async (e) => {
    const file = e.target.files[0];
    if (file) $("#curve-text").value = await file.text();
  });
  $("#classify-form").addEventListener("submit", (e) => {
    e.preventDefault();
    classify($("#curve-text").value);
  });
  window.addEventListener("hashchange", route);
  showModels().then(route);
});
