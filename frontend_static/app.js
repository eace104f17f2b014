// Wardwise map page. The deck (layers, view, tooltips) is described in Python with pydeck
// (GET /api/v1/map/deck.json) and turned into a deck.gl Deck by the vendored bundle's
// createDeck; this file only wires the controls to it. No eval, no inline script or style,
// no request leaves the origin (the MVT worker is served from /vendor).
"use strict";

(function main() {
  const KEY_STORAGE = "wardwise.apiKey";
  const state = {
    deck: null,
    spec: null,
    openapi: { paths: {} },
    layer: "wards",
    service: "",
    measure: "households",
    overlays: { roads: true, sites: true },
    domain: null,
    selected: null,
    baseLayers: {},
  };
  window.wardwise = state; // for the browser test and for debugging

  const $ = (id) => document.getElementById(id);

  // ------------------------------------------------------------------ fetch helpers

  function authHeaders() {
    const key = sessionStorage.getItem(KEY_STORAGE);
    return key ? { Authorization: `Bearer ${key}` } : {};
  }

  async function getJSON(url) {
    const response = await fetch(url, { headers: { Accept: "application/json", ...authHeaders() } });
    if (!response.ok) {
      let detail = `${response.status}`;
      try {
        detail = (await response.json()).detail || detail;
      } catch (_) {
        /* not JSON */
      }
      const error = new Error(typeof detail === "string" ? detail : JSON.stringify(detail));
      error.status = response.status;
      throw error;
    }
    return response.json();
  }

  function hasPath(path) {
    return Boolean(state.openapi.paths && state.openapi.paths[path]);
  }

  function status(message) {
    $("status").textContent = message || "";
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "text") node.textContent = v;
      else if (k === "className") node.className = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? "" : v);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  // ------------------------------------------------------------------ formatting

  function fmt(value, format) {
    if (value === null || value === undefined) return "–";
    if (typeof value === "string") return value; // suppressed counts ("<5") and classes
    if (format === "pct") return `${(value * 100).toFixed(1)}%`;
    if (format === "index") return `${Math.round(value * 100)}`;
    if (format === "int") return Math.round(value).toLocaleString("en-GB");
    return Number.isInteger(value) ? value.toLocaleString("en-GB") : value.toFixed(2);
  }

  function measureSpec(id) {
    return state.spec.measures.find((m) => m.id === id) || state.spec.measures[0];
  }

  // ------------------------------------------------------------------ colours

  function ramp(palette, t) {
    const stops = state.spec.palettes[palette] || state.spec.palettes.viridis;
    const x = Math.min(1, Math.max(0, t)) * (stops.length - 1);
    const i = Math.min(stops.length - 2, Math.floor(x));
    const f = x - i;
    return stops[i].map((c, k) => Math.round(c + (stops[i + 1][k] - c) * f));
  }

  function scaled(value) {
    const d = state.domain;
    if (!d || !Number.isFinite(value)) return null;
    if (state.measure === "ratio") {
      // Index: log scale centred on 1 (as expected), symmetric.
      const m = Math.max(Math.abs(Math.log(d[0] || 1)), Math.abs(Math.log(d[1] || 1)), 0.05);
      return 0.5 + Math.log(Math.max(value, 1e-6)) / (2 * m);
    }
    return d[1] > d[0] ? (value - d[0]) / (d[1] - d[0]) : 0.5;
  }

  const NO_DATA = [215, 215, 215, 120];

  function fillColor(feature) {
    const value = feature.properties ? feature.properties[state.measure] : undefined;
    const spec = measureSpec(state.measure);
    if (spec.palette === "classes") {
      const colour = state.spec.class_colours[value];
      return colour ? [...colour, 200] : NO_DATA;
    }
    const t = scaled(value);
    return t === null ? NO_DATA : [...ramp(spec.palette, t), 200];
  }

  // The colour domain grows with every tile that loads (and resets when the layer, service
  // or measure changes), so it never shrinks to one tile's values and every tile is
  // coloured on the same scale.
  function noteValues(features) {
    let changed = false;
    for (const f of features || []) {
      const v = f.properties && f.properties[state.measure];
      if (typeof v !== "number" || !Number.isFinite(v)) continue;
      if (!state.domain) {
        state.domain = [v, v];
        changed = true;
      } else if (v < state.domain[0]) {
        state.domain = [v, state.domain[1]];
        changed = true;
      } else if (v > state.domain[1]) {
        state.domain = [state.domain[0], v];
        changed = true;
      }
    }
    return changed;
  }

  function scheduleRender() {
    // Tile callbacks run inside deck's layer update, where setProps({layers}) is deferred
    // and then dropped: re-render on the next task instead, once per burst of tiles.
    if (state.pending) return;
    state.pending = true;
    setTimeout(() => {
      state.pending = false;
      render();
      renderLegend();
    }, 0);
  }

  function onTileLoad(tile) {
    if (!state.marks.tile) state.marks.tile = performance.now() - state.started;
    if (noteValues(tile.content)) scheduleRender();
  }

  function updateDomain(tiles) {
    const first = !state.firstTilesMs;
    if (first) state.firstTilesMs = performance.now() - state.started;
    let changed = false;
    for (const tile of tiles || []) changed = noteValues(tile.content) || changed;
    if (changed || first) scheduleRender();
  }

  function renderLegend() {
    const spec = measureSpec(state.measure);
    const box = $("legend");
    box.replaceChildren(el("h2", { text: spec.label }));
    const list = el("ul", { className: "legend-items" });
    if (spec.palette === "classes") {
      const names = { hot: "Hot spot (more than expected)", not: "Not spot (less than expected)", as_expected: "As expected" };
      for (const [k, c] of Object.entries(state.spec.class_colours)) {
        const sw = el("span", { className: "swatch", "aria-hidden": "true" });
        sw.style.backgroundColor = `rgb(${c.join(",")})`;
        list.append(el("li", {}, sw, names[k] || k));
      }
    } else if (state.domain) {
      const [lo, hi] = state.domain;
      for (let i = 0; i < 5; i += 1) {
        const t = i / 4;
        let v = lo + (hi - lo) * t;
        if (state.measure === "ratio") {
          const m = Math.max(Math.abs(Math.log(lo || 1)), Math.abs(Math.log(hi || 1)), 0.05);
          v = Math.exp((t - 0.5) * 2 * m);
        }
        const sw = el("span", { className: "swatch", "aria-hidden": "true" });
        sw.style.backgroundColor = `rgb(${ramp(spec.palette, t).join(",")})`;
        list.append(el("li", {}, sw, fmt(v, spec.format)));
      }
    } else {
      list.append(el("li", { text: "Loading…" }));
    }
    const none = el("span", { className: "swatch", "aria-hidden": "true" });
    none.style.backgroundColor = `rgba(${NO_DATA.join(",")})`;
    list.append(el("li", {}, none, "No data or suppressed (<5)"));
    box.append(list);
  }

  // ------------------------------------------------------------------ layers

  function tileUrl(name) {
    const layer = state.spec.layers.find((l) => l.name === name);
    let url = layer ? layer.url : `/tiles/${name}/{z}/{x}/{y}.pbf?v=${state.spec.version}`;
    if (state.service) url += `&service=${encodeURIComponent(state.service)}`;
    return url;
  }

  function loadOptions(base) {
    const headers = authHeaders();
    return { ...(base || {}), mvt: { ...((base || {}).mvt || {}), workerUrl: state.spec.worker_url },
      fetch: { headers } };
  }

  function render() {
    if (!state.deck) return;
    const base = state.baseLayers;
    const triggers = [state.measure, state.service, JSON.stringify(state.domain)];
    const areaName = state.layer === "h3" ? "h3" : "areas";
    const layers = [];
    // Roads and sites wait for the first choropleth tiles, so those are decoded first.
    const overlays = Boolean(state.firstTilesMs);
    layers.push(base.roads.clone({ visible: overlays && state.overlays.roads, loadOptions: loadOptions(base.roads.props.loadOptions) }));
    const choropleth = base[areaName].clone({
      id: areaName,
      data: tileUrl(state.layer),
      visible: true,
      binary: false,
      getFillColor: fillColor,
      updateTriggers: { getFillColor: triggers },
      onViewportLoad: updateDomain,
      onTileLoad,
      loadOptions: loadOptions(base[areaName].props.loadOptions),
      highlightedFeatureId: areaName === "areas" ? state.selected : null,
      highlightColor: state.selected ? [255, 255, 0, 160] : [255, 255, 255, 90],
    });
    layers.push(choropleth);
    layers.push(base.sites.clone({ visible: overlays && state.overlays.sites, loadOptions: loadOptions(base.sites.props.loadOptions) }));
    if (base.planning) {
      layers.push(base.planning.clone({
        data: state.plan || { type: "FeatureCollection", features: [] },
        visible: Boolean(state.plan),
        getFillColor: (f) => (f.properties.role === "catchment" ? [...colourFor(f.properties.site_id), 45]
          : f.properties.role === "site" ? [213, 94, 0, 255] : [0, 114, 178, 255]),
        getLineColor: (f) => (f.properties.role === "catchment" ? [...colourFor(f.properties.site_id), 220]
          : f.properties.role === "route" ? [0, 114, 178, 230] : [0, 0, 0, 255]),
        getLineWidth: (f) => (f.properties.role === "route" ? 4 : 1.5),
        updateTriggers: { getFillColor: state.planVersion, getLineColor: state.planVersion },
      }));
    }
    state.deck.setProps({ layers });
  }

  // ------------------------------------------------------------------ planning (issue 7)

  const OKABE_ITO = [[230, 159, 0], [86, 180, 233], [0, 158, 115], [240, 228, 66], [0, 114, 178], [213, 94, 0], [204, 121, 167]];

  function colourFor(id) {
    const n = Number.parseInt(String(id).replace(/\D/g, ""), 10) || 0;
    return OKABE_ITO[n % OKABE_ITO.length];
  }

  function tagged(collection, role) {
    return ((collection && collection.features) || []).map((f) => ({ ...f, properties: { ...(f.properties || {}), role } }));
  }

  async function postJSON(url, body) {
    const response = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json", ...authHeaders() },
      body: JSON.stringify(body),
    });
    const payload = await response.json();
    if (!response.ok) throw new Error(typeof payload.detail === "string" ? payload.detail : JSON.stringify(payload.detail));
    return payload;
  }

  function showPlan(features, summary) {
    state.plan = { type: "FeatureCollection", features };
    state.planVersion = (state.planVersion || 0) + 1;
    $("plan-summary").textContent = summary;
    render();
  }

  async function planSites() {
    const p = Math.max(1, Math.min(10, Number($("plan-p").value) || 2));
    $("plan-summary").textContent = "Solving…";
    try {
      const demand = state.service ? { source: "unmet", service: state.service } : { source: "households" };
      const plan = await postJSON("/api/v1/planning/sites", { p, demand, time_limit_s: 10 });
      const catchments = tagged(plan.catchments, "catchment");
      for (const f of catchments) f.properties.site_id = f.properties.site_id ?? f.properties.id;
      showPlan([...catchments, ...tagged(plan.sites, "site")],
        `${plan.sites.features.length} sites shown with their catchments (${plan.summary.objective || "p-median"}).`);
    } catch (error) {
      $("plan-summary").textContent = `No plan: ${error.message}`;
    }
  }

  async function planRoute() {
    $("plan-summary").textContent = "Planning a route…";
    try {
      const plan = await postJSON("/api/v1/planning/routes", { max_stops: 8, time_limit_s: 2 });
      const s = plan.summary;
      showPlan([...tagged(plan.routes, "route"), ...tagged(plan.stops, "stop")],
        `${s.stops_visited} stops, ${s.total_distance_km.toFixed(1)} km, ${Math.round(s.total_duration_min)} min.`);
    } catch (error) {
      $("plan-summary").textContent = `No route: ${error.message}`;
    }
  }

  // ------------------------------------------------------------------ tooltips and clicks

  function tooltip(info) {
    if (!info || !info.object || !info.layer) return null;
    const p = info.object.properties || {};
    if (info.layer.id === "planning") {
      const name = p.name || p.site_name || p.label || p.role;
      return { text: `${p.role}: ${name}` };
    }
    if (info.layer.id === "sites") {
      return { text: `${p.name}\n${p.kind}${p.is_existing ? " (existing office)" : " (candidate)"}` };
    }
    const lines = [];
    if (info.layer.id === "h3") lines.push(`Hexagon ${p.cell} (resolution ${p.resolution})`);
    else lines.push(`${p.name} (${p.code})`);
    lines.push(`Households: ${fmt(p.households, "int")}`);
    if (state.service) {
      for (const m of state.spec.measures.filter((x) => x.service)) {
        if (p[m.id] !== undefined) lines.push(`${m.label}: ${fmt(p[m.id], m.format)}`);
      }
    }
    return { text: lines.join("\n") };
  }

  function onClick(info) {
    if (!info || !info.object || !info.layer) return;
    const p = info.object.properties || {};
    if (info.layer.id === "areas" && p.code) openArea(p.code, p);
  }

  // ------------------------------------------------------------------ panel

  function selectTab(name) {
    for (const tab of ["area", "matrix", "quality"]) {
      const selected = tab === name;
      $(`tab-${tab}`).setAttribute("aria-selected", String(selected));
      $(`pane-${tab}`).hidden = !selected;
    }
    if (name === "matrix") loadMatrix();
    if (name === "quality") loadQuality();
  }

  function figureList(rows) {
    const dl = el("dl", { className: "figures" });
    for (const [k, v] of rows) dl.append(el("dt", { text: k }), el("dd", { text: v }));
    return dl;
  }

  async function openArea(code, tileProps) {
    state.selected = code;
    render();
    selectTab("area");
    const pane = $("pane-area");
    pane.replaceChildren(el("p", { text: "Loading…" }));
    try {
      const feature = await getJSON(`/api/v1/areas/${encodeURIComponent(code)}`);
      const p = feature.properties;
      const parts = [
        el("h2", { id: "area-name", text: p.name }),
        figureList([
          ["Code", p.code],
          ["Level", p.level],
          ["Households", fmt(p.households, "int")],
          ["Part of", p.parent_code || "–"],
          ["Area", p.area_km2 ? `${p.area_km2.toFixed(2)} km²` : "–"],
        ]),
      ];
      parts[1].id = "area-figures";
      if (state.service && tileProps) {
        const service = state.spec.services.find((s) => s.code === state.service);
        parts.push(el("h3", { text: service ? service.name : state.service }));
        parts.push(figureList(state.spec.measures.filter((m) => m.service && tileProps[m.id] !== undefined)
          .map((m) => [m.label, fmt(tileProps[m.id], m.format)])));
      }
      const profilePath = "/api/v1/areas/{code}/profile";
      const links = el("ul", { className: "links" });
      const signedIn = Boolean(sessionStorage.getItem(KEY_STORAGE));
      const enc = encodeURIComponent(code);
      if (hasPath("/areas/{code}/report")) {
        links.append(el("li", {}, signedIn
          ? el("a", { href: `/areas/${enc}/report`, onclick: (e) => openAuthed(e, `/areas/${enc}/report`, null) , text: "Community report (printable)" })
          : el("span", { className: "hint", text: "Community report: sign in as an officer" })));
      }
      if (hasPath("/api/v1/matrix")) {
        const svc = state.service ? `&service=${encodeURIComponent(state.service)}` : "";
        const url = `/api/v1/matrix?level=oa&area=${enc}${svc}&format=csv`;
        links.append(el("li", {}, el("a", { href: url, onclick: (e) => openAuthed(e, url, `${code}_output_areas.csv`),
          text: "Output areas by segment (CSV)" })));
      }
      links.append(el("li", {}, el("a", { href: `/api/v1/areas/${enc}`, text: "Boundary (GeoJSON)" })));
      parts.push(links);
      pane.replaceChildren(...parts);
      if (hasPath(profilePath) && signedIn) loadProfile(code, pane);
      else if (hasPath(profilePath)) pane.append(el("p", { className: "hint", text: "Sign in as an officer for the community profile." }));
    } catch (error) {
      pane.replaceChildren(el("p", { className: "error", text: `Could not load ${code}: ${error.message}` }));
    }
  }

  async function openAuthed(event, url, filename) {
    // Officer-only documents need the bearer key, which a plain link cannot send.
    event.preventDefault();
    try {
      const response = await fetch(url, { headers: authHeaders() });
      if (!response.ok) throw new Error(`${response.status}`);
      const blobUrl = URL.createObjectURL(await response.blob());
      const a = el("a", { href: blobUrl, download: filename || null, target: filename ? null : "_blank", rel: "noopener" });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(blobUrl), 60000);
    } catch (error) {
      status(`Could not open ${url}: ${error.message}`);
    }
  }

  function table(caption, cols, rows) {
    return el("table", { className: "profile" },
      el("caption", { text: caption }),
      el("thead", {}, el("tr", {}, cols.map(([, label]) => el("th", { scope: "col", text: label })))),
      el("tbody", {}, rows.map((r) => el("tr", {}, cols.map(([key, , format], i) => (i === 0
        ? el("th", { scope: "row", text: fmt(r[key]) })
        : el("td", { text: fmt(r[key], format) })))))));
  }

  async function loadProfile(code, pane) {
    try {
      const profile = await getJSON(`/api/v1/areas/${encodeURIComponent(code)}/profile`);
      const box = el("section", { id: "area-profile", "aria-label": "Community profile" });
      box.append(el("h3", { text: "Community profile" }));
      if (profile.pen_portrait) box.append(el("p", { className: "portrait", text: profile.pen_portrait }));
      box.append(table("Households by segment (index 100 = district share)",
        [["name", "Segment"], ["households", "Households", "int"], ["pct", "%", "num"], ["index", "Index", "int"]],
        profile.segments || []));
      box.append(table("Service take-up against what the mix predicts (ratio 100 = as expected)",
        [["name", "Service"], ["observed", "Observed", "int"], ["expected", "Expected", "num"], ["ratio", "Ratio", "int"]],
        profile.services || []));
      if ((profile.key_issues || []).length) {
        box.append(el("h3", { text: "Key issues" }),
          el("ul", {}, profile.key_issues.map((k) => el("li", { text: `${k.name} (index ${fmt(k.district_index, "int")})` }))));
      }
      pane.append(box);
    } catch (error) {
      pane.append(el("p", { className: "hint", text: `Profile unavailable: ${error.message}` }));
    }
  }

  async function loadMatrix() {
    const pane = $("pane-matrix");
    if (!hasPath("/api/v1/matrix")) {
      pane.replaceChildren(el("p", { className: "hint", text: "The ward-by-segment matrix is not available on this server yet." }));
      return;
    }
    pane.replaceChildren(el("p", { text: "Loading…" }));
    try {
      const svc = state.service ? `&service=${encodeURIComponent(state.service)}` : "";
      const m = await getJSON(`/api/v1/matrix?level=ward${svc}`);
      pane.replaceChildren(matrixTable(m));
    } catch (error) {
      pane.replaceChildren(el("p", { className: "error", text: `Matrix unavailable: ${error.message}` }));
    }
  }

  function matrixTable(m) {
    // Issue 4's long form: {areas: [{code, name}], segments: [{code, name}], cells: [{area_code, segment, index}]}.
    const measure = m.service ? "index" : "households_index";
    const segments = (m.segments || []).filter((sg) => sg.code !== "Total");
    const areas = (m.areas || []).filter((a) => a.code !== "Total");
    const at = {};
    for (const c of m.cells || []) at[`${c.area_code}|${c.segment}`] = c[measure];
    const flat = Object.values(at).filter((v) => typeof v === "number");
    const lo = Math.min(...flat, 100);
    const hi = Math.max(...flat, 100);
    const t = el("table", { className: "matrix" },
      el("caption", { text: `${m.service ? "Take-up index" : "Households index"} by ward and segment (100 = district average). Select a ward to show it on the map.` }),
      el("thead", {}, el("tr", {}, el("th", { scope: "col", text: "Ward" }),
        segments.map((sg) => el("th", { scope: "col", title: sg.name, text: sg.code })))));
    const body = el("tbody");
    for (const a of areas) {
      const select = () => highlightWard(a.code);
      const row = el("tr", { tabindex: "0", "data-code": a.code, onclick: select,
        onkeydown: (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); select(); } } },
        el("th", { scope: "row", text: a.name || a.code }));
      for (const sg of segments) {
        const v = at[`${a.code}|${sg.code}`];
        const td = el("td", { text: fmt(v, "int") });
        if (typeof v === "number" && hi > lo) {
          const x = (v - lo) / (hi - lo);
          td.style.backgroundColor = `rgb(${ramp("cividis", x).join(",")})`;
          td.style.color = x > 0.55 ? "#000" : "#fff";
        }
        row.append(td);
      }
      body.append(row);
    }
    t.append(body);
    return t;
  }

  function highlightWard(code) {
    if (state.layer !== "wards") setLayer("wards");
    state.selected = code;
    render();
    status(`Ward ${code} highlighted on the map.`);
  }

  async function loadQuality() {
    const pane = $("pane-quality");
    const path = "/api/v1/ingest/batches";
    if (!hasPath(path)) {
      pane.replaceChildren(el("p", { className: "hint", text: "Ingest reports are not available on this server yet." }));
      return;
    }
    if (!sessionStorage.getItem(KEY_STORAGE)) {
      pane.replaceChildren(el("p", { className: "hint", text: "Sign in with an officer key to see the ingest quality reports." }));
      return;
    }
    pane.replaceChildren(el("p", { text: "Loading…" }));
    try {
      const body = await getJSON(path);
      const batches = Array.isArray(body) ? body : body.batches || body.items || [];
      const cols = ["id", "kind", "filename", "status", "rows_received", "rows_loaded", "rows_rejected", "started_at"];
      const rejected = (b) => {
        if (!b.rows_rejected) return el("td", { text: "0" });
        const url = `/api/v1/ingest/batches/${encodeURIComponent(b.id)}/rejected.csv`;
        return el("td", {}, el("a", { href: url, onclick: (e) => openAuthed(e, url, `batch_${b.id}_rejected.csv`),
          text: fmt(b.rows_rejected, "int") }));
      };
      pane.replaceChildren(el("table", { className: "quality" },
        el("caption", { text: "Ingest batches: rows received, loaded and rejected (rejected rows as CSV)" }),
        el("thead", {}, el("tr", {}, cols.map((c) => el("th", { scope: "col", text: c.replace(/_/g, " ") })))),
        el("tbody", {}, batches.map((b) => el("tr", {}, cols.map((c) => (c === "rows_rejected" ? rejected(b)
          : el("td", { text: c === "started_at" ? String(b[c]).slice(0, 16).replace("T", " ") : fmt(b[c]) }))))))));
    } catch (error) {
      pane.replaceChildren(el("p", { className: "error", text: `Ingest reports unavailable: ${error.message}` }));
    }
  }

  // ------------------------------------------------------------------ controls

  function setLayer(name) {
    state.layer = name;
    state.domain = null;
    state.selected = null;
    for (const input of document.querySelectorAll("input[name=layer]")) input.checked = input.value === name;
    render();
    renderLegend();
  }

  function buildControls() {
    const switcher = $("layer-switcher");
    for (const layer of state.spec.layers) {
      const id = `layer-${layer.name}`;
      switcher.append(el("label", { for: id },
        el("input", { type: "radio", name: "layer", id, value: layer.name, checked: layer.name === state.layer,
          onchange: () => setLayer(layer.name) }),
        ` ${layer.title}`));
    }
    const service = $("service");
    for (const s of state.spec.services) service.append(el("option", { value: s.code, text: s.name }));
    service.addEventListener("change", () => {
      state.service = service.value;
      fillMeasures();
      state.domain = null;
      render();
      renderLegend();
      if (!$("pane-matrix").hidden) loadMatrix();
    });
    fillMeasures();
    $("measure").addEventListener("change", (e) => {
      state.measure = e.target.value;
      state.domain = null;
      render();
      renderLegend();
    });
    for (const name of ["roads", "sites"]) {
      $(`overlay-${name}`).addEventListener("change", (e) => {
        state.overlays[name] = e.target.checked;
        render();
      });
    }
    for (const tab of ["area", "matrix", "quality"]) $(`tab-${tab}`).addEventListener("click", () => selectTab(tab));
    $("search").addEventListener("submit", (e) => {
      e.preventDefault();
      search($("search-q").value);
    });
    $("signin").addEventListener("submit", (e) => {
      e.preventDefault();
      const key = $("api-key").value.trim();
      if (key) signIn(key);
    });
    $("signout-button").addEventListener("click", signOut);
    $("plan-sites").addEventListener("click", planSites);
    $("plan-route").addEventListener("click", planRoute);
    $("plan-clear").addEventListener("click", () => {
      state.plan = null;
      $("plan-summary").textContent = "";
      render();
    });
    showSignedIn();
  }

  function fillMeasures() {
    const select = $("measure");
    const available = state.spec.measures.filter((m) => !m.service || state.service);
    if (!available.some((m) => m.id === state.measure)) state.measure = available[available.length > 1 ? 1 : 0].id;
    select.replaceChildren(...available.map((m) => el("option", { value: m.id, text: m.label, selected: m.id === state.measure })));
  }

  async function search(q) {
    const results = $("search-results");
    if (!q || q.trim().length < 2) return;
    try {
      const body = await getJSON(`/api/v1/search?q=${encodeURIComponent(q.trim())}&limit=8`);
      results.replaceChildren(...body.places.map((place, i) => el("li", { role: "option", id: `result-${i}` },
        el("button", { type: "button", text: `${place.label} · ${place.kind}`, onclick: () => flyTo(place) }))));
      if (!body.places.length) results.replaceChildren(el("li", { text: "Nothing found." }));
      results.hidden = false;
      const first = results.querySelector("button");
      if (body.places.length === 1) flyTo(body.places[0]);
      else if (first) first.focus();
    } catch (error) {
      results.replaceChildren(el("li", { className: "error", text: error.message }));
      results.hidden = false;
    }
  }

  function flyTo(place) {
    $("search-results").hidden = true;
    const view = state.deck.props.initialViewState || {};
    state.deck.setProps({
      initialViewState: {
        ...view,
        longitude: place.lon,
        latitude: place.lat,
        zoom: place.zoom,
        transitionDuration: 800,
        transitionInterpolator: state.flyTo || undefined,
      },
    });
    status(`Showing ${place.label}.`);
    const level = place.kind;
    if (["ward", "lsoa", "oa"].includes(level) && place.area_code) {
      const layerName = { ward: "wards", lsoa: "lsoas", oa: "oas" }[level];
      if (state.layer !== layerName) setLayer(layerName);
      openArea(place.area_code);
    }
  }

  async function signIn(key) {
    sessionStorage.setItem(KEY_STORAGE, key);
    try {
      if (hasPath("/api/v1/me")) {
        const me = await getJSON("/api/v1/me");
        $("signin-status").textContent = `Signed in (${me.role || "key"})`;
      } else {
        $("signin-status").textContent = "Key saved for this tab";
      }
      $("api-key").value = "";
      showSignedIn();
      render();
    } catch (error) {
      sessionStorage.removeItem(KEY_STORAGE);
      $("signin-status").textContent = `Not signed in: ${error.message}`;
    }
  }

  function signOut() {
    sessionStorage.removeItem(KEY_STORAGE);
    $("signin-status").textContent = "Signed out";
    showSignedIn();
    render();
  }

  function showSignedIn() {
    const signedIn = Boolean(sessionStorage.getItem(KEY_STORAGE));
    $("planning").hidden = !(signedIn && hasPath("/api/v1/planning/sites"));
    $("api-key").hidden = signedIn;
    $("signin-button").hidden = signedIn;
    $("signout-button").hidden = !signedIn;
  }

  // ------------------------------------------------------------------ start

  async function start() {
    const started = performance.now();
    state.started = started;
    status("Loading the map…");
    const [spec, openapi] = await Promise.all([getJSON("/api/v1/map/deck.json"), getJSON("/openapi.json")]);
    state.spec = spec;
    state.openapi = openapi;
    state.marks = { spec: performance.now() - started };
    const deck = window.createDeck({
      container: $("map"),
      jsonInput: spec.deck,
      tooltip: spec.tooltip,
    });
    if (!deck) throw new Error("deck.gl could not start (is WebGL available?)");
    state.deck = deck;
    state.marks.deck = performance.now() - started;
    for (const layer of deck.props.layers) state.baseLayers[layer.id] = layer;
    state.flyTo = deck.props.initialViewState && deck.props.initialViewState.transitionInterpolator;
    deck.setProps({
      getTooltip: tooltip,
      onClick,
      onAfterRender: () => {
        if (!state.marks.draw) state.marks.draw = performance.now() - started;
      },
    });
    buildControls();
    render();
    renderLegend();
    status("");
    state.openArea = openArea;
    state.ready = true;
  }

  document.addEventListener("DOMContentLoaded", () => {
    start().catch((error) => {
      status(`The map could not start: ${error.message}`);
      state.error = error.message;
    });
  });
})();
