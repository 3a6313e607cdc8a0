// mjnb's card and gallery views (anywidget): one ES module, no build step, no CDN.
// The kernel sends state (JSON) and pictures (JPEG bytes); this file only draws them and sends
// the user's clicks back as custom messages. Server and user text arrives escaped or is set
// with textContent: nothing here turns a prompt into markup.

const el = (tag, cls, text) => {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text != null) e.textContent = text;
  return e;
};

const clock = (start, end) => {
  if (start == null) return "";
  const s = Math.max(0, ((end ?? Date.now()) - start) / 1000);
  return s < 120 ? `${Math.round(s)} s` : `${(s / 60).toFixed(1)} min`;
};

// Each state change brings new byte views of unchanged pictures: compare a sample, not identity,
// so chips and images are not re-decoded (and do not flicker) on every update.
const same = (a, b) => {
  if (a === b) return true;
  if (!a || !b || a.byteLength !== b.byteLength) return false;
  const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength), y = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  const step = Math.max(1, Math.floor(x.length / 64));
  for (let i = 0; i < x.length; i += step) if (x[i] !== y[i]) return false;
  return x[x.length - 1] === y[y.length - 1];
};

// One object URL per slot, revoked when replaced, so long sessions do not leak pictures.
function pictures() {
  const urls = new Map();
  return {
    url(slot, bytes) {
      const old = urls.get(slot);
      if (old && same(old.bytes, bytes)) return old.url;
      if (old) URL.revokeObjectURL(old.url);
      if (!bytes || !bytes.byteLength) { urls.delete(slot); return ""; }
      const url = URL.createObjectURL(new Blob([bytes], { type: "image/jpeg" }));
      urls.set(slot, { bytes, url });
      return url;
    },
    clear() { for (const { url } of urls.values()) URL.revokeObjectURL(url); urls.clear(); },
  };
}

const drafts = new Map(); // what a user typed or drew in a form survives a re-render of the card

// ------------------------------------------------------------------ the card

