// The read-only embed view (issue 18): the public map without sign-in, panels or planning,
// for a council web page to frame (allowed origins: WARDWISE_FRAME_ANCESTORS). It never
// sends an API key, so only public figures (small counts suppressed) are ever shown.
// URL parameters: layer (wards | lsoas | oas | hotspots), service (a service code),
// measure (households | takeup | events | ratio | class | unmet).
"use strict";

(function embed() {
  const state = { domain: null, ready: false, error: null };
  window.wardwiseEmbed = state; // for the browser test
  const $ = (id) => document.getElementById(id);
  const params = new URLSearchParams(window.location.search);
  const CODE = /^[A-Za-z0-9_-]{1,64}$/;
  const pick = (name, allowed, fallback) => {
    const value = params.get(name);
    return value && (allowed ? allowed.includes(value) : CODE.test(value)) ? value : fallback;
  };

  function ramp(stops, t) {
    const x = Math.min(1, Math.max(0, t)) * (stops.length - 1);
    const i = Math.min(stops.length - 2, Math.floor(x));
    return stops[i].map((c, k) => Math.round(c + (stops[i + 1][k] - c) * (x - i)));
  }

  async function start() {
    const response = await fetch("/api/v1/map/deck.json", { headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error(`the map description failed (${response.status})`);
    const spec = await response.json();
    const layerName = pick("layer", ["wards", "lsoas", "oas", "hotspots"], "wards");
    const service = pick("service", spec.services.map((s) => s.code), "");
    const measures = spec.measures.filter((m) => service || !m.service).map((m) => m.id);
    const measure = pick("measure", measures, service ? "takeup" : "households");
    const info = spec.measures.find((m) => m.id === measure);
    state.layer = layerName;
    state.service = service;
    state.measure = measure;
    $("title").textContent = service ? spec.services.find((s) => s.code === service).name : "Households";
    $("legend").textContent = info.label;

    const fill = (f) => {
      const v = f.properties ? f.properties[measure] : undefined;
      if (info.palette === "classes") {
        const colour = spec.class_colours[v];
        return colour ? [...colour, 200] : [215, 215, 215, 120];
      }
      const d = state.domain;
      if (!d || typeof v !== "number") return [215, 215, 215, 120];
      return [...ramp(spec.palettes[info.palette] || spec.palettes.viridis, d[1] > d[0] ? (v - d[0]) / (d[1] - d[0]) : 0.5), 200];
    };
    const deck = window.createDeck({ container: $("map"), jsonInput: spec.deck, tooltip: spec.tooltip });
    if (!deck) throw new Error("deck.gl could not start (is WebGL available?)");
    const base = {};
    for (const layer of deck.props.layers) base[layer.id] = layer;
    let url = `/tiles/${layerName}/{z}/{x}/{y}.pbf?v=${spec.version}`;
    if (service) url += `&service=${encodeURIComponent(service)}`;
    const render = () => {
      deck.setProps({
        layers: [
          base.roads,
          base.areas.clone({
            data: url,
            binary: false,
            getFillColor: fill,
            updateTriggers: { getFillColor: [JSON.stringify(state.domain)] },
            onViewportLoad: (tiles) => {
              let changed = false;
              for (const tile of tiles || []) {
                for (const f of tile.content || []) {
                  const v = f.properties && f.properties[measure];
                  if (typeof v !== "number" || !Number.isFinite(v)) continue;
                  const d = state.domain;
                  if (!d || v < d[0] || v > d[1]) {
                    state.domain = d ? [Math.min(d[0], v), Math.max(d[1], v)] : [v, v];
                    changed = true;
                  }
                }
              }
              state.tiles = (state.tiles || 0) + (tiles || []).length;
              if (changed) setTimeout(render, 0);
            },
          }),
          base.sites,
        ],
      });
    };
    render();
    state.ready = true;
  }

  document.addEventListener("DOMContentLoaded", () => {
    start().catch((error) => {
      $("status").textContent = `The map could not start: ${error.message}`;
      state.error = error.message;
    });
  });
})();
