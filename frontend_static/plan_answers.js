// Planning answers on the map (issue 16): a fortnightly van timetable (routes and stops per
// day, the timetable in the Plan tab), isochrones (drive or walk bands from a site), service
// zones (max-p over LSOAs) and saved scenarios (listed, compared side by side, and the
// households a siting scenario leaves out drawn as points). Kept apart from app.js: it
// registers its layers through window.wardwise.extraLayers and uses the helpers app.js
// publishes as window.wardwise.hooks once the map has started.

(function planAnswers() {
  const DAY_COLOURS = { mon: [0, 114, 178], tue: [213, 94, 0], wed: [0, 158, 115], thu: [204, 121, 167], fri: [86, 180, 233], sat: [230, 159, 0], sun: [120, 120, 120] };
  const ZONE_COLOURS = [[27, 158, 119], [217, 95, 2], [117, 112, 179], [231, 41, 138], [102, 166, 30], [230, 171, 2], [166, 118, 29], [102, 102, 102]];
  const BAND_COLOURS = [[8, 81, 156], [49, 130, 189], [107, 174, 214], [158, 202, 225], [198, 219, 239], [239, 243, 255]];
  const LEFT_OUT = [200, 0, 0];
  const EMPTY = { type: "FeatureCollection", features: [] };

  const answers = { timetable: null, isochrones: null, zones: null, leftOut: null, version: 0 };
  const $ = (id) => document.getElementById(id);

  function dayColour(day) {
    return DAY_COLOURS[day] || [0, 0, 0];
  }

  function zoneColour(zone) {
    return ZONE_COLOURS[(Number(zone) - 1) % ZONE_COLOURS.length];
  }

  function bandColour(i) {
    return BAND_COLOURS[Math.min(i, BAND_COLOURS.length - 1)];
  }

  // One layer per answer, cloned from the deck's (empty) planning GeoJsonLayer.
  function layers(base) {
    if (!base) return [];
    const v = answers.version;
    const zones = base.clone({
      id: "plan-zones",
      data: answers.zones || EMPTY,
      visible: Boolean(answers.zones),
      getFillColor: (f) => [...zoneColour(f.properties.zone), 150],
      getLineColor: [40, 40, 40, 255],
      getLineWidth: 2,
      updateTriggers: { getFillColor: v },
    });
    const bands = base.clone({
      id: "plan-isochrones",
      data: answers.isochrones || EMPTY,
      visible: Boolean(answers.isochrones),
      getFillColor: (f) => [...bandColour(f.properties.band), 120],
      getLineColor: (f) => [...bandColour(f.properties.band), 255],
      getLineWidth: 2,
      updateTriggers: { getFillColor: v, getLineColor: v },
    });
    const leftOut = base.clone({
      id: "plan-left-out",
      data: answers.leftOut || EMPTY,
      visible: Boolean(answers.leftOut),
      getFillColor: [...LEFT_OUT, 255],
      getLineColor: [255, 255, 255, 255],
      getLineWidth: 1,
      getPointRadius: (f) => Math.max(4, Math.min(12, Math.sqrt(f.properties.weight || 1))),
      updateTriggers: { getPointRadius: v },
    });
    const timetable = base.clone({
      id: "plan-timetable",
      data: answers.timetable || EMPTY,
      visible: Boolean(answers.timetable),
      getFillColor: (f) => [...dayColour(f.properties.day), 255],
      getLineColor: (f) => (f.geometry.type === "Point" ? [255, 255, 255, 255] : [...dayColour(f.properties.day), 230]),
      getLineWidth: (f) => (f.geometry.type === "Point" ? 2 : 5),
      getPointRadius: 8,
      updateTriggers: { getFillColor: v, getLineColor: v, getLineWidth: v },
    });
    return [zones, bands, timetable, leftOut];
  }

  function hooks() {
    return window.wardwise.hooks;
  }

  function redraw(features) {
    answers.version += 1;
    const h = hooks();
    h.render();
    const coords = (features || []).map((f) => f.geometry && f.geometry.coordinates).filter(Boolean);
    const bbox = coords.length ? h.bboxOf({ coordinates: coords }) : null;
    if (bbox) h.setView(h.fitView(bbox, 30), true);
  }

  function say(text) {
    $("plan-answer").textContent = text;
    $("plan-answer").scrollIntoView({ block: "nearest" });
  }

  function pane(title, ...children) {
    const h = hooks();
    $("pane-plan").replaceChildren(h.el("h2", { text: title }), ...children);
    h.selectTab("plan");
  }

  async function run(label, work) {
    say(`${label}…`);
    try {
      await work();
    } catch (error) {
      say(`No answer: ${error.message}`);
    }
  }

  // -------------------------------------------------------------- timetable

  async function showTimetable() {
    const days = $("plan-days").value.split(/[\s,]+/).filter(Boolean);
    await run("Planning a fortnightly timetable", async () => {
      const plan = await hooks().postJSON("/api/v1/planning/routes", {
        days, frequency: "fortnightly", max_stops: 8, time_limit_s: 3, break_min: 30,
      });
      const features = [...plan.routes.features, ...plan.stops.features];
      answers.timetable = { type: "FeatureCollection", features };
      const s = plan.summary;
      say(`${s.stops_visited} stops over ${s.route_days} route-days (${days.join(", ")}, fortnightly): ${s.households_within_walk} households within the walk, ${s.total_distance_km.toFixed(1)} km. Lines and dots coloured by day.`);
      const h = hooks();
      const cols = [["sequence", "#"], ["week", "Week"], ["day", "Day"], ["name", "Stop"], ["address", "Address"], ["arrive", "Arrive"], ["depart", "Depart"], ["dwell_min", "Dwell (min)"]];
      const t = h.table("Fortnightly timetable", cols, plan.timetable);
      t.id = "plan-timetable-table";
      pane("Van timetable", h.withCsv(t, "timetable.csv"));
      redraw(features);
    });
  }

  // -------------------------------------------------------------- isochrones

  async function fillSites() {
    const select = $("plan-iso-site");
    if (select.options.length) return;
    const sites = await hooks().getJSON("/api/v1/sites?existing=true");
    for (const f of sites.features) {
      select.append(hooks().el("option", { value: String(f.properties.site_id), text: f.properties.name }));
    }
  }

  async function showIsochrones() {
    await run("Drawing isochrones", async () => {
      await fillSites();
      const site = $("plan-iso-site").value;
      const mode = $("plan-iso-mode").value;
      const fc = await hooks().getJSON(`/api/v1/planning/isochrones?site_id=${encodeURIComponent(site)}&mode=${mode}&minutes=5&minutes=10&minutes=15`);
      // Largest band first (the server's order), so smaller ones are drawn on top.
      const n = fc.features.length;
      const features = fc.features.filter((f) => f.geometry).map((f, i) => ({ ...f, properties: { ...f.properties, band: n - 1 - i } }));
      answers.isochrones = { type: "FeatureCollection", features };
      const h = hooks();
      const rows = features.map((f) => f.properties).reverse();
      pane(`Reach by ${mode === "walk" ? "walking" : "road"}`, h.table(`From ${rows.length ? rows[0].name : "the site"}`, [["minutes", "Minutes"], ["area_km2", "Area (km²)"], ["road_nodes", "Road nodes"]], rows));
      say(`${mode === "walk" ? "Walking" : "Driving"} isochrones of 5, 10 and 15 minutes (darker: nearer).`);
      redraw(features);
    });
  }

  // -------------------------------------------------------------- zones

  async function showZones() {
    const floor = Number($("plan-zone-floor").value) || 5000;
    await run("Building service zones", async () => {
      const plan = await hooks().postJSON("/api/v1/planning/zones", { method: "max_p", level: "lsoa", floor });
      answers.zones = plan.zones;
      const s = plan.summary;
      say(`${s.zones} service zones over ${s.areas} LSOAs, each with at least ${floor} households (${s.smallest_zone_demand} to ${s.largest_zone_demand}).`);
      const h = hooks();
      const t = h.table("Service zones", [["zone", "Zone"], ["areas", "Areas"], ["demand", "Households"], ["area_km2", "Area (km²)"]], plan.zones.features.map((f) => f.properties));
      t.id = "plan-zones-table";
      pane("Service zones (max-p)", h.withCsv(t, "zones.csv"));
      redraw(plan.zones.features);
    });
  }

  // -------------------------------------------------------------- scenarios

  async function saveScenario() {
    const name = $("plan-scenario-name").value.trim() || `Sites ${new Date().toISOString().slice(0, 19)}`;
    const p = Math.max(1, Math.min(10, Number($("plan-p").value) || 2));
    await run("Saving the scenario", async () => {
      const sc = await hooks().postJSON("/api/v1/planning/scenarios", {
        name, sites: { p, cover_within: 10, time_limit_s: 10 },
      });
      say(`Saved “${sc.name}” (${sc.figures.left_out ?? "?"} households beyond 10 minutes).`);
      await compareScenarios();
    });
  }

  async function showLeftOut(id) {
    const sc = await hooks().getJSON(`/api/v1/planning/scenarios/${id}`);
    const r = sc.result;
    const standard = r.segments && r.segments.standard;
    if (sc.kind !== "sites" || standard === null || standard === undefined) {
      say(`“${sc.name}” has no travel standard to leave anyone out of.`);
      return;
    }
    const features = r.demand.features.filter((f) => f.properties.travel > standard);
    answers.leftOut = { type: "FeatureCollection", features };
    const weight = features.reduce((a, f) => a + f.properties.weight, 0);
    say(`“${sc.name}”: ${features.length} areas (${Math.round(weight)} households) beyond ${standard} ${r.segments.unit} of a site, drawn in red.`);
    redraw(features);
  }

  async function compareScenarios() {
    await run("Comparing scenarios", async () => {
      const h = hooks();
      const list = await h.getJSON("/api/v1/planning/scenarios");
      if (!list.length) {
        pane("Scenarios", h.el("p", { className: "hint", text: "No saved scenarios yet: save one first." }));
        say("No saved scenarios yet.");
        return;
      }
      const ids = list.slice(0, 4).map((s) => s.id);
      const cmp = await h.getJSON(`/api/v1/planning/scenarios/compare?${ids.map((i) => `ids=${i}`).join("&")}`);
      const cols = [["name", "Scenario"], ["kind", "Kind"], ["sites_open", "Sites"], ["mean_travel", "Mean travel"], ["worst_travel", "Worst travel"], ["coverage_share", "Covered", "pct"], ["left_out", "Left out"], ["households_reached", "Reached"], ["van_km_per_year", "Van km a year"]];
      const t = h.table("Scenarios side by side", cols, cmp.scenarios);
      t.id = "plan-scenarios-table";
      const segCols = [["name", "Segment"], ["households", "Households"], ...cmp.scenarios.map((s) => [s.name, `Left out: ${s.name}`])];
      const seg = h.table("Households left out, by segment", segCols, cmp.segments);
      const buttons = h.el("div", { className: "choices" }, cmp.scenarios.filter((s) => s.kind === "sites").map((s) => h.el("button", {
        type: "button", className: "left-out", "data-id": String(s.id), text: `Map who “${s.name}” leaves out`,
        onclick: () => run("Loading the scenario", () => showLeftOut(s.id)),
      })));
      pane("Scenarios", h.withCsv(t, "scenarios.csv"), buttons, h.withCsv(seg, "scenarios_segments.csv"));
      say(`${cmp.scenarios.length} scenarios compared in the Plan tab.`);
    });
  }

  function clear() {
    Object.assign(answers, { timetable: null, isochrones: null, zones: null, leftOut: null });
    say("");
    redraw([]);
  }

  function start() {
    const state = window.wardwise;
    state.extraLayers = state.extraLayers || [];
    state.extraLayers.push(layers);
    state.answers = answers;
    $("plan-timetable").addEventListener("click", showTimetable);
    $("plan-isochrones").addEventListener("click", showIsochrones);
    $("plan-zones").addEventListener("click", showZones);
    $("plan-save-scenario").addEventListener("click", saveScenario);
    $("plan-scenarios").addEventListener("click", compareScenarios);
    $("plan-answers-clear").addEventListener("click", clear);
    $("plan-iso-site").addEventListener("focus", () => fillSites().catch(() => {}), { once: true });
    // Officer answers leave the page with the key: nothing of them stays drawn or listed.
    $("signout-button").addEventListener("click", () => {
      clear();
      $("pane-plan").replaceChildren(hooks().el("p", { className: "hint", text: "Sign in as an officer for planning answers." }));
    });
  }

  document.addEventListener("wardwise:ready", start, { once: true });
})();