function renderCard(model, host) {
  const pics = pictures();
  const root = el("div", "mjnb-card");
  const strip = el("div", "mjnb-strip");
  const header = el("div", "mjnb-header");
  const text = el("div", "mjnb-text");
  const sources = el("div", "mjnb-sources");
  const notes = el("div", "mjnb-annotations");
  const barRow = el("div", "mjnb-bar-row");
  const bar = el("div", "mjnb-bar");
  const fill = el("div", "mjnb-bar-fill");
  const percent = el("span", "mjnb-percent");
  const notices = el("div", "mjnb-notices");
  const figure = el("div", "mjnb-figure");
  const img = el("img", "mjnb-image");
  const full = el("button", "mjnb-link", "⤢ Full size");
  const editor = el("div", "mjnb-editor");
  const buttons = el("div", "mjnb-buttons");
  bar.setAttribute("role", "progressbar");
  bar.setAttribute("aria-valuemin", "0");
  bar.setAttribute("aria-valuemax", "100");
  bar.append(fill);
  barRow.append(bar, percent);
  img.alt = "";
  full.title = "Open the final image at full size";
  figure.append(img, full);
  root.append(strip, header, text, sources, notes, barRow, notices, figure, editor, buttons);
  host.append(root);

  const tasks = () => model.get("tasks") || [];
  const current = () => tasks().find((t) => t.id === model.get("selected")) || tasks()[0];
  const send = (type, extra) => model.send({ type, task: current().id, ...extra });
  let editorKey = "";
  let lastSelected = model.get("selected");

  function drawStrip() {
    const all = tasks();
    strip.replaceChildren();
    strip.hidden = all.length < 2;
    if (all.length < 2) return;
    const thumbs = model.get("thumbs") || {};
    all.forEach((t, i) => {
      const chip = el("button", `mjnb-chip mjnb-tone-${t.tone}`);
      chip.dataset.task = t.id;
      chip.title = `${t.action} ${t.short} · ${t.status}`;
      const url = pics.url(`chip:${t.id}`, thumbs[t.id]);
      if (url) { const p = el("img"); p.src = url; p.alt = ""; chip.append(p); }
      chip.append(el("span", "mjnb-chip-label", i === 0 ? t.action : (t.via || t.action)));
      chip.append(el("span", "mjnb-dot"));
      if (t.id === current().id) chip.classList.add("mjnb-selected");
      chip.onclick = () => model.send({ type: "select", task: t.id });
      strip.append(chip);
    });
  }

  function drawHeader(t) {
    header.replaceChildren();
    const add = (node) => { if (header.childNodes.length) header.append(el("span", "mjnb-sep", " · ")); header.append(node); };
    add(el("b", "mjnb-action", t.action));
    const id = el("code", "mjnb-id", t.short);
    id.title = t.id;
    add(id);
    add(el("span", `mjnb-pill mjnb-tone-${t.tone}`, t.status));
    if (t.queue != null) add(el("span", "", `queued, ${t.queue} ahead`));
    const time = el("span", "mjnb-clock", clock(t.start, t.end));
    if (t.start != null) add(time);
    if (t.cost) add(el("span", "mjnb-muted", t.cost));
    if (t.parent) add(el("span", "mjnb-via", `↳ from ${t.parent}${t.via && t.via !== t.action ? " · " + t.via : ""}`));
    if (model.get("balance")) add(el("span", "mjnb-muted", model.get("balance")));
    if (model.get("simulator")) {
      const badge = el("span", "mjnb-badge", "simulator");
      badge.title = "Built-in simulator: set MJNB_BASE_URL for a real relay";
      add(badge);
    }
  }

  function drawButtons(t) {
    buttons.replaceChildren();
    let row = null, rowIndex = -1;
    for (const b of t.buttons) {
      if (b.row !== rowIndex) { row = el("div", "mjnb-row"); buttons.append(row); rowIndex = b.row; }
      const button = el("button", "mjnb-button", b.label);
      button.title = b.why || b.help;
      button.disabled = !!b.why || b.busy;
      if (b.used) button.classList.add("mjnb-used");
      if (b.busy) button.classList.add("mjnb-busy");
      button.onclick = () => { button.disabled = true; send("press", { button: b.id }); };
      row.append(button);
    }
  }

  function drawEditor(t) {
    const key = t.editor ? `${t.id}:${t.editor.kind}` : "";
    if (key !== editorKey) {
      editorKey = key;
      editor.replaceChildren();
      if (t.editor) (t.editor.kind === "region" ? regionEditor : promptEditor)(editor, t, model, send, pics);
    }
    if (t.editor) {
      editor.querySelector(".mjnb-form-error").textContent = t.editor.error || "";
      editor.querySelector(".mjnb-submit").disabled = t.editor.busy;
      if (t.editor.kind === "region") editor.querySelector(".mjnb-region img").src =
        pics.url("editor", model.get("editor_picture"));
    }
  }

  function draw() {
    const t = current();
    if (!t) return;
    root.dataset.task = t.id;
    root.dataset.status = t.status;
    drawStrip();
    drawHeader(t);
    text.innerHTML = t.text; // escaped (and for describe/shorten formatted) by the kernel
    sources.replaceChildren();
    const thumbs = model.get("thumbs") || {};
    for (let n = 0; n < (t.sources || 0); n++) {
      const url = pics.url(`src:${t.id}:${n}`, thumbs[`${t.id}:src${n}`]);
      if (url) { const p = el("img"); p.src = url; p.alt = `source image ${n + 1}`; sources.append(p); }
    }
    notes.replaceChildren();
    if (t.rating) notes.append(el("span", "mjnb-stars", "★".repeat(t.rating) + "☆".repeat(5 - t.rating)));
    for (const tag of t.tags) notes.append(el("span", "mjnb-tag", `#${tag}`));
    if (t.note) notes.append(el("i", "", t.note));
    barRow.hidden = !!t.editor; // a form is waiting for you, not a job at 0 %
    fill.style.width = `${t.progress}%`;
    fill.className = `mjnb-bar-fill mjnb-tone-${t.tone}`;
    bar.setAttribute("aria-valuenow", String(t.progress));
    percent.textContent = `${t.progress}%`;
    notices.replaceChildren();
    for (const n of t.notices) notices.append(el("div", `mjnb-notice mjnb-${n.tone}`, n.text));
    if (t.stalled) {
      const refresh = el("button", "mjnb-button", "↻ Refresh");
      refresh.title = "Fetch this task again now";
      refresh.onclick = () => send("refresh");
      notices.append(refresh);
    }
    const url = pics.url("picture", model.get("picture"));
    figure.hidden = !url || !!t.editor;
    if (url && img.src !== url) img.src = url;
    full.hidden = t.status !== "SUCCESS";
    drawEditor(t);
    drawButtons(t);
    if (model.get("selected") !== lastSelected) {
      lastSelected = model.get("selected");
      root.scrollIntoView({ block: "nearest", behavior: "smooth" }); // the newest child is the one in view
    }
  }

  full.onclick = () => send("full");
  img.onclick = () => { if (current().status === "SUCCESS") send("full"); };
  const onMessage = (msg, buffers) => {
    if (msg && msg.type === "full" && buffers && buffers.length) showFull(buffers[0], msg);
  };
  const tick = setInterval(() => {
    const t = current();
    const time = header.querySelector(".mjnb-clock");
    if (t && time && t.end == null && t.start != null) time.textContent = clock(t.start, t.end);
  }, 1000);
  const events = ["change:tasks", "change:selected", "change:picture", "change:thumbs", "change:editor_picture",
                  "change:balance"];
  const ctx = {};
  for (const e of events) model.on(e, draw, ctx);
  model.on("msg:custom", onMessage, ctx);
  draw();
  return () => {
    clearInterval(tick);
    for (const e of events) model.off(e, draw, ctx);
    model.off("msg:custom", onMessage, ctx);
    pics.clear();
    root.remove();
  };
}

