// legajo's page viewer: OpenSeadragon with the page's lines and the query's hits drawn over
// it, and the page's text beside it. It speaks Streamlit's component protocol (version 1)
// with plain postMessage: "render" brings the page (see ui/viewer/payload.py), and a click on
// a line, on the picture or in the text, sends back {line_id, nonce}.
// Every text from the page goes into the document through textContent, never as HTML.
(function () {
  "use strict";

  const SVG = "http://www.w3.org/2000/svg";
  const CONTEXT_LINES = 4; // lines of page shown above and below a line brought into view
  let viewer = null;
  let shownImage = null;
  let page = null;
  let overlay = null;
  let clicks = 0;
  let hovered = null;
  let lastFocused = null;
  let clickedHere = null;
  let moved = false; // whether the reader has zoomed or panned since the page was opened

  function send(type, data) {
    window.parent.postMessage(Object.assign({ isStreamlitMessage: true, type: type }, data), "*");
  }

  function setHeight(height) {
    document.body.style.height = height + "px";
    send("streamlit:setFrameHeight", { height: height });
  }

  function choose(lineId) {
    clicks += 1;
    clickedHere = lineId;
    send("streamlit:setComponentValue", {
      value: { line_id: lineId, nonce: Date.now() + "-" + clicks },
      dataType: "json",
    });
  }

  // -- geometry (page pixels) ---------------------------------------------------------------

  function inside(point, polygon) {
    let result = false;
    for (let i = 0, j = polygon.length - 1; i < polygon.length; j = i++) {
      const [xi, yi] = polygon[i];
      const [xj, yj] = polygon[j];
      if (yi > point.y !== yj > point.y && point.x < ((xj - xi) * (point.y - yi)) / (yj - yi) + xi) {
        result = !result;
      }
    }
    return result;
  }

  function lineAt(point) {
    if (!page) return null;
    const byPolygon = page.lines.find((line) => line.polygon.length > 2 && inside(point, line.polygon));
    if (byPolygon) return byPolygon;
    return page.lines.find((line) => {
      const [x0, y0, x1, y1] = line.bbox;
      return point.x >= x0 && point.x <= x1 && point.y >= y0 && point.y <= y1;
    }) || null;
  }

  function imageBounds() {
    const item = viewer && viewer.world.getItemAt(0);
    return item ? item.getBounds() : null;
  }

  function toPage(pixel) {
    const bounds = imageBounds();
    if (!bounds) return null;
    const point = viewer.viewport.pointFromPixel(pixel);
    const scale = page.width / bounds.width;
    return { x: (point.x - bounds.x) * scale, y: (point.y - bounds.y) * scale };
  }

  function toViewport(x0, y0, x1, y1) {
    const bounds = imageBounds();
    const scale = bounds.width / page.width;
    return new OpenSeadragon.Rect(
      bounds.x + x0 * scale, bounds.y + y0 * scale, (x1 - x0) * scale, (y1 - y0) * scale
    );
  }

  // -- the overlay --------------------------------------------------------------------------

  function svgElement(name, attributes) {
    const element = document.createElementNS(SVG, name);
    for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, String(value));
    return element;
  }

  function drawOverlay() {
    if (overlay) viewer.removeOverlay(overlay);
    overlay = svgElement("svg", {
      class: "overlay",
      viewBox: "0 0 " + page.width + " " + page.height,
      preserveAspectRatio: "none",
      "data-lines": page.lines.length,
      "data-hits": page.hits.length,
    });
    for (const line of page.lines) {
      if (line.polygon.length < 2) continue;
      const polygon = svgElement("polygon", {
        class: "line" + (line.id === page.selected ? " selected" : ""),
        points: line.polygon.map((p) => p[0] + "," + p[1]).join(" "),
        "data-line-id": line.id,
      });
      const title = svgElement("title", {});
      title.textContent = page.labels.line + " " + line.number;
      polygon.appendChild(title);
      overlay.appendChild(polygon);
    }
    for (const hit of page.hits) {
      const [x0, y0, x1, y1] = hit.box;
      overlay.appendChild(
        svgElement("rect", {
          class: "hit" + (hit.line_id === page.selected ? " selected" : ""),
          x: x0 - 2, y: y0 - 2, width: x1 - x0 + 4, height: y1 - y0 + 4,
          "data-line-id": hit.line_id,
        })
      );
    }
    viewer.addOverlay({ element: overlay, location: toViewport(0, 0, page.width, page.height) });
  }

  function hover(lineId) {
    if (lineId === hovered) return;
    hovered = lineId;
    for (const element of document.querySelectorAll(".hover")) element.classList.remove("hover");
    viewer.canvas.classList.toggle("pointing", lineId !== null);
    if (lineId === null) return;
    for (const element of document.querySelectorAll('[data-line-id="' + lineId + '"]')) {
      if (element.tagName !== "rect") element.classList.add("hover");
    }
  }

  function focusSelected(immediately) {
    const line = page.lines.find((l) => l.id === page.selected);
    if (!line) return;
    const [x0, y0, x1, y1] = line.bbox;
    const context = Math.max(1, y1 - y0) * CONTEXT_LINES;
    const margin = (x1 - x0) * 0.15;
    const left = Math.max(0, x0 - margin);
    const right = Math.min(page.width, x1 + margin);
    const rect = toViewport(left, Math.max(0, y0 - context), right, Math.min(page.height, y1 + context));
    viewer.viewport.fitBoundsWithConstraints(rect, immediately);
  }

  function frame(immediately) {
    if (page.selected !== null && page.lines.some((l) => l.id === page.selected)) {
      focusSelected(immediately);
    } else {
      viewer.viewport.goHome(immediately);
    }
  }

  // -- the text panel -----------------------------------------------------------------------

  function isHit(line, word) {
    // a word is a hit when a hit box is its box, or the whole line's (search by meaning)
    return page.hits.some((hit) => {
      if (hit.line_id !== line.id) return false;
      const box = hit.box.join();
      return box === line.bbox.join() || (word.box !== undefined && box === word.box.join());
    });
  }

  function drawText() {
    document.getElementById("text-title").textContent = page.labels.text;
    document.getElementById("legend-hits").textContent = page.hits.length ? page.labels.hits : "";
    document.getElementById("legend-doubtful").textContent = page.labels.doubtful;
    document.getElementById("hint").textContent = page.labels.click;
    const list = document.getElementById("text-lines");
    list.replaceChildren();
    for (const line of page.lines) {
      const item = document.createElement("li");
      item.dataset.lineId = line.id;
      item.value = line.number;
      if (line.id === page.selected) item.classList.add("selected");
      if (!line.words.length) {
        item.classList.add("empty");
        item.textContent = page.labels.empty;
      }
      line.words.forEach((word, index) => {
        if (index) item.appendChild(document.createTextNode(" "));
        const span = document.createElement("span");
        span.textContent = word.text;
        if (word.doubtful) span.classList.add("doubtful");
        if (word.confidence !== null) {
          span.title = page.labels.confidence + " " + Math.round(word.confidence * 100) + " %";
        }
        if (isHit(line, word)) span.classList.add("hit-word");
        item.appendChild(span);
      });
      item.addEventListener("click", () => choose(line.id));
      item.addEventListener("mouseenter", () => hover(line.id));
      item.addEventListener("mouseleave", () => hover(null));
      list.appendChild(item);
    }
    const selected = list.querySelector("li.selected");
    if (selected) selected.scrollIntoView({ block: "nearest" });
  }

  // -- the viewer ---------------------------------------------------------------------------

  function createViewer() {
    viewer = OpenSeadragon({
      element: document.getElementById("osd"),
      prefixUrl: "vendor/openseadragon/images/",
      showNavigator: true,
      navigatorPosition: "BOTTOM_RIGHT",
      showRotationControl: false,
      visibilityRatio: 0.5,
      minZoomImageRatio: 0.5,
      maxZoomPixelRatio: 4,
      gestureSettingsMouse: { clickToZoom: false, dblClickToZoom: true },
      gestureSettingsTouch: { clickToZoom: false },
      crossOriginPolicy: false,
    });
    viewer.addHandler("open", () => {
      moved = false;
      drawOverlay();
      frame(true);
      document.body.dataset.ready = "true";
    });
    // the frame grows once Streamlit has sized it: until the reader moves, keep the first view
    viewer.addHandler("resize", () => {
      if (!moved && viewer.world.getItemCount()) frame(true);
    });
    // the zoom, relative to the whole page in view, for whoever looks (the browser tests)
    viewer.addHandler("zoom", (event) => {
      document.body.dataset.zoom = (event.zoom / viewer.viewport.getHomeZoom()).toFixed(3);
    });
    for (const name of ["canvas-drag", "canvas-scroll", "canvas-double-click", "canvas-key"]) {
      viewer.addHandler(name, () => {
        moved = true;
      });
    }
    viewer.addHandler("open-failed", (event) => {
      document.getElementById("hint").textContent = String(event.message || "open failed");
    });
    viewer.addHandler("canvas-click", (event) => {
      if (!event.quick) return; // the end of a drag
      const point = toPage(event.position);
      const line = point && lineAt(point);
      if (line) choose(line.id);
    });
    new OpenSeadragon.MouseTracker({
      element: viewer.canvas,
      moveHandler: (event) => {
        const point = toPage(event.position);
        const line = point && lineAt(point);
        hover(line ? line.id : null);
      },
      leaveHandler: () => hover(null),
    });
  }

  function render(args) {
    const data = args.data;
    setHeight(args.height);
    const previous = page;
    page = data;
    drawText();
    if (!viewer) createViewer();
    if (shownImage !== data.image) {
      shownImage = data.image;
      document.body.dataset.ready = "false";
      viewer.open({ type: "image", url: data.image, buildPyramid: true });
      lastFocused = data.selected;
      return;
    }
    if (viewer.world.getItemCount()) drawOverlay();
    // a line chosen outside the picture (the select box, a link) is brought into view; one
    // clicked here already is where the reader looks
    if (data.selected !== lastFocused && data.selected !== clickedHere && previous) focusSelected(false);
    lastFocused = data.selected;
  }

  window.addEventListener("message", (event) => {
    if (event.source !== window.parent) return;
    const message = event.data;
    if (message && message.type === "streamlit:render") render(message.args);
  });
  send("streamlit:componentReady", { apiVersion: 1 });
})();
