// Previews on a resource page (templates/catalog/_preview.html): the table, paged, sorted and
// searched through the row API; the chart (Chart.js) from up to 1,000 rows of two columns; the
// map (Leaflet) of a GeoJSON file. Settings come from data-* attributes; text from the file is
// always put in the page as text (textContent), never as HTML.
(function () {
  "use strict";

  const numberFormat = new Intl.NumberFormat("vi-VN", { maximumFractionDigits: 6 });
  const plainNumber = new Intl.NumberFormat("vi-VN", { maximumFractionDigits: 6, useGrouping: false });
  const NUMERIC = ["int", "numeric"];
  const POINT_STYLE = { radius: 7, color: "#0c3b2e", weight: 2, fillColor: "#f2b33d", fillOpacity: 0.95 };
  const PALETTE = ["#1a7a5a", "#f2b33d", "#0b4a75", "#b5452f", "#6b4fa0", "#2e8b9a", "#8a6d1f", "#c2527a",
    "#56635e", "#7fb069", "#e07a1f", "#3d5a80"];

  function fold(text) {
    return String(text).normalize("NFD").replace(/[\u0300-\u036f]/g, "").replace(/đ/gi, "d").toLowerCase();
  }

  // Years and codes read wrong with a thousands separator (2.024): such columns keep their digits.
  function groupsDigits(name) {
    return !/(^|[^a-z])(nam|year|ma|code|id)([^a-z]|$)/.test(fold(name || ""));
  }

  function formatDate(text) {
    const match = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2}))?/.exec(text);
    if (!match) { return text; }
    return match[3] + "/" + match[2] + "/" + match[1] + (match[4] ? " " + match[4] + ":" + match[5] : "");
  }

  function formatValue(value, type, name) {
    if (value === null || value === undefined) { return ""; }
    if (typeof value === "number") { return (groupsDigits(name) ? numberFormat : plainNumber).format(value); }
    if (typeof value === "boolean") { return value ? "Có" : "Không"; }
    if (typeof value === "object") { return JSON.stringify(value); }
    if (type === "date" || type === "timestamp") { return formatDate(String(value)); }
    return String(value);
  }

  async function getJSON(url) {
    let response;
    try {
      response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    } catch (error) {
      throw new Error("Không kết nối được với máy chủ. Vui lòng thử lại.");
    }
    let answer = null;
    try { answer = await response.json(); } catch (error) { answer = null; }
    if (!response.ok) {
      const message = answer && answer.error && answer.error.message;
      throw new Error(message || "Không tải được dữ liệu (mã lỗi " + response.status + ").");
    }
    return answer;
  }

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  // ------------------------------------------------------------------ table
  function setupTable(box) {
    const url = box.dataset.rowsUrl;
    const pageSize = parseInt(box.dataset.pageSize, 10) || 50;
    const toolbar = box.querySelector(".preview-toolbar");
    const form = box.querySelector(".preview-search");
    const input = form.querySelector("input");
    const status = box.querySelector(".preview-status");
    const scroller = box.querySelector(".preview-table-box");
    const headRow = box.querySelector("thead tr");
    const body = box.querySelector("tbody");
    const pager = box.querySelector(".preview-pager");
    const previous = pager.querySelector("[data-page=prev]");
    const next = pager.querySelector("[data-page=next]");
    const state = { offset: 0, sort: null, descending: false, q: "" };
    let fields = null;
    let latest = 0;
    let typing = null;

    toolbar.hidden = false;
    status.textContent = "Đang tải dữ liệu…";

    function buildHeader() {
      headRow.textContent = "";
      fields.forEach(function (field) {
        const th = element("th");
        th.scope = "col";
        if (NUMERIC.indexOf(field.type) >= 0) { th.className = "num"; }
        const button = element("button", "preview-sort");
        button.type = "button";
        button.appendChild(element("span", "", field.id));
        button.appendChild(element("span", "preview-sort-mark"));
        const notes = field.info && (field.info.notes || field.info.label);
        if (notes) { button.title = notes; }
        button.addEventListener("click", function () {
          if (state.sort === field.id) { state.descending = !state.descending; } else {
            state.sort = field.id;
            state.descending = false;
          }
          state.offset = 0;
          load();
        });
        th.appendChild(button);
        headRow.appendChild(th);
      });
    }

    function markSort() {
      Array.prototype.forEach.call(headRow.children, function (th, index) {
        const sorted = fields[index].id === state.sort;
        th.setAttribute("aria-sort", sorted ? (state.descending ? "descending" : "ascending") : "none");
        th.querySelector(".preview-sort-mark").textContent = sorted ? (state.descending ? "▼" : "▲") : "";
      });
    }

    function render(answer) {
      if (!fields) {
        fields = answer.fields.filter(function (field) { return field.id !== "_id"; });
        buildHeader();
      }
      markSort();
      body.textContent = "";
      answer.records.forEach(function (record) {
        const tr = element("tr");
        fields.forEach(function (field) {
          const text = formatValue(record[field.id], field.type, field.id);
          if (NUMERIC.indexOf(field.type) >= 0) {
            tr.appendChild(element("td", "num", text));
          } else {  // long text wraps within a readable width instead of stretching its column
            const td = element("td");
            td.appendChild(element("div", "preview-cell", text));
            tr.appendChild(td);
          }
        });
        body.appendChild(tr);
      });
      const shown = answer.records.length;
      const total = typeof answer.total === "number" ? answer.total : null;
      const matching = state.q ? " khớp với «" + state.q + "»" : "";
      if (shown === 0) {
        status.textContent = state.q ? "Không có dòng nào khớp với «" + state.q + "»." : "Bảng chưa có dòng nào.";
      } else {
        status.textContent = "Dòng " + numberFormat.format(state.offset + 1) + "–" +
          numberFormat.format(state.offset + shown) +
          (total !== null ? " trong " + numberFormat.format(total) : "") + matching;
      }
      scroller.hidden = shown === 0;
      previous.disabled = state.offset === 0;
      next.disabled = total !== null ? state.offset + shown >= total : shown < pageSize;
      pager.hidden = previous.disabled && next.disabled;
    }

    async function load() {
      const ticket = ++latest;
      const params = new URLSearchParams({ limit: String(pageSize), offset: String(state.offset) });
      if (state.sort) { params.append("sort", state.sort + (state.descending ? " desc" : "")); }
      if (state.q) { params.append("q", state.q); }
      box.setAttribute("aria-busy", "true");
      try {
        const answer = await getJSON(url + "?" + params.toString());
        if (ticket === latest) { render(answer); }
      } catch (error) {
        if (ticket === latest) { status.textContent = error.message; }
      } finally {
        if (ticket === latest) { box.removeAttribute("aria-busy"); }
      }
    }

    function search() {
      const q = input.value.trim();
      if (q === state.q) { return; }
      state.q = q;
      state.offset = 0;
      load();
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      window.clearTimeout(typing);
      search();
    });
    input.addEventListener("input", function () {
      window.clearTimeout(typing);
      typing = window.setTimeout(search, 400);
    });
    previous.addEventListener("click", function () {
      state.offset = Math.max(0, state.offset - pageSize);
      load();
    });
    next.addEventListener("click", function () {
      state.offset += pageSize;
      load();
    });
    load();
  }

  // ------------------------------------------------------------------ chart
  function setupChart(box) {
    if (!window.Chart) { return; }
    const url = box.dataset.rowsUrl;
    const xSelect = box.querySelector("[name=chart-x]");
    const ySelect = box.querySelector("[name=chart-y]");
    const typeSelect = box.querySelector("[name=chart-type]");
    const canvas = box.querySelector("canvas");
    const note = box.querySelector(".preview-note");
    const reduceMotion = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    const limit = 1000;
    let chart = null;
    let latest = 0;

    box.hidden = false;

    async function draw() {
      const ticket = ++latest;
      const x = xSelect.value;
      const y = ySelect.value;
      const kind = typeSelect.value;
      const xType = xSelect.selectedOptions[0].dataset.type;
      const params = new URLSearchParams({ limit: String(limit), sort: x });
      params.append("fields", x);
      if (y !== x) { params.append("fields", y); }
      note.textContent = "Đang vẽ biểu đồ…";
      let answer;
      try {
        answer = await getJSON(url + "?" + params.toString());
      } catch (error) {
        if (ticket === latest) { note.textContent = error.message; }
        return;
      }
      if (ticket !== latest) { return; }
      const records = answer.records;
      const labels = records.map(function (record) { return formatValue(record[x], xType, x); });
      const values = records.map(function (record) {
        return record[y] === null || record[y] === undefined ? null : Number(record[y]);
      });
      const colours = kind === "pie" ? labels.map(function (label, index) { return PALETTE[index % PALETTE.length]; })
        : (kind === "line" ? "rgba(26, 122, 90, .15)" : "#1a7a5a");
      if (chart) { chart.destroy(); }
      chart = new window.Chart(canvas, {
        type: kind,
        data: {
          labels: labels,
          datasets: [{
            label: y, data: values, backgroundColor: colours, borderColor: kind === "pie" ? "#fff" : "#135c45",
            borderWidth: kind === "bar" ? 0 : 2, fill: kind === "line", tension: 0.2,
            pointRadius: records.length > 60 ? 0 : 3,
          }],
        },
        options: {
          locale: "vi-VN",
          responsive: true,
          maintainAspectRatio: false,
          animation: reduceMotion ? false : { duration: 300 },
          plugins: { legend: { display: kind === "pie", position: "bottom" } },
          scales: kind === "pie" ? {} : {
            x: { title: { display: true, text: x }, ticks: { maxRotation: 60, autoSkip: true } },
            y: { title: { display: true, text: y }, beginAtZero: true },
          },
        },
      });
      const typeLabel = typeSelect.selectedOptions[0].textContent;
      canvas.setAttribute("aria-label", "Biểu đồ " + typeLabel.toLowerCase() + ": " + y + " theo " + x +
        ", " + numberFormat.format(records.length) + " dòng");
      const total = typeof answer.total === "number" ? answer.total : records.length;
      note.textContent = total > records.length
        ? "Biểu đồ vẽ từ " + numberFormat.format(records.length) + " dòng đầu tiên (xếp theo " + x + ") trong " +
          numberFormat.format(total) + " dòng."
        : "Biểu đồ vẽ từ " + numberFormat.format(records.length) + " dòng, xếp theo " + x + ".";
    }

    [xSelect, ySelect, typeSelect].forEach(function (select) { select.addEventListener("change", draw); });
    draw();
  }

  // ------------------------------------------------------------------ map
  function propertiesTable(properties) {
    const keys = Object.keys(properties || {});
    if (!keys.length) { return null; }
    const table = element("table", "preview-popup");
    const body = element("tbody");
    keys.forEach(function (key) {
      const tr = element("tr");
      tr.appendChild(element("th", "", key));
      tr.appendChild(element("td", "", formatValue(properties[key], "", key)));
      body.appendChild(tr);
    });
    table.appendChild(body);
    return table;
  }

  async function setupMap(box) {
    const L = window.L;
    const note = box.parentNode.querySelector(".preview-map-note");
    if (!L) { return; }
    const map = L.map(box, { scrollWheelZoom: false });
    map.attributionControl.setPrefix('<a href="https://leafletjs.com">Leaflet</a>');
    if (box.dataset.tileUrl) {
      L.tileLayer(box.dataset.tileUrl, { attribution: box.dataset.tileAttribution || "", maxZoom: 19 }).addTo(map);
    }
    L.control.scale({ imperial: false }).addTo(map); // some sense of distance when there are no tiles
    map.setView([11.6, 108.0], 8); // Lâm Đồng, until the features are in
    note.textContent = "Đang tải bản đồ…";
    let data;
    try {
      const response = await fetch(box.dataset.geojsonUrl, { credentials: "same-origin" });
      if (!response.ok) { throw new Error(String(response.status)); }
      data = await response.json();
    } catch (error) {
      note.textContent = "Không tải được tệp GeoJSON để vẽ bản đồ.";
      return;
    }
    let layer;
    try {
      layer = L.geoJSON(data, {
        // Lines and areas in the portal's green; points (below) as amber dots that need no image.
        style: function (feature) {
          const point = feature && feature.geometry && /Point$/.test(feature.geometry.type);
          return point ? POINT_STYLE : { color: "#135c45", weight: 2, fillColor: "#1a7a5a", fillOpacity: 0.25 };
        },
        pointToLayer: function (feature, latlng) { return L.circleMarker(latlng, POINT_STYLE); },
        onEachFeature: function (feature, featureLayer) {
          const popup = propertiesTable(feature.properties);
          if (popup) {
            // Long properties scroll inside the popup, which stays within the map, phones included.
            featureLayer.bindPopup(popup, {
              maxWidth: Math.min(320, box.clientWidth - 70), maxHeight: Math.min(260, box.clientHeight - 100),
              autoPanPadding: [10, 10],
            });
          }
        },
      }).addTo(map);
    } catch (error) {
      note.textContent = "Tệp GeoJSON có đối tượng không vẽ được.";
      return;
    }
    const bounds = layer.getBounds();
    if (bounds.isValid()) {  // room at the bottom for the scale and the attribution
      map.fitBounds(bounds, { paddingTopLeft: [24, 24], paddingBottomRight: [24, 48], maxZoom: 15 });
    }
    const count = layer.getLayers().length;
    note.textContent = count
      ? numberFormat.format(count) + " đối tượng trên bản đồ. Chọn một đối tượng để xem thuộc tính của nó."
      : "Tệp GeoJSON không có đối tượng nào có toạ độ.";
  }

  document.querySelectorAll(".preview-table[data-rows-url]").forEach(setupTable);
  document.querySelectorAll(".preview-chart[data-rows-url]").forEach(setupChart);
  document.querySelectorAll(".preview-map[data-geojson-url]").forEach(setupMap);
}());