function showFull(buffer, msg) {
  const url = URL.createObjectURL(new Blob([buffer], { type: "image/jpeg" }));
  const overlay = el("div", "mjnb-lightbox");
  const picture = el("img");
  picture.src = url;
  picture.alt = `${msg.width}×${msg.height}`;
  const caption = el("div", "mjnb-lightbox-caption", `${msg.width} × ${msg.height} · click to close · `);
  const open = el("a", "", "open in a new tab");
  open.href = url;
  open.target = "_blank";
  open.onclick = (e) => e.stopPropagation();
  caption.append(open);
  overlay.append(picture, caption);
  overlay.onclick = () => { overlay.remove(); URL.revokeObjectURL(url); };
  document.body.append(overlay);
}

function promptEditor(box, t, model, send) {
  const key = `${t.id}:prompt`;
  const form = el("div", "mjnb-form");
  form.append(el("div", "mjnb-form-title", t.editor.title));
  const area = el("textarea", "mjnb-textarea");
  area.rows = 3;
  area.value = drafts.get(key) ?? t.editor.prompt;
  area.oninput = () => drafts.set(key, area.value);
  form.append(area);
  const actions = el("div", "mjnb-form-actions");
  if (t.editor.kind === "zoom") {
    const label = el("label", "mjnb-zoom", "zoom ");
    const range = el("input");
    range.type = "range"; range.min = "1"; range.max = "2"; range.step = "0.05";
    const now = /--zoom\s+([\d.]+)/.exec(area.value);
    range.value = now ? now[1] : "1.8";
    const shown = el("span", "", range.value);
    range.oninput = () => {
      shown.textContent = range.value;
      area.value = /--zoom\s+\S+/.test(area.value) ? area.value.replace(/--zoom\s+\S+/, `--zoom ${range.value}`)
        : `${area.value.trim()} --zoom ${range.value}`;
      drafts.set(key, area.value);
    };
    label.append(range, shown);
    actions.append(label);
  }
  const submit = el("button", "mjnb-button mjnb-primary mjnb-submit", "Submit");
  submit.onclick = () => { submit.disabled = true; send("confirm", { prompt: area.value }); };
  actions.append(submit, el("span", "mjnb-form-error"));
  form.append(actions);
  box.append(form);
}

