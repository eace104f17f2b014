// Wardwise map page. The deck (layers, view, tooltips) is described in Python with pydeck
// (GET /api/v1/map/deck.json) and turned into a deck.gl Deck by the vendored bundle's
// createDeck; this file only wires the controls to it. No eval, no inline script or style,
// no request leaves the origin (the MVT worker is served from /vendor).
//
// What the page shows is kept in the URL's fragment (#layer=…&service=…&measure=…&view=…
// &area=…&tab=…&from=…&to=…&classification=…&edges=…), so a view can be bookmarked and
// sent, and Back/Forward walk it.
"use strict";

(function main() {
  const KEY_STORAGE = "wardwise.apiKey";
  const TABS = ["area", "matrix", "service", "quality", "plan"];
  const state = {
    deck: null,
    spec: null,
    openapi: { paths: {} },
    layer: "wards",
    service: "",
    measure: "households",
    method: "quantile",
    dateFrom: null, // "YYYY-MM": first month of events counted (null: the service's first)
    dateTo: null, // "YYYY-MM": last month counted (null: the service's last)
    edges: "", // manual class breaks as the user typed them (legend units)
    classification: "", // the segmentation (a tier is its own classification) of the panels
    overlays: { roads: true, sites: true, labels: true },
    domain: null, // [min, max] from tiles, for layers without class breaks (hexagons)
    breaks: null, // the server's class breaks over the whole study area
    breaksFor: null,
    selected: null,
    tab: "area",
    view: null,
    marker: null,
    baseLayers: {},
    areaLists: {},
    retry: 0,
    tileError: null,
    token: 0,
  };
  window.wardwise = state; // for the browser test and for debugging

  const $ = (id) => document.getElementById(id);

  // ------------------------------------------------------------------ fetch helpers

  function signedIn() {
    return Boolean(sessionStorage.getItem(KEY_STORAGE));
  }

  function authHeaders() {
    const key = sessionStorage.getItem(KEY_STORAGE);
    return key ? { Authorization: `Bearer ${key}` } : {};
  }

  async function getJSON(url) {
    const response = await fetch(url, { headers: { Accept: "application/json", ...authHeaders() } });
    if (!response.ok) {
      let detail = `HTTP ${response.status}`;
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

  // A passing message at the foot of the page, cleared after a few seconds.
  let statusTimer = null;
  function status(message) {
    $("status").textContent = message || "";
    clearTimeout(statusTimer);
    if (message) statusTimer = setTimeout(() => { $("status").textContent = ""; }, 6000);
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

  const SVG = "http://www.w3.org/2000/svg";
  function svg(tag, attrs, ...children) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "text") node.textContent = v;
      else node.setAttribute(k, v);
    }
    for (const child of children.flat()) if (child) node.append(child);
    return node;
  }

  function rgb(c) {
    return `rgb(${c[0]},${c[1]},${c[2]})`;
  }

  // A colour swatch without inline styles (the CSP forbids them): an SVG square with a fill.
  function swatch(colour, extraClass) {
    return svg("svg", { class: `swatch ${extraClass || ""}`.trim(), viewBox: "0 0 14 10", "aria-hidden": "true", focusable: "false" },
      svg("rect", { width: "14", height: "10", fill: colour ? rgb(colour) : "none" }));
  }

  function download(blob, filename) {
    const url = URL.createObjectURL(blob);
    const a = el("a", { href: url, download: filename });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
  }

  // ------------------------------------------------------------------ formatting

  const GB = "en-GB";

  function fmt(value, format, decimals) {
    if (value === null || value === undefined || value === "") return "–";
    if (typeof value === "string") return value; // suppressed counts ("<5") and classes
    if (typeof value !== "number" || !Number.isFinite(value)) return String(value);
    const d = decimals === undefined ? null : decimals;
    if (format === "pct") return `${(value * 100).toLocaleString(GB, { minimumFractionDigits: d ?? 1, maximumFractionDigits: d ?? 1 })}%`;
    if (format === "index") return (value * 100).toLocaleString(GB, { minimumFractionDigits: d ?? 0, maximumFractionDigits: d ?? 0 });
    if (format === "int") return value.toLocaleString(GB, { minimumFractionDigits: d ?? 0, maximumFractionDigits: d ?? 0 });
    if (Number.isInteger(value)) return value.toLocaleString(GB);
    return value.toLocaleString(GB, { minimumFractionDigits: d ?? 1, maximumFractionDigits: d ?? (Math.abs(value) < 10 ? 2 : 1) });
  }

  // The fewest decimals that keep every class edge's label distinct (no legend that says
  // "12%" five times).
  function edgeLabels(edges, format) {
    for (let d = format === "pct" ? 0 : 0; d <= 4; d += 1) {
      const labels = edges.map((v) => fmt(v, format, d));
      if (new Set(labels).size === labels.length) return labels;
    }
    return edges.map((v) => fmt(v, format, 4));
  }

  function measureSpec(id) {
    return state.spec.measures.find((m) => m.id === id) || state.spec.measures[0];
  }

  function layerSpec(name) {
    return state.spec.layers.find((l) => l.name === name) || { name, areas: false };
  }

  function serviceName(code) {
    const s = state.spec.services.find((x) => x.code === code);
    return s ? s.name : code;
  }

  // ------------------------------------------------------------------ colours

  function ramp(palette, t) {
    const stops = state.spec.palettes[palette] || state.spec.palettes.viridis;
    const x = Math.min(1, Math.max(0, t)) * (stops.length - 1);
    const i = Math.min(stops.length - 2, Math.floor(x));
    const f = x - i;
    return stops[i].map((c, k) => Math.round(c + (stops[i + 1][k] - c) * f));
  }

  //: Areas whose figure is hidden by the small-count rule, and areas with no figure at all,
  //: each in a style no class colour uses.
  const SUPPRESSED = [110, 110, 110];
  const NO_DATA_FILL = [255, 255, 255, 0];
  const SUPPRESSED_TOKEN = "suppressed";

  function isDiverging() {
    return measureSpec(state.measure).format === "index";
  }

  // The classes: edges over the whole study area from the server (area layers) or from
  // the tiles loaded so far (hexagons), and one colour per class.
  function classes() {
    const spec = measureSpec(state.measure);
    let edges = null;
    if (state.breaks && state.breaks.edges && state.breaksFor === breaksKey()) edges = state.breaks.edges;
    else if (!layerSpec(state.layer).areas && state.domain) {
      const [lo, hi] = state.domain;
      edges = hi > lo ? Array.from({ length: 6 }, (_, i) => lo + ((hi - lo) * i) / 5) : [lo];
    }
    if (!edges || !edges.length) return null;
    const k = Math.max(1, edges.length - 1);
    const colours = [];
    if (isDiverging()) {
      // Centred on 1 (index 100) on a log scale; the palette's white middle is never used.
      const m = Math.max(Math.abs(Math.log(edges[0] || 1e-3)), Math.abs(Math.log(edges[edges.length - 1] || 1e-3)), 0.05);
      for (let i = 0; i < k; i += 1) {
        const lo = Math.max(edges[i], 1e-3);
        const hi = Math.max(edges[Math.min(i + 1, edges.length - 1)], 1e-3);
        const t = 0.5 + Math.log(Math.sqrt(lo * hi)) / (2 * m);
        const trimmed = t < 0.5 ? t * 0.84 : 1 - (1 - t) * 0.84;
        colours.push(ramp("puor", flipped() ? 1 - trimmed : trimmed));
      }
    } else {
      for (let i = 0; i < k; i += 1) {
        const t = k === 1 ? 0.5 : i / (k - 1);
        colours.push(ramp(spec.palette, flipped() ? 1 - t : t));
      }
    }
    return { edges, colours };
  }

  function classOf(value, edges) {
    if (edges.length < 2) return 0;
    for (let i = 1; i < edges.length - 1; i += 1) if (value < edges[i]) return i - 1;
    return edges.length - 2;
  }

  // The feature's figure for the measure: a number, SUPPRESSED_TOKEN or null (no data).
  function featureValue(p, measure) {
    const v = p[measure];
    if (typeof v === "number" && Number.isFinite(v)) return v;
    if (measure === "class") return typeof v === "string" ? v : null;
    if (measure === "households") return typeof p.households === "string" ? SUPPRESSED_TOKEN : null;
    if (["households", "events", "users"].some((k) => typeof p[k] === "string")) return SUPPRESSED_TOKEN;
    return null;
  }

  function fillColor(feature) {
    const p = feature.properties || {};
    const value = featureValue(p, state.measure);
    if (value === SUPPRESSED_TOKEN) return [...SUPPRESSED, 210];
    if (value === null) return NO_DATA_FILL;
    if (state.measure === "class") {
      const colour = state.spec.class_colours[value];
      return colour ? [...colour, 210] : NO_DATA_FILL;
    }
    const c = state.classes;
    if (!c) return [200, 200, 200, 60]; // classes still loading: faint, never "no data"
    return [...c.colours[classOf(value, c.edges)], 210];
  }

  // Hexagons have no class breaks from the server: their colour domain grows with every
  // tile that loads, and is recomputed from every loaded tile when the measure changes.
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

  function domainFromLoadedTiles() {
    state.domain = null;
    const layer = state.deck && state.deck.layerManager && state.deck.layerManager.getLayers().find((l) => l.id === "h3");
    const tiles = layer && layer.state && layer.state.tileset ? layer.state.tileset.tiles : [];
    for (const tile of tiles || []) if (Array.isArray(tile.content)) noteValues(tile.content);
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
    if (!state.marks.tile) {
      state.marks.tile = performance.now() - state.started;
      state.marks.tileAt = performance.now();
    }
    if (state.layer === "h3" && noteValues(tile.content)) scheduleRender();
  }

  function onTileError(error) {
    const message = (error && error.message) || String(error);
    const code = /\b(50\d|40\d|429)\b/.exec(message);
    state.tileError = code ? `HTTP ${code[1]}` : message.slice(0, 120);
    showMapMessage();
  }

  function updateDomain(tiles) {
    const first = !state.firstTilesMs;
    if (first) state.firstTilesMs = performance.now() - state.started;
    let changed = false;
    if (state.layer === "h3") for (const tile of tiles || []) changed = noteValues(tile.content) || changed;
    if (changed || first) scheduleRender();
  }

  // ------------------------------------------------------------------ class breaks

  function breaksKey() {
    return [state.layer, state.service, state.measure, state.method, signedIn(), state.dateFrom, state.dateTo,
      state.method === "manual" ? state.edges : ""].join("|");
  }

  async function loadBreaks() {
    const key = breaksKey();
    state.breaksError = null;
    const layer = layerSpec(state.layer);
    if (!layer.areas || !hasPath("/api/v1/map/breaks") || (state.measure !== "households" && !state.service)) {
      state.breaks = null;
      state.breaksFor = null;
      refreshColours();
      return;
    }
    const manual = state.method === "manual" ? manualEdges() : null;
    if (state.method === "manual" && !manual) {
      state.breaks = null;
      state.breaksFor = null;
      state.breaksError = state.edges ? manualError() : "type the break values under Classes";
      refreshColours();
      return;
    }
    state.breaksLoading = key;
    renderLegend();
    const q = new URLSearchParams({ layer: state.layer, measure: state.measure, method: state.method });
    if (state.service) q.set("service", state.service);
    if (manual) q.set("edges", manual.join(","));
    for (const [k, v] of Object.entries(dateParams())) q.set(k, v);
    try {
      const breaks = await getJSON(`/api/v1/map/breaks?${q}`);
      if (key !== breaksKey()) return; // the user moved on
      state.breaks = breaks;
      state.breaksFor = key;
    } catch (error) {
      if (key !== breaksKey()) return;
      state.breaks = null;
      state.breaksFor = null;
      state.breaksError = error.message;
    } finally {
      if (state.breaksLoading === key) state.breaksLoading = null;
    }
    refreshColours();
  }

  function refreshColours() {
    if (state.layer === "h3") domainFromLoadedTiles();
    state.classes = classes();
    render();
    renderLegend();
    showMapMessage();
  }

  function renderLegend() {
    const spec = measureSpec(state.measure);
    const box = $("legend");
    const heading = state.service && spec.service ? `${spec.label}: ${serviceName(state.service)}` : spec.label;
    box.replaceChildren(el("h2", { text: heading }));
    const list = el("ul", { className: "legend-items" });
    const b = state.breaksFor === breaksKey() ? state.breaks : null;
    state.classes = classes();
    if (spec.palette === "classes") {
      const names = { hot: "Hot spot (more than expected)", not: "Not spot (less than expected)", as_expected: "As expected" };
      for (const [k, c] of Object.entries(state.spec.class_colours)) {
        const n = b && b.classes ? b.classes[k] || 0 : null;
        list.append(el("li", {}, swatch(c), names[k] || k, n === null ? null : el("span", { className: "count", text: ` (${fmt(n, "int")})` })));
      }
    } else if (state.classes) {
      const { edges, colours } = state.classes;
      const labels = edgeLabels(edges, spec.format);
      for (let i = 0; i < colours.length; i += 1) {
        const text = edges.length === 1 ? labels[0] : `${labels[i]} – ${labels[i + 1]}`;
        const n = b && b.counts ? b.counts[i] : null;
        list.append(el("li", {}, swatch(colours[i]), text,
          n === null || n === undefined ? null : el("span", { className: "count", text: ` (${fmt(n, "int")} ${n === 1 ? "area" : "areas"})` })));
      }
    } else if (state.breaksError) {
      list.append(el("li", { className: "error", text: `Legend unavailable: ${state.breaksError}` }));
    } else if (state.layer === "hotspots" && !state.service) {
      list.append(el("li", { className: "hint", text: "Choose a service to find hot and not spots." }));
    } else {
      list.append(el("li", { text: "Loading…" }));
    }
    if (spec.palette !== "classes") {
      list.append(el("li", {}, swatch(SUPPRESSED), "Suppressed (fewer than 5)",
        b ? el("span", { className: "count", text: ` (${fmt(b.suppressed, "int")})` }) : null));
    }
    list.append(el("li", {}, swatch(null, "nodata"), "No data",
      b ? el("span", { className: "count", text: ` (${fmt(b.no_data, "int")})` }) : null));
    box.append(list);
    if (spec.palette !== "classes" && layerSpec(state.layer).areas) {
      const how = el("p", { className: "legend-note" });
      how.append(isDiverging() ? "Diverging around 100 (as expected). " : "",
        `Classes over every area of the borough, not only those in view.`);
      box.append(how);
    }
    box.append(...legendNotes14());
  }

  // A message over the map when it cannot show what was asked (tiles failing, a layer
  // that needs a service, a layer with nothing to draw).
  function showMapMessage() {
    const box = $("map-message");
    const parts = [];
    if (state.tileError) {
      parts.push(el("p", { text: `The map tiles could not be loaded (${state.tileError}). The server may be busy.` }),
        el("button", { type: "button", id: "map-retry", text: "Try again", onclick: retryTiles }));
      box.setAttribute("role", "alert");
    } else if (state.layer === "hotspots" && !state.service) {
      parts.push(el("p", { text: "Hot and not spots are found for one service: choose a Service under Choropleth." }));
      box.setAttribute("role", "status");
    } else if (state.layer === "hotspots" && state.breaks && state.breaksFor === breaksKey() && state.breaks.areas === 0) {
      parts.push(el("p", { text: `No output area uses ${serviceName(state.service)} significantly more or less than its households predict.` }));
      box.setAttribute("role", "status");
    }
    box.replaceChildren(...parts);
    box.hidden = parts.length === 0;
  }

  function retryTiles() {
    state.tileError = null;
    state.retry += 1;
    showMapMessage();
    render();
  }

  // ------------------------------------------------------------------ layers

  function tileUrl(name) {
    const layer = state.spec.layers.find((l) => l.name === name);
    let url = layer ? layer.url : `/tiles/${name}/{z}/{x}/{y}.pbf?v=${state.spec.version}`;
    if (state.service) url += `&service=${encodeURIComponent(state.service)}`;
    if (layer && layer.areas) for (const [k, v] of Object.entries(dateParams())) url += `&${k}=${v}`;
    // Tiles fetched with an officer's key hold unsuppressed counts: a different URL after
    // signing in or out, so none of them is reused for the other.
    if (signedIn()) url += "&as=officer";
    if (state.retry) url += `&retry=${state.retry}`;
    return url;
  }

  function loadOptions(base) {
    const headers = authHeaders();
    return { ...(base || {}), mvt: { ...((base || {}).mvt || {}), workerUrl: state.spec.worker_url },
      fetch: { headers } };
  }

  const MARKER = [230, 0, 126];

  function render() {
    if (!state.deck) return;
    const base = state.baseLayers;
    const triggers = [state.measure, state.service, state.breaksFor, JSON.stringify(state.classes && state.classes.edges),
      JSON.stringify(state.classes && state.classes.colours)];
    const areaName = state.layer === "h3" ? "h3" : "areas";
    const layers = [];
    // Roads and sites wait for the first choropleth tiles, so those are decoded first.
    const overlays = Boolean(state.firstTilesMs);
    const roadsUrl = state.retry ? `${base.roads.props.data}&retry=${state.retry}` : base.roads.props.data;
    layers.push(base.roads.clone({ data: roadsUrl, visible: overlays && state.overlays.roads, loadOptions: loadOptions(base.roads.props.loadOptions), onTileError }));
    const choropleth = base[areaName].clone({
      id: areaName,
      data: tileUrl(state.layer),
      visible: !(state.layer === "hotspots" && !state.service),
      binary: false,
      getFillColor: fillColor,
      updateTriggers: { getFillColor: triggers },
      onViewportLoad: updateDomain,
      onTileLoad,
      onTileError,
      loadOptions: loadOptions(base[areaName].props.loadOptions),
      highlightColor: [255, 255, 255, 90],
    });
    layers.push(choropleth);
    const combined = combinedHotspotsLayer(base);
    if (combined) layers.push(combined);
    layers.push(...contextLayers14(overlays));
    layers.push(base.sites.clone({ visible: overlays && state.overlays.sites, loadOptions: loadOptions(base.sites.props.loadOptions), onTileError }));
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
      // Issue 16's planning answers (frontend_static/plan_answers.js) draw above the plan.
      for (const make of state.extraLayers || []) layers.push(...make(base.planning));
      // The open area: a thick outline (a fill would read as one more class colour).
      const sel = state.selectedFeature && state.selectedFeature.properties.code === state.selected ? state.selectedFeature : null;
      layers.push(base.planning.clone({
        id: "selection",
        data: { type: "FeatureCollection", features: sel ? [sel] : [] },
        visible: Boolean(sel),
        pickable: false,
        filled: false,
        stroked: true,
        getLineColor: [...MARKER, 255],
        getLineWidth: 4,
        updateTriggers: { getLineColor: 1 },
      }));
      // The place a search found: a marker the user can see, above everything.
      layers.push(base.planning.clone({
        id: "marker",
        data: { type: "FeatureCollection", features: state.marker ? [{ type: "Feature", geometry: { type: "Point", coordinates: state.marker }, properties: { role: "marker" } }] : [] },
        visible: Boolean(state.marker),
        pickable: false,
        getFillColor: [...MARKER, 255],
        getLineColor: [255, 255, 255, 255],
        getLineWidth: 3,
        getPointRadius: 10,
        updateTriggers: { getFillColor: 1 },
      }));
    }
    layers.push(...scanLayers(base));
    state.deck.setProps({ layers });
  }

  // ------------------------------------------------------------------ scan clusters (issue 13)
  // Kulldorff's scan statistic of the chosen service at output-area level (GET
  // …/hotspots?method=scan, circular or adjacency windows), its significant clusters drawn
  // over the map: red for elevated, blue for reduced. Cleared when the service changes.
  const SCAN_COLOURS = { hot: [202, 0, 32], not: [5, 113, 176] };

  async function loadScan() {
    const kind = $("scan-window").value;
    const token = (state.scanToken = (state.scanToken || 0) + 1);
    state.scan = null;
    $("scan-summary").textContent = kind && !state.service ? "Choose a service to scan." : "";
    if (!kind || !state.service) {
      render();
      return;
    }
    const service = state.service;
    const q = new URLSearchParams({ level: "oa", method: "scan", window: kind, permutations: "99", seed: "1", format: "geojson" });
    $("scan-summary").textContent = "Scanning…";
    try {
      const body = await getJSON(`/api/v1/services/${encodeURIComponent(service)}/hotspots?${q}`);
      if (token !== state.scanToken) return;
      // Every area of every significant cluster (an area may sit in an elevated and a reduced one).
      const byCode = new Map(body.features.map((f) => [f.properties.code, f]));
      const significant = (body.meta.clusters || []).filter((c) => c.class === "hot" || c.class === "not");
      const features = significant.flatMap((c) => c.areas.filter((code) => byCode.has(code)).map((code) => {
        const f = byCode.get(code);
        return { ...f, properties: { ...f.properties, scan_cluster: c.id, scan_class: c.class } };
      }));
      state.scan = { service, window: kind, clusters: significant.length, features };
      $("scan-summary").textContent = `${significant.length} significant clusters, ${features.length} areas (${kind} windows)`;
    } catch (error) {
      if (token === state.scanToken) $("scan-summary").textContent = `The scan failed: ${error.message}`;
    }
    render();
  }

  function scanLayers(base) {
    if (!base.planning) return [];
    const scan = state.scan && state.scan.service === state.service ? state.scan : null;
    const colour = (f, alpha) => [...(SCAN_COLOURS[f.properties.scan_class] || [0, 0, 0]), alpha];
    return [base.planning.clone({
      id: "scan-clusters",
      data: { type: "FeatureCollection", features: scan ? scan.features : [] },
      visible: Boolean(scan),
      pickable: false,
      filled: true,
      stroked: true,
      getFillColor: (f) => colour(f, 90),
      getLineColor: (f) => colour(f, 255),
      getLineWidth: 2,
      updateTriggers: { getFillColor: state.scanToken, getLineColor: state.scanToken },
    })];
  }

  // ------------------------------------------------------------------ the view

  function mercY(lat) {
    return Math.log(Math.tan(Math.PI / 4 + (lat * Math.PI) / 360));
  }

  // The view that fits a WGS84 box in the map with a margin (deck.gl's 512-px world).
  function fitView(bbox, padding) {
    const pad = padding === undefined ? 40 : padding;
    const box = $("map").getBoundingClientRect();
    const [w, s, e, n] = bbox;
    const width = Math.max(64, box.width - 2 * pad);
    const height = Math.max(64, box.height - 2 * pad);
    const dlon = Math.max(e - w, 1e-6);
    const dm = Math.max(mercY(n) - mercY(s), 1e-9);
    const zoom = Math.min(Math.log2((width * 360) / (512 * dlon)), Math.log2((height * 2 * Math.PI) / (512 * dm)), 16);
    const lat = ((2 * Math.atan(Math.exp((mercY(n) + mercY(s)) / 2)) - Math.PI / 2) * 180) / Math.PI;
    return { longitude: (w + e) / 2, latitude: lat, zoom };
  }

  function setView(view, animate) {
    const current = state.deck.props.initialViewState || {};
    state.moving = Boolean(animate);
    state.deck.setProps({
      initialViewState: {
        ...current,
        ...currentView(),
        ...view,
        transitionDuration: animate ? 600 : 0,
        transitionInterpolator: animate ? state.flyTo || undefined : undefined,
        onTransitionEnd: () => { state.moving = false; },
        onTransitionInterrupt: () => { state.moving = false; },
      },
    });
    if (!animate) state.moving = false;
    state.view = { ...(state.view || {}), ...view };
    updateScale();
    saveUrl(false);
  }

  // A scale bar of a round length about 100 px long (deck.gl's world is 512 px at zoom 0).
  function updateScale() {
    const v = currentView();
    const mpp = (40075016.686 * Math.cos((v.latitude * Math.PI) / 180)) / (512 * 2 ** v.zoom);
    const target = mpp * 100;
    const pow = 10 ** Math.floor(Math.log10(target));
    const nice = [1, 2, 5, 10].map((m) => m * pow).filter((x) => x <= target).pop() || pow;
    $("scale-bar").style.width = `${Math.round(nice / mpp)}px`;
    $("scale-label").textContent = nice >= 1000 ? `${(nice / 1000).toLocaleString(GB)} km` : `${nice} m`;
  }

  function bboxOf(geometry) {
    let w = Infinity;
    let s = Infinity;
    let e = -Infinity;
    let n = -Infinity;
    const walk = (c) => {
      if (typeof c[0] === "number") {
        w = Math.min(w, c[0]); e = Math.max(e, c[0]); s = Math.min(s, c[1]); n = Math.max(n, c[1]);
      } else for (const x of c) walk(x);
    };
    if (geometry && geometry.coordinates) walk(geometry.coordinates);
    return Number.isFinite(w) ? [w, s, e, n] : null;
  }

  function inRing(pt, ring) {
    let inside = false;
    for (let i = 0, j = ring.length - 1; i < ring.length; j = i, i += 1) {
      const [xi, yi] = ring[i];
      const [xj, yj] = ring[j];
      if ((yi > pt[1]) !== (yj > pt[1]) && pt[0] < ((xj - xi) * (pt[1] - yi)) / (yj - yi) + xi) inside = !inside;
    }
    return inside;
  }

  function contains(geometry, pt) {
    if (!geometry) return false;
    const polys = geometry.type === "Polygon" ? [geometry.coordinates] : geometry.type === "MultiPolygon" ? geometry.coordinates : [];
    return polys.some((rings) => inRing(pt, rings[0]) && !rings.slice(1).some((hole) => inRing(pt, hole)));
  }

  const LEVELS = { wards: "ward", lsoas: "lsoa", oas: "oa", hotspots: "oa" };

  function levelOf(layerName) {
    if (LEVELS[layerName]) return LEVELS[layerName];
    if (layerName.startsWith("set_")) return layerName.slice(4);
    return null;
  }

  // Every area of a layer (names, boxes and simplified shapes), for the keyboard list and
  // to find which area a searched point lies in.
  async function areaList(layerName) {
    const level = levelOf(layerName);
    if (!level) return [];
    if (!state.areaLists[level]) {
      state.areaLists[level] = getJSON(`/api/v1/areas?level=${encodeURIComponent(level)}&simplify_m=10`).then((fc) =>
        fc.features.map((f) => ({ code: f.properties.code, name: f.properties.name, geometry: f.geometry, bbox: bboxOf(f.geometry) }))
          .sort((a, b) => a.name.localeCompare(b.name, GB)));
      state.areaLists[level].catch(() => { delete state.areaLists[level]; });
    }
    return state.areaLists[level];
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
    const box = $("plan-summary");
    box.replaceChildren(el("span", { text: summary }));
    render();
    const bbox = bboxOf({ coordinates: features.map((f) => f.geometry && f.geometry.coordinates).filter(Boolean) });
    if (bbox) setView(fitView(bbox, 30), true);
    box.scrollIntoView({ block: "nearest" });
  }

  // A planning solve as a background job (?async=true) with a progress bar fed by polling
  // its status; the job's result is the inline answer. Servers without jobs answer inline.
  async function runPlanningJob(url, body, label) {
    const box = $("plan-summary");
    const bar = el("progress", { id: "plan-progress", max: "1", value: "0", "aria-label": `${label}: progress` });
    const text = el("span", { text: `${label}… 0%` });
    box.replaceChildren(text, bar);
    state.planProgress = [];
    const first = await postJSON(`${url}?async=true`, body);
    if (!first.status_url) return first; // answered inline
    const statusPath = new URL(first.status_url, location.href).pathname;
    for (;;) {
      const job = await getJSON(statusPath);
      state.planProgress.push(job.progress);
      bar.value = job.progress;
      text.textContent = `${label}… ${Math.round(job.progress * 100)}% `;
      if (job.status === "done") return job.result;
      if (job.status === "failed" || job.status === "cancelled") throw new Error(job.error || `the job was ${job.status}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  async function planSites() {
    const p = Math.max(1, Math.min(10, Number($("plan-p").value) || 2));
    $("plan-summary").textContent = "Solving…";
    try {
      const demand = state.service ? { source: "unmet", service: state.service } : { source: "households" };
      const plan = await runPlanningJob("/api/v1/planning/sites", { p, demand, time_limit_s: 10 }, "Solving");
      const catchments = tagged(plan.catchments, "catchment");
      for (const f of catchments) f.properties.site_id = f.properties.site_id ?? f.properties.id;
      showPlan([...catchments, ...tagged(plan.sites, "site")],
        `${plan.sites.features.length} sites shown with their catchments (${plan.summary.objective || "p-median"}): orange dots are the sites, tinted areas their catchments.`);
    } catch (error) {
      $("plan-summary").textContent = `No plan: ${error.message}`;
      $("plan-summary").scrollIntoView({ block: "nearest" });
    }
  }

  async function planRoute() {
    $("plan-summary").textContent = "Planning a route…";
    try {
      const plan = await runPlanningJob("/api/v1/planning/routes", { max_stops: 8, time_limit_s: 2 }, "Planning a route");
      const s = plan.summary;
      showPlan([...tagged(plan.routes, "route"), ...tagged(plan.stops, "stop")],
        `${s.stops_visited} stops, ${s.total_distance_km.toFixed(1)} km, ${Math.round(s.total_duration_min)} min (blue line and dots).`);
    } catch (error) {
      $("plan-summary").textContent = `No route: ${error.message}`;
      $("plan-summary").scrollIntoView({ block: "nearest" });
    }
  }

  // ------------------------------------------------------------------ tooltips and clicks

  function tooltipText(info) {
    if (!info || !info.object || !info.layer) return null;
    const p = info.object.properties || {};
    if (info.layer.id === "planning") {
      const name = p.name || p.site_name || p.label || p.role;
      return `${p.role}: ${name}`;
    }
    if (info.layer.id === COMBINED_LAYER) return combinedTooltip(p);
    if (info.layer.id === "sites") {
      return `${p.name}\n${p.kind}${p.is_existing ? " (existing office)" : " (candidate)"}`;
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
    return lines.join("\n");
  }

  // The tooltip lives on the page (fixed), not inside the map, so the side panels never
  // cut it off; it is kept inside the window.
  function onHover(info) {
    const tip = $("tooltip");
    const text = tooltipText(info);
    if (!text) {
      tip.hidden = true;
      return;
    }
    tip.textContent = text;
    tip.hidden = false;
    const box = $("map").getBoundingClientRect();
    const x = box.left + info.x;
    const y = box.top + info.y;
    const w = tip.offsetWidth;
    const h = tip.offsetHeight;
    const left = Math.max(4, Math.min(x + 14, window.innerWidth - w - 4));
    const top = y + 14 + h > window.innerHeight - 4 ? Math.max(4, y - h - 14) : y + 14;
    tip.style.left = `${Math.round(left)}px`;
    tip.style.top = `${Math.round(top)}px`;
  }

  function onClick(info) {
    if (!info || !info.object || !info.layer) return;
    const p = info.object.properties || {};
    if (info.layer.id === "areas" && p.code) openArea(p.code, { tileProps: p });
  }

  // ------------------------------------------------------------------ panel

  function selectTab(name, opts) {
    const options = opts || {};
    state.tab = name;
    for (const tab of TABS) {
      const selected = tab === name;
      $(`tab-${tab}`).setAttribute("aria-selected", String(selected));
      $(`tab-${tab}`).tabIndex = selected ? 0 : -1;
      $(`pane-${tab}`).hidden = !selected;
    }
    if (name === "matrix") loadMatrix();
    if (name === "quality") loadQuality();
    if (name === "service") loadService();
    if (name === "area" && !state.selected) showAreaList();
    if (options.history !== false) saveUrl(true);
  }

  function figureList(rows) {
    const dl = el("dl", { className: "figures" });
    for (const [k, v] of rows) dl.append(el("dt", { text: k }), el("dd", { text: v }));
    return dl;
  }

  async function showAreaList() {
    const pane = $("pane-area");
    const token = ++state.token;
    const level = levelOf(state.layer);
    const intro = el("p", { className: "hint", text: "Click an area on the map, search, or pick one from this list (Tab to it, Enter to open)." });
    pane.replaceChildren(intro);
    if (!level) return;
    try {
      const areas = await areaList(state.layer);
      if (token !== state.token) return;
      const title = (state.spec.layers.find((l) => l.name === state.layer) || {}).title || "Areas";
      pane.replaceChildren(intro, el("h2", { id: "area-list-title", text: title }),
        el("ul", { id: "area-list", className: "area-list", "aria-labelledby": "area-list-title" },
          areas.map((a) => el("li", {}, el("button", { type: "button", "data-code": a.code, text: a.name,
            onclick: () => openArea(a.code, { fit: true, focus: true }) })))));
    } catch (error) {
      pane.append(el("p", { className: "error", text: `The list of areas could not be loaded: ${error.message}` }));
    }
  }

  function clearArea() {
    state.selected = null;
    render();
    showAreaList();
    saveUrl(true);
  }

  async function openArea(code, opts) {
    const options = opts || {};
    state.selected = code;
    render();
    if (state.tab !== "area") selectTab("area", { history: false });
    if (options.history !== false) saveUrl(true);
    const token = ++state.token;
    const pane = $("pane-area");
    pane.replaceChildren(el("p", { text: "Loading…" }));
    try {
      const feature = await getJSON(`/api/v1/areas/${encodeURIComponent(code)}`);
      if (token !== state.token) return;
      const p = feature.properties;
      state.selectedFeature = feature;
      render();
      if (options.fit) {
        const bbox = bboxOf(feature.geometry);
        if (bbox) setView(fitView(bbox), true);
      }
      const parts = [
        el("button", { type: "button", className: "linkish", id: "area-back", text: "‹ All areas", onclick: clearArea }),
        el("h2", { id: "area-name", tabindex: "-1", text: p.name }),
        figureList([
          ["Code", p.code],
          ["Level", p.level],
          ["Households", fmt(p.households, "int")],
          ["Part of", p.parent_code || "–"],
          ["Area", p.area_km2 ? `${fmt(p.area_km2, "num", 2)} km²` : "–"],
        ]),
      ];
      parts[2].id = "area-figures";
      const tileProps = options.tileProps;
      if (state.service && tileProps) {
        parts.push(el("h3", { text: serviceName(state.service) }));
        parts.push(figureList(state.spec.measures.filter((m) => m.service && tileProps[m.id] !== undefined)
          .map((m) => [m.label, fmt(tileProps[m.id], m.format)])));
      }
      const profilePath = "/api/v1/areas/{code}/profile";
      const links = el("ul", { className: "links" });
      const enc = encodeURIComponent(code);
      if (hasPath("/areas/{code}/report")) {
        links.append(el("li", { id: "report-item" }, signedIn()
          ? el("a", { href: `/areas/${enc}/report`, id: "report-link", onclick: (e) => openAuthed(e, `/areas/${enc}/report`, null), text: "Community report (printable)" })
          : el("span", { className: "hint", text: "Community report: sign in as an officer" })));
      }
      if (signedIn() && hasPath("/api/v1/areas/{code}/profile.pdf")) {
        const pdf = `/api/v1/areas/${enc}/profile.pdf`;
        links.append(el("li", {}, el("a", { href: pdf, id: "profile-pdf-link", onclick: (e) => openAuthed(e, pdf, `profile_${code}.pdf`),
          text: "Community profile (PDF)" })));
        if (p.level === "ward" && p.parent_code && hasPath("/api/v1/districts/{code}/profiles.pdf")) {
          const batch = `/api/v1/districts/${encodeURIComponent(p.parent_code)}/profiles.pdf`;
          links.append(el("li", {}, el("a", { href: batch, id: "district-pdf-link",
            onclick: (e) => openAuthed(e, batch, `profiles_${p.parent_code}_wards.pdf`), text: "Every ward of the district (PDF)" })));
        }
      }
      if (hasPath("/api/v1/matrix")) {
        const svc = state.service ? `&service=${encodeURIComponent(state.service)}` : "";
        const url = `/api/v1/matrix?level=oa&area=${enc}${svc}&format=csv`;
        links.append(el("li", {}, el("a", { href: url, onclick: (e) => openAuthed(e, url, `${code}_output_areas.csv`),
          text: "Output areas by segment (CSV)" })));
      }
      // A download, not a navigation: the page (and its state) stays where it is.
      links.append(el("li", {}, el("a", { href: `/api/v1/areas/${enc}`, id: "geojson-link", download: `${code}.geojson`,
        onclick: (e) => openAuthed(e, `/api/v1/areas/${enc}`, `${code}.geojson`), text: "Boundary (GeoJSON download)" })));
      parts.push(links);
      pane.replaceChildren(...parts);
      if (options.focus) $("area-name").focus();
      if (hasPath(profilePath) && signedIn()) loadProfile(code, pane, token);
      else if (hasPath(profilePath)) pane.append(el("p", { className: "hint", id: "profile-hint", text: "Sign in as an officer for the community profile." }));
    } catch (error) {
      if (token !== state.token) return;
      pane.replaceChildren(el("p", { className: "error", text: `Could not load ${code}: ${error.message}` }));
    }
  }

  async function openAuthed(event, url, filename) {
    // Officer-only documents need the bearer key, which a plain link cannot send.
    event.preventDefault();
    try {
      const response = await fetch(url, { headers: authHeaders() });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      let blob = await response.blob();
      if (!filename && (blob.type || "").startsWith("text/html")) {
        // A page opened from a blob: URL has no base to resolve its stylesheet against.
        const html = await blob.text();
        blob = new Blob([html.replace("<head>", `<head><base href="${location.origin}/">`)], { type: "text/html" });
      }
      const blobUrl = URL.createObjectURL(blob);
      const a = el("a", { href: blobUrl, download: filename || null, target: filename ? null : "_blank", rel: "noopener" });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(blobUrl), 60000);
      status(filename ? `Downloaded ${filename}.` : "");
    } catch (error) {
      status(`Could not open ${url}: ${error.message}`);
    }
  }

  function tableCsv(tableEl) {
    const q = (s) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
    return [...tableEl.querySelectorAll("tr")].map((tr) => [...tr.children].map((c) => q(c.dataset.value ?? c.textContent.trim())).join(",")).join("\r\n");
  }

  // Each table gets a CSV button and an XLSX button: what is on screen, as numbers (no separators).
  function withCsv(tableEl, filename) {
    const button = el("button", { type: "button", className: "csv", text: "Download CSV",
      onclick: () => download(new Blob([`${tableCsv(tableEl)}\r\n`], { type: "text/csv" }), filename) });
    const wrap = el("div", { className: "table-wrap" }, tableEl, button);
    if (hasPath("/api/v1/exports/table.xlsx")) {
      wrap.append(el("button", { type: "button", className: "xlsx", text: "Download XLSX",
        onclick: () => tableXlsx(tableEl, filename.replace(/\.csv$/, ".xlsx")) }));
    }
    return wrap;
  }

  // The table as the server's one-sheet workbook (POST /api/v1/exports/table.xlsx): numbers
  // from each cell's data-value, text otherwise.
  async function tableXlsx(tableEl, filename) {
    const value = (c) => {
      const raw = c.dataset.value ?? c.textContent.trim();
      if (raw === "") return null;
      const n = Number(raw);
      return c.dataset.value !== undefined && Number.isFinite(n) ? n : raw;
    };
    const trs = [...tableEl.querySelectorAll("tr")];
    const body = {
      title: (tableEl.querySelector("caption") || {}).textContent || filename,
      columns: [...trs[0].children].map((c) => c.textContent.trim()),
      rows: trs.slice(1).map((tr) => [...tr.children].map(value)),
    };
    try {
      const response = await fetch("/api/v1/exports/table.xlsx", { method: "POST",
        headers: { "Content-Type": "application/json", ...authHeaders() }, body: JSON.stringify(body) });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      download(await response.blob(), filename);
      status(`Downloaded ${filename}.`);
    } catch (error) {
      status(`Could not make ${filename}: ${error.message}`);
    }
  }

  function table(caption, cols, rows) {
    return el("table", { className: "profile" },
      el("caption", { text: caption }),
      el("thead", {}, el("tr", {}, cols.map(([, label]) => el("th", { scope: "col", text: label })))),
      el("tbody", {}, rows.map((r) => el("tr", {}, cols.map(([key, , format], i) => (i === 0
        ? el("th", { scope: "row", text: fmt(r[key]) })
        : el("td", { text: fmt(r[key], format), "data-value": r[key] === null || r[key] === undefined ? "" : String(r[key]) })))))));
  }

  async function loadProfile(code, pane, token) {
    try {
      const profile = await getJSON(`/api/v1/areas/${encodeURIComponent(code)}/profile`);
      if (token !== state.token || !signedIn()) return;
      const box = el("section", { id: "area-profile", "aria-label": "Community profile" });
      box.append(el("h3", { text: "Community profile" }));
      if (profile.pen_portrait) box.append(el("p", { className: "portrait", text: profile.pen_portrait }));
      box.append(spineWithComparator(code, profile, token));
      box.append(withCsv(table("Households by segment (index 100 = district share)",
        [["name", "Segment"], ["households", "Households", "int"], ["pct", "%", "num"], ["index", "Index", "int"]],
        profile.segments || []), `${code}_segments.csv`));
      box.append(withCsv(table("Service take-up against what the mix predicts (ratio 100 = as expected)",
        [["name", "Service"], ["observed", "Observed", "int"], ["expected", "Expected", "num"], ["ratio", "Ratio", "int"]],
        profile.services || []), `${code}_services.csv`));
      if ((profile.key_issues || []).length) {
        box.append(el("h3", { text: "Key issues" }),
          el("ul", {}, profile.key_issues.map((k) => el("li", { text: `${k.name} (index ${fmt(k.district_index, "int")})` }))));
      }
      pane.append(box);
    } catch (error) {
      if (token !== state.token) return;
      pane.append(el("p", { className: "hint", text: `Profile unavailable: ${error.message}` }));
    }
  }

  // A spine chart: each segment's share here against the district's (the comparator), as a
  // bar either side of the district line at 100.
  function spineChart(segments, comparatorLabel) {
    const against = comparatorLabel || "District";
    const rows = segments.filter((s) => typeof s.index === "number");
    if (!rows.length) return null;
    const width = 300;
    const rowH = 18;
    const label = 120;
    const mid = label + (width - label) / 2;
    const maxDev = Math.max(50, ...rows.map((s) => Math.abs(s.index - 100)));
    const scale = (width - label) / 2 / maxDev;
    const chart = svg("svg", { class: "spine", viewBox: `0 0 ${width} ${rows.length * rowH + 20}`, role: "img",
      "aria-label": `Spine chart: each segment's share of households here against the ${against.toLowerCase()} (100). ${rows.map((s) => `${s.name} ${Math.round(s.index)}`).join(", ")}.` });
    rows.forEach((s, i) => {
      const y = i * rowH + 4;
      const dev = (s.index - 100) * scale;
      chart.append(svg("text", { x: "0", y: String(y + 11), class: "spine-label", text: s.name.length > 20 ? `${s.name.slice(0, 19)}…` : s.name }));
      chart.append(svg("rect", { x: String(dev < 0 ? mid + dev : mid), y: String(y + 2), width: String(Math.max(1, Math.abs(dev))), height: String(rowH - 6),
        fill: dev < 0 ? "#b35806" : "#542788" }));
    });
    chart.append(svg("line", { x1: String(mid), x2: String(mid), y1: "0", y2: String(rows.length * rowH + 6), stroke: "#1d1d1f", "stroke-width": "1" }));
    chart.append(svg("text", { x: String(mid), y: String(rows.length * rowH + 18), "text-anchor": "middle", class: "spine-label", text: `${against} = 100` }));
    return el("figure", { className: "spine-figure" }, chart,
      el("figcaption", { text: `Households by segment against the ${against.toLowerCase()}: bars right of the line are over-represented here.` }));
  }

  // ------------------------------------------------------------------ spine comparator (issue 20)
  // The profile's spine chart can compare the area with its district, its parent area or the
  // mean of its k most similar areas (GET /areas/{code}/profile?comparator=similar&k=5).

  function comparatorRows(segments) {
    return segments.map((s) => ({ ...s, index: typeof s.comparator_index === "number" ? s.comparator_index : s.index }));
  }

  function comparatorLabel(comparator) {
    if (!comparator || comparator.kind === "district") return "District";
    if (comparator.kind === "parent") return `Parent (${comparator.label})`;
    return `Mean of ${comparator.k} similar areas`;
  }

  function spineWithComparator(code, profile, token) {
    const wrap = el("div", { id: "spine-comparator" });
    const pick = el("select", { id: "spine-comparator-kind", "aria-label": "Compare the spine chart with" },
      el("option", { value: "district", text: "the district" }),
      el("option", { value: "parent", text: "the parent area", disabled: !(profile.parent) }),
      el("option", { value: "similar", text: "similar areas (mean)" }));
    const k = el("input", { id: "spine-comparator-k", type: "number", min: "1", max: "50", value: "5", "aria-label": "How many similar areas" });
    let chart = spineChart(comparatorRows(profile.segments || []), comparatorLabel(profile.comparator));
    const redraw = async () => {
      const params = new URLSearchParams({ comparator: pick.value });
      if (pick.value === "similar") params.set("k", String(Math.max(1, Math.min(50, Number(k.value) || 5))));
      try {
        const next = await getJSON(`/api/v1/areas/${encodeURIComponent(code)}/profile?${params}`);
        if (token !== state.token) return;
        state.spineComparator = next.comparator;
        const fresh = spineChart(comparatorRows(next.segments || []), comparatorLabel(next.comparator));
        if (chart && fresh) chart.replaceWith(fresh);
        else if (fresh) wrap.append(fresh);
        chart = fresh;
      } catch (error) {
        status(`Could not compare: ${error.message}`);
      }
    };
    pick.addEventListener("change", redraw);
    k.addEventListener("change", () => { if (pick.value === "similar") redraw(); });
    state.spineComparator = profile.comparator || null;
    wrap.append(el("label", { className: "spine-compare", text: "Compare with " }, pick, " k ", k));
    if (chart) wrap.append(chart);
    return wrap;
  }

  // ------------------------------------------------------------------ combined hot spots (issue 20)
  // Several services at once: weighted Stouffer's Z per area (GET /api/v1/hotspots/combined),
  // drawn as their own GeoJSON layer above the choropleth (hot red, not blue, the rest left
  // clear); the tooltip lists each area's contributing services.

  const COMBINED_LAYER = "combined-hotspots";
  const COMBINED_COLOURS = { hot: [215, 48, 39], not: [69, 117, 180] };

  function combinedFill(feature) {
    const colour = COMBINED_COLOURS[feature.properties.class];
    return colour ? [...colour, 200] : [0, 0, 0, 0];
  }

  function combinedHotspotsLayer(base) {
    if (!base.planning) return null;
    const data = state.combined || { type: "FeatureCollection", features: [] };
    return base.planning.clone({
      id: COMBINED_LAYER,
      data,
      visible: Boolean(state.combined),
      pickable: true,
      filled: true,
      stroked: true,
      getFillColor: combinedFill,
      getLineColor: [60, 60, 60, 160],
      getLineWidth: 1,
      updateTriggers: { getFillColor: state.combinedVersion, getLineColor: state.combinedVersion },
    });
  }

  function combinedTooltip(p) {
    const lines = [`${p.name || p.code} (${p.code})`, `Combined hot spots: ${p["class"] === "not" ? "cold spot" : (p["class"] || "hidden").replace("_", " ")}`];
    if (typeof p.z === "number") lines.push(`Z ${fmt(p.z, "num", 2)}, q ${fmt(p.q_value, "num", 4)}`);
    const contributing = p.contributing || [];
    if (contributing.length) {
      lines.push("Contributing services:");
      for (const c of contributing) {
        lines.push(`  ${serviceName(c.service)}: z ${fmt(c.z, "num", 2)}${c.significant ? " (significant alone)" : ""}`);
      }
    }
    return lines.join("\n");
  }

  function buildCombinedControls() {
    const box = $("combined");
    if (!box || !hasPath("/api/v1/hotspots/combined")) return;
    box.hidden = false;
    $("combined-services").replaceChildren(...state.spec.services.map((s) => el("label", { className: "choice" },
      el("input", { type: "checkbox", name: "combined-service", value: s.code }), ` ${s.name}`)));
    $("combined-show").addEventListener("click", loadCombined);
    $("combined-clear").addEventListener("click", () => {
      state.combined = null;
      state.combinedVersion = (state.combinedVersion || 0) + 1;
      $("combined-summary").textContent = "";
      render();
    });
  }

  async function loadCombined() {
    const services = [...document.querySelectorAll("input[name=combined-service]:checked")].map((i) => i.value);
    const summary = $("combined-summary");
    if (services.length < 2) {
      summary.textContent = "Choose two services or more.";
      return;
    }
    const params = new URLSearchParams({ level: $("combined-level").value });
    for (const s of services) params.append("services", s);
    summary.textContent = "Combining…";
    try {
      const body = await getJSON(`/api/v1/hotspots/combined?${params}`);
      state.combined = body;
      state.combinedVersion = (state.combinedVersion || 0) + 1;
      const hot = body.features.filter((f) => f.properties["class"] === "hot").length;
      const cold = body.features.filter((f) => f.properties["class"] === "not").length;
      summary.textContent = `${hot} hot and ${cold} cold of ${body.features.length} areas (${services.map(serviceName).join(", ")}).`;
      render();
    } catch (error) {
      summary.textContent = `Could not combine: ${error.message}`;
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
      const m = await getJSON(`/api/v1/matrix?level=ward${svc}${panelParams()}`);
      pane.replaceChildren(withCsv(matrixTable(m), `wards_by_segment${state.service ? `_${state.service}` : ""}.csv`));
    } catch (error) {
      pane.replaceChildren(el("p", { className: "error", text: `Matrix unavailable: ${error.message}` }));
    }
  }

  function luminance(c) {
    const [r, g, b] = c.map((v) => {
      const x = v / 255;
      return x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  }

  // Black or white text, whichever contrasts more with the cell's colour (WCAG ratio).
  function inkFor(c) {
    const l = luminance(c);
    return (l + 0.05) / 0.05 >= 1.05 / (l + 0.05) ? "ink-dark" : "ink-light";
  }

  function matrixTable(m) {
    // Issue 4's long form: {areas: [{code, name}], segments: [{code, name}], cells: [{area_code, segment, index}]}.
    const measure = m.service ? "index" : "households_index";
    const segments = (m.segments || []).filter((sg) => sg.code !== "Total");
    const areas = (m.areas || []).filter((a) => a.code !== "Total");
    const at = {};
    for (const c of m.cells || []) at[`${c.area_code}|${c.segment}`] = c[measure];
    const t = el("table", { className: "matrix" },
      el("caption", { text: `${m.service ? "Take-up index" : "Households index"} by ward and segment (100 = district average; purple above, orange below). Select a ward to show it on the map.` }),
      el("thead", {}, el("tr", {}, el("th", { scope: "col", text: "Ward" }),
        segments.map((sg) => el("th", { scope: "col", abbr: sg.code, text: sg.name || sg.code })))));
    const body = el("tbody");
    const flat = Object.values(at).filter((v) => typeof v === "number" && v > 0);
    const m0 = Math.max(0.05, ...flat.map((v) => Math.abs(Math.log(v / 100))));
    for (const a of areas) {
      const select = () => {
        if (state.layer !== "wards") setLayer("wards");
        openArea(a.code, { fit: true });
      };
      const row = el("tr", { tabindex: "0", "data-code": a.code, onclick: select,
        onkeydown: (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); select(); } } },
        el("th", { scope: "row", text: a.name || a.code }));
      for (const sg of segments) {
        const v = at[`${a.code}|${sg.code}`];
        const td = el("td", { text: fmt(v, "int"), "data-value": typeof v === "number" ? String(v) : "" });
        if (typeof v === "number" && v > 0) {
          const t0 = 0.5 + Math.log(v / 100) / (2 * m0);
          const colour = ramp("puor", t0);
          td.classList.add("cell", inkFor(colour));
          td.style.backgroundColor = rgb(colour); // CSSOM, which the CSP allows (unlike style="")
        }
        row.append(td);
      }
      body.append(row);
    }
    t.append(body);
    return t;
  }

  async function loadService() {
    const pane = $("pane-service");
    if (!state.service) {
      pane.replaceChildren(el("p", { className: "hint", text: "Choose a service under Choropleth to see which segments use it more or less than their share of households." }));
      return;
    }
    if (!hasPath("/api/v1/services/{service}/propensity")) {
      pane.replaceChildren(el("p", { className: "hint", text: "The propensity table is not available on this server yet." }));
      return;
    }
    const service = state.service;
    pane.replaceChildren(el("p", { text: "Loading…" }));
    try {
      const body = await getJSON(`/api/v1/services/${encodeURIComponent(service)}/propensity?${panelParams().slice(1)}`);
      if (service !== state.service) return;
      const rows = (body.rows || []).filter((r) => r.segment !== "Total" && r.code !== "Total");
      const name = (r) => r.segment_name || r.name || r.segment || r.code;
      const chart = propensityChart(rows, name);
      const cols = [["segment_name", "Segment"], ["base", "Households", "int"], ["target", "Users", "int"],
        ["index", "Index", "int"], ["ci_low", "95% CI low", "int"], ["ci_high", "95% CI high", "int"]];
      const t = table(`Propensity to use ${serviceName(service)} by segment (index 100 = as its share of households)`,
        cols.filter(([k]) => rows.some((r) => r[k] !== undefined) || k === "segment_name"), rows.map((r) => ({ ...r, segment_name: name(r) })));
      t.id = "propensity-table";
      pane.replaceChildren(el("h2", { text: serviceName(service) }), chart, withCsv(t, `propensity_${service}.csv`));
    } catch (error) {
      pane.replaceChildren(el("p", { className: "error", text: `Propensity unavailable: ${error.message}` }));
    }
  }

  function propensityChart(rows, name) {
    const data = rows.filter((r) => typeof r.index === "number");
    if (!data.length) return el("p", { className: "hint", text: "No segment has enough use for an index." });
    const width = 300;
    const rowH = 20;
    const label = 120;
    const hi = Math.max(200, ...data.map((r) => (typeof r.ci_high === "number" ? r.ci_high : r.index)));
    const x = (v) => label + ((width - label - 10) * Math.min(v, hi)) / hi;
    const chart = svg("svg", { id: "propensity-chart", class: "spine", viewBox: `0 0 ${width} ${data.length * rowH + 22}`, role: "img",
      "aria-label": `Index by segment: ${data.map((r) => `${name(r)} ${Math.round(r.index)}`).join(", ")}.` });
    data.forEach((r, i) => {
      const y = i * rowH + 4;
      chart.append(svg("text", { x: "0", y: String(y + 12), class: "spine-label", text: String(name(r)).slice(0, 20) }));
      chart.append(svg("rect", { x: String(label), y: String(y + 3), width: String(Math.max(1, x(r.index) - label)), height: String(rowH - 8), fill: r.index >= 100 ? "#542788" : "#b35806" }));
      if (typeof r.ci_low === "number" && typeof r.ci_high === "number") {
        chart.append(svg("line", { x1: String(x(r.ci_low)), x2: String(x(r.ci_high)), y1: String(y + rowH / 2), y2: String(y + rowH / 2), stroke: "#1d1d1f", "stroke-width": "1.5" }));
      }
    });
    chart.append(svg("line", { x1: String(x(100)), x2: String(x(100)), y1: "0", y2: String(data.length * rowH + 6), stroke: "#1d1d1f", "stroke-dasharray": "3 2" }));
    chart.append(svg("text", { x: String(x(100)), y: String(data.length * rowH + 18), "text-anchor": "middle", class: "spine-label", text: "100 = as expected" }));
    return el("figure", { className: "spine-figure" }, chart, el("figcaption", { text: "Bars: index; lines: 95% confidence interval." }));
  }

  async function loadQuality() {
    const pane = $("pane-quality");
    const path = "/api/v1/ingest/batches";
    if (!hasPath(path)) {
      pane.replaceChildren(el("p", { className: "hint", text: "Ingest reports are not available on this server yet." }));
      return;
    }
    if (!signedIn()) {
      pane.replaceChildren(el("p", { className: "hint", text: "Sign in with an officer key to see the ingest quality reports." }));
      return;
    }
    pane.replaceChildren(el("p", { text: "Loading…" }));
    try {
      const body = await getJSON(path);
      if (!signedIn()) return;
      const batches = Array.isArray(body) ? body : body.batches || body.items || [];
      if (!batches.length) {
        pane.replaceChildren(el("p", { className: "hint", id: "quality-empty", text: "No file has been loaded yet: upload one with `wardwise ingest` or POST /api/v1/ingest." }));
        return;
      }
      const cols = ["id", "kind", "filename", "status", "rows_received", "rows_loaded", "rows_rejected", "started_at"];
      const rejected = (b) => {
        if (!b.rows_rejected) return el("td", { text: "0" });
        const url = `/api/v1/ingest/batches/${encodeURIComponent(b.id)}/rejected.csv`;
        return el("td", {}, el("a", { href: url, onclick: (e) => openAuthed(e, url, `batch_${b.id}_rejected.csv`),
          text: fmt(b.rows_rejected, "int") }));
      };
      const t = el("table", { className: "quality" },
        el("caption", { text: "Ingest batches: rows received, loaded and rejected (rejected rows as CSV)" }),
        el("thead", {}, el("tr", {}, cols.map((c) => el("th", { scope: "col", text: c.replace(/_/g, " ") })))),
        el("tbody", {}, batches.map((b) => el("tr", {}, cols.map((c) => (c === "rows_rejected" ? rejected(b)
          : el("td", { text: c === "started_at" ? String(b[c]).slice(0, 16).replace("T", " ") : fmt(b[c]) })))))));
      pane.replaceChildren(withCsv(t, "ingest_batches.csv"));
    } catch (error) {
      pane.replaceChildren(el("p", { className: "error", text: `Ingest reports unavailable: ${error.message}` }));
    }
  }

  // ------------------------------------------------------------------ period, polarity, manual breaks (issue 14)

  function serviceSpec(code) {
    return state.spec.services.find((x) => x.code === code) || null;
  }

  // The months the time slider steps over: the service's first to last month of events.
  function serviceMonths(code) {
    const s = serviceSpec(code);
    if (!s || !s.first || !s.last) return [];
    const out = [];
    let [y, m] = s.first.slice(0, 7).split("-").map(Number);
    const [ly, lm] = s.last.slice(0, 7).split("-").map(Number);
    while (y < ly || (y === ly && m <= lm)) {
      out.push(`${y}-${String(m).padStart(2, "0")}`);
      m += 1;
      if (m > 12) {
        m = 1;
        y += 1;
      }
    }
    return out;
  }

  function monthEnd(month) {
    const [y, m] = month.split("-").map(Number);
    return `${month}-${String(new Date(Date.UTC(y, m, 0)).getUTCDate()).padStart(2, "0")}`;
  }

  function monthLabel(month) {
    const [y, m] = month.split("-").map(Number);
    return new Date(Date.UTC(y, m - 1, 1)).toLocaleDateString(GB, { month: "short", year: "numeric", timeZone: "UTC" });
  }

  // The date range as query parameters (only with a service; a month left open is not sent).
  function dateParams() {
    const out = {};
    if (!state.service) return out;
    if (state.dateFrom) out.date_from = `${state.dateFrom}-01`;
    if (state.dateTo) out.date_to = monthEnd(state.dateTo);
    return out;
  }

  // "&date_from=…&date_to=…&classification=…" for the panels' requests ("" when none apply).
  function panelParams() {
    const q = new URLSearchParams(dateParams());
    if (state.classification) q.set("classification", state.classification);
    const s = q.toString();
    return s ? `&${s}` : "";
  }

  // Is a high figure of the chosen service bad news? Then the palette runs the other way,
  // so the "good" end keeps its colour across services. Households and unmet demand keep
  // their own direction (more unmet demand is always worse).
  function flipped() {
    const s = state.service && serviceSpec(state.service);
    return Boolean(s && s.polarity === "high_bad" && ["takeup", "events", "ratio"].includes(state.measure));
  }

  // The manual breaks in the data's units (legend percentages and indices are divided by
  // 100), or null when what was typed is not ascending numbers.
  function manualEdges() {
    const parts = state.edges.split(/[,;\s]+/).filter(Boolean);
    if (!parts.length || parts.length > 8) return null;
    const values = parts.map(Number);
    if (!values.every(Number.isFinite)) return null;
    if (values.some((v, i) => i > 0 && v <= values[i - 1])) return null;
    const scale = ["pct", "index"].includes(measureSpec(state.measure).format) ? 100 : 1;
    return values.map((v) => Number((v / scale).toPrecision(12)));
  }

  function manualError() {
    return `"${state.edges}" is not up to 8 ascending numbers separated by commas`;
  }

  function syncPeriod14() {
    const box = $("period");
    const months = state.service ? serviceMonths(state.service) : [];
    const from = $("period-from");
    const to = $("period-to");
    box.hidden = months.length === 0 && $("classification").options.length <= 1;
    for (const input of [from, to, $("period-all")]) {
      input.hidden = months.length === 0;
      if (input.labels) for (const l of input.labels) l.hidden = months.length === 0;
    }
    if (months.length) {
      from.max = String(months.length - 1);
      to.max = String(months.length - 1);
      const i = state.dateFrom ? months.indexOf(state.dateFrom) : 0;
      const j = state.dateTo ? months.indexOf(state.dateTo) : months.length - 1;
      from.value = String(i < 0 ? 0 : i);
      to.value = String(j < 0 ? months.length - 1 : j);
      showPeriodLabels(months);
    }
    $("classification").value = state.classification;
    $("manual-breaks").hidden = state.method !== "manual";
    $("manual-edges").value = state.edges;
  }

  function showPeriodLabels(months) {
    const from = months[Number($("period-from").value)];
    const to = months[Number($("period-to").value)];
    $("period-from-label").value = from ? monthLabel(from) : "";
    $("period-to-label").value = to ? monthLabel(to) : "";
    $("period-from").setAttribute("aria-valuetext", from ? monthLabel(from) : "");
    $("period-to").setAttribute("aria-valuetext", to ? monthLabel(to) : "");
  }

  // What depends on the period or the segmentation is fetched again: tiles (their URL
  // changes), class breaks and the open panels.
  function refreshPanels14() {
    if (state.tab === "matrix") loadMatrix();
    if (state.tab === "service") loadService();
  }

  function applyPeriod(fromIndex, toIndex) {
    const months = serviceMonths(state.service);
    if (!months.length) return;
    let i = Math.max(0, Math.min(fromIndex, months.length - 1));
    let j = Math.max(0, Math.min(toIndex, months.length - 1));
    if (i > j) [i, j] = [j, i];
    state.dateFrom = i === 0 ? null : months[i];
    state.dateTo = j === months.length - 1 ? null : months[j];
    syncPeriod14();
    state.domain = null;
    render();
    loadBreaks();
    refreshPanels14();
    saveUrl(true);
  }

  function legendNotes14() {
    const notes = [];
    if (!state.spec) return notes;
    if (state.service && (state.dateFrom || state.dateTo) && measureSpec(state.measure).service) {
      const months = serviceMonths(state.service);
      notes.push(el("p", { className: "legend-note", id: "legend-period",
        text: `Events from ${monthLabel(state.dateFrom || months[0])} to ${monthLabel(state.dateTo || months[months.length - 1])}.` }));
      if (!layerSpec(state.layer).areas) notes.push(el("p", { className: "legend-note", text: "The period applies to area layers; hexagons count every event." }));
    }
    if (flipped()) {
      notes.push(el("p", { className: "legend-note", id: "legend-polarity",
        text: `For ${serviceName(state.service)} a high figure is bad news: the colours run the other way.` }));
    }
    if (state.method === "manual" && state.breaksFor === breaksKey()) {
      notes.push(el("p", { className: "legend-note", text: "Manual breaks: the first and last classes reach the lowest and highest areas." }));
    }
    return notes;
  }

  function buildControls14() {
    const from = $("period-from");
    const to = $("period-to");
    for (const input of [from, to]) {
      input.addEventListener("input", () => showPeriodLabels(serviceMonths(state.service)));
      input.addEventListener("change", () => applyPeriod(Number(from.value), Number(to.value)));
    }
    $("period-all").addEventListener("click", () => applyPeriod(0, serviceMonths(state.service).length - 1));
    const applyEdges = () => {
      state.edges = $("manual-edges").value.trim();
      loadBreaks();
      saveUrl(true);
    };
    $("manual-apply").addEventListener("click", applyEdges);
    $("manual-edges").addEventListener("keydown", (e) => {
      if (e.key === "Enter") {
        e.preventDefault();
        applyEdges();
      }
    });
    const cls = $("classification");
    cls.addEventListener("change", () => {
      state.classification = cls.value;
      refreshPanels14();
      saveUrl(true);
    });
    if (hasPath("/api/v1/classifications")) {
      getJSON("/api/v1/classifications").then((list) => {
        cls.replaceChildren(el("option", { value: "", text: "(default)" }),
          ...list.map((c) => el("option", { value: c.code, text: c.name || c.code })));
        if (state.classification && !list.some((c) => c.code === state.classification)) {
          cls.append(el("option", { value: state.classification, text: state.classification }));
        }
        syncPeriod14();
      }).catch(() => {});
    }
    syncPeriod14();
  }

  // ------------------------------------------------------------------ map context (issue 14)

  // Ward names at a point inside each ward and the district outline, from
  // /api/v1/map/labels.json; fetched once the first tiles are drawn (first paint first).
  function loadContext14() {
    if (state.context || state.contextLoading || !hasPath("/api/v1/map/labels.json")) return;
    state.contextLoading = true;
    getJSON("/api/v1/map/labels.json").then((body) => {
      state.context = body;
      render();
    }).catch(() => {}).finally(() => { state.contextLoading = false; });
  }

  function contextLayers14(overlays) {
    if (!overlays) return [];
    loadContext14();
    const ctx = state.context;
    const visible = Boolean(ctx && state.overlays.labels);
    const out = [];
    if (state.baseLayers.planning) {
      out.push(state.baseLayers.planning.clone({
        id: "district-outline",
        data: ctx ? ctx.districts : { type: "FeatureCollection", features: [] },
        visible,
        pickable: false,
        filled: false,
        stroked: true,
        getLineColor: [18, 48, 79, 255],
        getLineWidth: 3,
        lineWidthUnits: "pixels",
        updateTriggers: { getLineColor: 2 },
      }));
    }
    const TextLayer = window.deck && window.deck.TextLayer;
    if (TextLayer) {
      out.push(new TextLayer({
        id: "ward-labels",
        data: ctx ? ctx.labels : [],
        visible,
        pickable: false,
        getPosition: (d) => [d.lon, d.lat],
        getText: (d) => d.name,
        getSize: 12,
        // drawn just above the ward's inner point, which stays clear to show the ward's colour
        getPixelOffset: [0, -7],
        getAlignmentBaseline: "bottom",
        getColor: [29, 29, 31, 255],
        fontFamily: "system-ui, sans-serif",
        fontSettings: { sdf: true },
        outlineWidth: 3,
        outlineColor: [255, 255, 255, 230],
        characterSet: "auto",
        sizeMinPixels: 10,
      }));
    }
    return out;
  }

  // ------------------------------------------------------------------ the URL

  function urlState() {
    const q = new URLSearchParams();
    q.set("layer", state.layer);
    if (state.service) q.set("service", state.service);
    q.set("measure", state.measure);
    if (state.method !== "quantile") q.set("method", state.method);
    if (state.view) q.set("view", [state.view.longitude.toFixed(5), state.view.latitude.toFixed(5), state.view.zoom.toFixed(2)].join(","));
    if (state.selected) q.set("area", state.selected);
    if (state.tab !== "area") q.set("tab", state.tab);
    if (state.service && state.dateFrom) q.set("from", state.dateFrom);
    if (state.service && state.dateTo) q.set("to", state.dateTo);
    if (state.classification) q.set("classification", state.classification);
    if (state.method === "manual" && state.edges) q.set("edges", state.edges);
    return `#${q}`;
  }

  // Discrete choices push a history entry; panning and zooming only replace the current one.
  function saveUrl(push) {
    if (state.restoring || !state.ready) return;
    const hash = urlState();
    if (hash === location.hash) return;
    if (push) history.pushState(null, "", hash);
    else history.replaceState(null, "", hash);
  }

  function readUrl() {
    const q = new URLSearchParams(location.hash.replace(/^#/, ""));
    const out = {};
    const layer = q.get("layer");
    if (layer && state.spec.layers.some((l) => l.name === layer)) out.layer = layer;
    const service = q.get("service");
    out.service = service && state.spec.services.some((s) => s.code === service) ? service : "";
    const measure = q.get("measure");
    if (measure && state.spec.measures.some((m) => m.id === measure)) out.measure = measure;
    const method = q.get("method");
    out.method = method && (state.spec.break_methods || []).includes(method) ? method : "quantile";
    const view = (q.get("view") || "").split(",").map(Number);
    if (view.length === 3 && view.every(Number.isFinite)) out.view = { longitude: view[0], latitude: view[1], zoom: view[2] };
    const area = q.get("area");
    out.area = area && /^[A-Za-z0-9_-]{1,32}$/.test(area) ? area : null;
    const tab = q.get("tab");
    out.tab = TABS.includes(tab) ? tab : "area";
    const month = (v) => (v && /^\d{4}-(0[1-9]|1[0-2])$/.test(v) ? v : null);
    out.dateFrom = month(q.get("from"));
    out.dateTo = month(q.get("to"));
    const cls = q.get("classification");
    out.classification = cls && /^[A-Za-z0-9_-]{1,64}$/.test(cls) ? cls : "";
    const edges = q.get("edges");
    out.edges = edges && edges.length <= 200 ? edges : "";
    return out;
  }

  function applyUrl(initial) {
    const want = readUrl();
    state.restoring = true;
    try {
      const before = breaksKey();
      if (want.layer && want.layer !== state.layer) {
        state.layer = want.layer;
        state.domain = null;
      }
      state.service = want.service;
      if (want.measure) state.measure = want.measure;
      state.method = want.method;
      state.dateFrom = want.dateFrom;
      state.dateTo = want.dateTo;
      state.edges = want.edges;
      const panelsBefore = state.classification;
      state.classification = want.classification;
      syncControls();
      if (panelsBefore !== state.classification || before !== breaksKey()) refreshPanels14();
      render();
      if (want.view && !initial) setView(want.view, false);
      if (want.view) state.view = want.view;
      if (before !== breaksKey() || initial) loadBreaks();
      if (want.area !== state.selected || initial) {
        if (want.area) openArea(want.area, { history: false });
        else {
          state.selected = null;
          render();
        }
      }
      selectTab(want.tab, { history: false });
      showMapMessage();
    } finally {
      state.restoring = false;
    }
  }

  function syncControls() {
    for (const input of document.querySelectorAll("input[name=layer]")) input.checked = input.value === state.layer;
    $("service").value = state.service;
    fillMeasures();
    $("method").value = state.method;
    syncPeriod14();
  }

  // ------------------------------------------------------------------ controls

  function setLayer(name) {
    state.layer = name;
    state.domain = null;
    state.selected = null;
    for (const input of document.querySelectorAll("input[name=layer]")) input.checked = input.value === name;
    render();
    loadBreaks();
    if (state.tab === "area") showAreaList();
    saveUrl(true);
  }

  function buildControls() {
    const switcher = $("layer-switcher");
    for (const layer of state.spec.layers) {
      const id = `layer-${layer.name}`;
      switcher.append(el("label", { for: id, className: "choice" },
        el("input", { type: "radio", name: "layer", id, value: layer.name, checked: layer.name === state.layer,
          onchange: () => setLayer(layer.name) }),
        ` ${layer.title}`));
    }
    const service = $("service");
    for (const s of state.spec.services) service.append(el("option", { value: s.code, text: s.name }));
    $("scan-window").addEventListener("change", loadScan);
    service.addEventListener("change", () => {
      state.service = service.value;
      state.dateFrom = null; // each service has its own months
      state.dateTo = null;
      syncPeriod14();
      if ($("scan-window").value) loadScan();
      fillMeasures();
      state.domain = null;
      render();
      loadBreaks();
      if (!$("pane-matrix").hidden) loadMatrix();
      if (!$("pane-service").hidden) loadService();
      saveUrl(true);
    });
    fillMeasures();
    $("measure").addEventListener("change", (e) => {
      state.measure = e.target.value;
      render();
      loadBreaks();
      saveUrl(true);
    });
    const method = $("method");
    const names = { quantile: "Quantiles (equal counts)", equal: "Equal intervals", natural: "Natural breaks (k-means)", manual: "Manual (type the breaks)" };
    method.replaceChildren(...(state.spec.break_methods || ["quantile"]).map((m) => el("option", { value: m, text: names[m] || m })));
    method.addEventListener("change", () => {
      state.method = method.value;
      syncPeriod14();
      loadBreaks();
      saveUrl(true);
    });
    for (const name of ["roads", "sites", "labels"]) {
      $(`overlay-${name}`).addEventListener("change", (e) => {
        state.overlays[name] = e.target.checked;
        render();
      });
    }
    const tablist = document.querySelector(".tabs");
    for (const tab of TABS) $(`tab-${tab}`).addEventListener("click", () => selectTab(tab));
    tablist.addEventListener("keydown", (e) => {
      const i = TABS.indexOf(state.tab);
      const next = e.key === "ArrowRight" ? (i + 1) % TABS.length : e.key === "ArrowLeft" ? (i + TABS.length - 1) % TABS.length : -1;
      if (next >= 0) {
        e.preventDefault();
        selectTab(TABS[next]);
        $(`tab-${TABS[next]}`).focus();
      }
    });
    $("search").addEventListener("submit", (e) => {
      e.preventDefault();
      search($("search-q").value);
    });
    $("search").addEventListener("keydown", (e) => {
      if (e.key === "Escape") $("search-results").hidden = true;
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
    $("map-home").addEventListener("click", () => setView(homeView(), true));
    $("map-zoom-in").addEventListener("click", () => setView({ zoom: Math.min(18, currentView().zoom + 1) }, true));
    $("map-zoom-out").addEventListener("click", () => setView({ zoom: Math.max(8, currentView().zoom - 1) }, true));
    $("map-png").addEventListener("click", savePng);
    buildControls14();
    buildCombinedControls();
    showSignedIn();
  }

  function currentView() {
    return state.view || homeView();
  }

  function homeView() {
    const v = state.spec.deck.initialViewState;
    return { longitude: v.longitude, latitude: v.latitude, zoom: v.zoom };
  }

  // The map as a PNG: the canvas is read straight after deck.gl draws it (the drawing
  // buffer is not kept between frames).
  function savePng() {
    state.capture = (canvas) => {
      canvas.toBlob((blob) => {
        if (blob) download(blob, `wardwise_${state.layer}_${state.measure}.png`);
        state.lastPng = blob ? blob.size : 0;
      }, "image/png");
    };
    state.deck.redraw("png export");
  }

  function fillMeasures() {
    const select = $("measure");
    const available = state.spec.measures.filter((m) => !m.service || state.service);
    if (!available.some((m) => m.id === state.measure)) state.measure = available[available.length > 1 ? 1 : 0].id;
    select.replaceChildren(...available.map((m) => el("option", { value: m.id, text: m.label, selected: m.id === state.measure })));
    select.value = state.measure;
  }

  async function search(q) {
    const results = $("search-results");
    if (!q || q.trim().length < 2) return;
    try {
      const body = await getJSON(`/api/v1/search?q=${encodeURIComponent(q.trim())}&limit=8`);
      // A list of buttons (no listbox role around them: an option must not hold a control).
      results.replaceChildren(...body.places.map((place) => el("li", {},
        el("button", { type: "button", text: `${place.label} · ${place.kind}`, onclick: () => flyTo(place) }))));
      if (!body.places.length) results.replaceChildren(el("li", { className: "none", text: "Nothing found." }));
      results.hidden = false;
      const first = results.querySelector("button");
      if (body.places.length === 1) flyTo(body.places[0]);
      else if (first) first.focus();
    } catch (error) {
      results.replaceChildren(el("li", { className: "error", text: error.message }));
      results.hidden = false;
    }
  }

  async function flyTo(place) {
    $("search-results").hidden = true;
    const level = place.kind;
    const layerFor = { ward: "wards", lsoa: "lsoas", oa: "oas" }[level];
    if (place.bbox && layerFor) {
      // An area: fit it in the map with a margin, and open it.
      state.marker = null;
      if (state.layer !== layerFor) setLayer(layerFor);
      setView(fitView(place.bbox), true);
      status(`Showing ${place.label}.`);
      openArea(place.area_code, { focus: false });
      return;
    }
    // A postcode, street or address: a marker where it is, and the area it lies in opened.
    state.marker = [place.lon, place.lat];
    const view = place.bbox ? fitView(place.bbox, 60) : { longitude: place.lon, latitude: place.lat, zoom: Math.max(14, Math.min(place.zoom || 15, 16)) };
    if (place.bbox) view.zoom = Math.min(view.zoom, 16);
    setView(view, true);
    render();
    status(`Showing ${place.label}.`);
    try {
      const areas = await areaList(state.layer);
      const hit = areas.find((a) => a.bbox && place.lon >= a.bbox[0] && place.lon <= a.bbox[2] && place.lat >= a.bbox[1]
        && place.lat <= a.bbox[3] && contains(a.geometry, [place.lon, place.lat]));
      if (hit) openArea(hit.code);
      else if (place.area_code) openArea(place.area_code);
    } catch (_) {
      if (place.area_code) openArea(place.area_code);
    }
  }

  // After signing in or out, nothing on screen may keep the other role's figures: tiles,
  // classes, the open area, the matrix and the quality reports are all fetched again.
  function refreshForRole() {
    showSignedIn();
    render();
    loadBreaks();
    if (state.selected) openArea(state.selected, { history: false });
    else if (state.tab === "area") showAreaList();
    if (state.tab === "matrix") loadMatrix();
    if (state.tab === "quality") loadQuality();
    if (state.tab === "service") loadService();
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
      refreshForRole();
    } catch (error) {
      sessionStorage.removeItem(KEY_STORAGE);
      $("signin-status").textContent = `Not signed in: ${error.message}`;
    }
  }

  function signOut() {
    sessionStorage.removeItem(KEY_STORAGE);
    $("signin-status").textContent = "Signed out";
    state.plan = null;
    $("plan-summary").textContent = "";
    refreshForRole();
  }

  function showSignedIn() {
    const on = signedIn();
    $("planning").hidden = !(on && hasPath("/api/v1/planning/sites"));
    $("api-key").hidden = on;
    $("signin-button").hidden = on;
    $("signout-button").hidden = !on;
  }

  // ------------------------------------------------------------------ start

  async function start() {
    const started = performance.now();
    state.started = started;
    status("Loading the map…");
    const [spec, openapi] = await Promise.all([getJSON("/api/v1/map/deck.json"), getJSON("/openapi.json")]);
    state.spec = spec;
    state.openapi = openapi;
    state.marks = { spec: performance.now() - started, specAt: performance.now() };
    const wanted = readUrl();
    const jsonInput = JSON.parse(JSON.stringify(spec.deck));
    if (wanted.view) Object.assign(jsonInput.initialViewState, wanted.view);
    const deck = window.createDeck({
      container: $("map"),
      jsonInput,
      tooltip: false,
    });
    if (!deck) throw new Error("deck.gl could not start (is WebGL available?)");
    state.deck = deck;
    state.marks.deck = performance.now() - started;
    for (const layer of deck.props.layers) state.baseLayers[layer.id] = layer;
    state.flyTo = deck.props.initialViewState && deck.props.initialViewState.transitionInterpolator;
    state.view = wanted.view || homeView();
    let viewTimer = null;
    deck.setProps({
      getTooltip: null,
      onHover,
      onClick,
      onViewStateChange: ({ viewState }) => {
        state.view = { longitude: viewState.longitude, latitude: viewState.latitude, zoom: viewState.zoom };
        clearTimeout(viewTimer);
        viewTimer = setTimeout(() => saveUrl(false), 300);
        updateScale();
        $("tooltip").hidden = true;
        return viewState;
      },
      onAfterRender: ({ gl }) => {
        const now = performance.now() - started;
        if (!state.marks.draw) state.marks.draw = now;
        if (!state.marks.coloured && state.classes && state.firstTilesMs) {
          // since the script started, and since navigation (bench/map_first_paint.py)
          state.marks.coloured = now;
          state.marks.colouredAt = performance.now();
        }
        if (state.capture) {
          const capture = state.capture;
          state.capture = null;
          capture((gl && gl.canvas) || $("map").querySelector("canvas"));
        }
      },
    });
    buildControls();
    updateScale();
    state.ready = true;
    applyUrl(true);
    render();
    renderLegend();
    status("");
    window.addEventListener("popstate", () => applyUrl(false));
    state.openArea = openArea;
    // Helpers for the page's other scripts (plan_answers.js), then tell them the map is up.
    state.hooks = { render, postJSON, getJSON, fitView, setView, bboxOf, el, table, withCsv, selectTab };
    document.dispatchEvent(new CustomEvent("wardwise:ready"));
  }

  document.addEventListener("DOMContentLoaded", () => {
    start().catch((error) => {
      status(`The map could not start: ${error.message}`);
      state.error = error.message;
    });
  });
})();