function regionEditor(box, t, model, send, pics) {
  const key = `${t.id}:region`;
  const saved = drafts.get(key) || { mode: "rect", shape: null, prompt: t.editor.prompt };
  const form = el("div", "mjnb-form");
  form.append(el("div", "mjnb-form-title", t.editor.title));
  const modes = el("div", "mjnb-modes");
  const stage = el("div", "mjnb-region");
  const picture = el("img");
  picture.alt = "the image to vary";
  picture.src = pics.url("editor", model.get("editor_picture"));
  const canvas = el("canvas");
  stage.append(picture, canvas);
  const area = el("textarea", "mjnb-textarea");
  area.rows = 2;
  area.value = saved.prompt;
  const keep = () => drafts.set(key, { ...saved, prompt: area.value });
  area.oninput = keep;

  const modeButton = (mode, label) => {
    const b = el("button", "mjnb-button", label);
    b.onclick = () => { saved.mode = mode; saved.shape = null; keep(); paint(); mark(); };
    b.dataset.mode = mode;
    return b;
  };
  const clear = el("button", "mjnb-button", "Clear");
  clear.onclick = () => { saved.shape = null; keep(); paint(); };
  modes.append(modeButton("rect", "▭ Rectangle"), modeButton("lasso", "➰ Lasso"), clear);
  const mark = () => modes.querySelectorAll("[data-mode]").forEach((b) =>
    b.classList.toggle("mjnb-used", b.dataset.mode === saved.mode));

  function paint() {
    const w = canvas.width = stage.clientWidth || picture.width;
    const h = canvas.height = stage.clientHeight || picture.height;
    const g = canvas.getContext("2d");
    g.clearRect(0, 0, w, h);
    const s = saved.shape;
    if (!s) return;
    g.fillStyle = "rgba(0,0,0,0.5)";
    g.fillRect(0, 0, w, h);
    g.globalCompositeOperation = "destination-out";
    g.beginPath();
    if (s.box) g.rect(s.box[0] * w, s.box[1] * h, (s.box[2] - s.box[0]) * w, (s.box[3] - s.box[1]) * h);
    else s.lasso.forEach(([x, y], i) => (i ? g.lineTo(x * w, y * h) : g.moveTo(x * w, y * h)));
    g.closePath();
    g.fill();
    g.globalCompositeOperation = "source-over";
    g.strokeStyle = "#fff";
    g.setLineDash([6, 4]);
    g.lineWidth = 2;
    g.stroke();
  }

  const at = (e) => {
    const r = canvas.getBoundingClientRect();
    return [Math.min(1, Math.max(0, (e.clientX - r.left) / r.width)), Math.min(1, Math.max(0, (e.clientY - r.top) / r.height))];
  };
  let start = null;
  canvas.onpointerdown = (e) => {
    canvas.setPointerCapture(e.pointerId);
    start = at(e);
    saved.shape = saved.mode === "rect" ? { box: [...start, ...start] } : { lasso: [start] };
    paint();
  };
  canvas.onpointermove = (e) => {
    if (!start) return;
    const p = at(e);
    if (saved.shape.box) saved.shape.box = [Math.min(start[0], p[0]), Math.min(start[1], p[1]), Math.max(start[0], p[0]), Math.max(start[1], p[1])];
    else {
      const last = saved.shape.lasso[saved.shape.lasso.length - 1];
      if (Math.hypot(p[0] - last[0], p[1] - last[1]) > 0.004) saved.shape.lasso.push(p);
    }
    paint();
  };
  canvas.onpointerup = () => {
    start = null;
    const s = saved.shape;
    const empty = s && (s.box ? (s.box[2] - s.box[0] < 0.01 || s.box[3] - s.box[1] < 0.01) : s.lasso.length < 3);
    if (empty) saved.shape = null;
    keep();
    paint();
  };
  picture.onload = paint;
  new ResizeObserver(paint).observe(stage);

  const actions = el("div", "mjnb-form-actions");
  const submit = el("button", "mjnb-button mjnb-primary mjnb-submit", "Vary region");
  submit.onclick = () => {
    const s = saved.shape;
    send("confirm", { prompt: area.value, ...(s ? (s.box ? { box: s.box } : { lasso: s.lasso }) : {}) });
  };
  actions.append(submit, el("span", "mjnb-form-error"));
  form.append(modes, stage, area, actions);
  box.append(form);
  mark();
}

// ------------------------------------------------------------------ the experiment gallery

function renderGallery(model, host) {
  const pics = pictures();
  const root = el("div", "mjnb-gallery");
  const title = el("div", "mjnb-gallery-title");
  const bar = el("div", "mjnb-bar");
  const fill = el("div", "mjnb-bar-fill");
  const counts = el("div", "mjnb-gallery-counts");
  const grid = el("div", "mjnb-grid");
  const caption = el("div", "mjnb-detail-caption");
  const detail = el("div", "mjnb-detail");
  bar.setAttribute("role", "progressbar");
  bar.append(fill);
  root.append(title, bar, counts, grid, caption, detail);
  host.append(root);
  let detailId = null, detailCleanup = null;

  function draw() {
    const s = model.get("summary") || {};
    title.replaceChildren(el("b", "", s.title || ""), el("span", "mjnb-muted", s.subtitle ? ` · ${s.subtitle}` : ""));
    if (s.money) title.append(el("div", "mjnb-money", s.money));
    fill.style.width = `${s.total ? (100 * s.settled) / s.total : 0}%`;
    fill.className = `mjnb-bar-fill mjnb-tone-${s.tone || "running"}`;
    bar.setAttribute("aria-valuenow", String(s.settled || 0));
    counts.replaceChildren(el("span", "", s.counts || ""));
    if (s.error) counts.append(el("div", "mjnb-error", s.error));
    const thumbs = model.get("thumbs") || {};
    grid.replaceChildren();
    for (const item of model.get("items") || []) {
      const card = el("div", `mjnb-small mjnb-tone-${item.tone}`);
      card.dataset.index = item.index;
      const url = pics.url(`item:${item.index}`, thumbs[String(item.index)]);
      const face = url ? el("img", "mjnb-thumb") : el("div", "mjnb-thumb mjnb-placeholder", item.status);
      if (url) { face.src = url; face.alt = item.prompt; }
      const small = el("div", "mjnb-bar mjnb-bar-small");
      const f = el("div", `mjnb-bar-fill mjnb-tone-${item.tone}`);
      f.style.width = `${item.progress}%`;
      small.setAttribute("role", "progressbar");
      small.setAttribute("aria-valuenow", String(item.progress));
      small.append(f);
      const line1 = el("div", "mjnb-caption", `#${item.index} ${item.prompt}`);
      const line2 = el("div", "mjnb-caption mjnb-muted", item.factors);
      card.title = [item.prompt, item.factors, item.reason].filter(Boolean).join("\n");
      card.append(face, small, line1, line2);
      if (item.reason) card.append(el("div", "mjnb-caption mjnb-error",
        `${item.reason}${item.attempts > 1 ? ` (try ${item.attempts})` : ""}`));
      const open = el("button", "mjnb-button mjnb-open", "Open");
      open.title = "Show this item's full card below the grid";
      open.onclick = () => model.send({ type: "open", index: item.index });
      card.append(open);
      grid.append(card);
    }
    caption.textContent = model.get("detail_caption") || "";
    showDetail(model.get("detail"));
  }

  async function showDetail(ref) {
    const id = typeof ref === "string" ? ref.replace(/^IPY_MODEL_/, "") : null;
    if (id === detailId) return;
    detailId = id;
    if (detailCleanup) { detailCleanup(); detailCleanup = null; }
    detail.replaceChildren();
    if (!id) return;
    try {
      const card = await model.widget_manager.get_model(id);
      if (detailId === id) detailCleanup = renderCard(card, detail);
    } catch (e) {
      detail.textContent = "This item's card cannot be shown here: display it with exp.items[i].task";
    }
  }

  const events = ["change:summary", "change:items", "change:thumbs", "change:detail", "change:detail_caption"];
  const ctx = {};
  for (const e of events) model.on(e, draw, ctx);
  draw();
  return () => {
    for (const e of events) model.off(e, draw, ctx);
    if (detailCleanup) detailCleanup();
    pics.clear();
    root.remove();
  };
}

function render({ model, el: host }) {
  host.classList.add("mjnb-root");
  return model.get("view") === "gallery" ? renderGallery(model, host) : renderCard(model, host);
}

export default { render };
