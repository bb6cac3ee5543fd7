// The media pipeline's page: sign in (Cognito), upload (presigned POST), watch and browse items (the web API).
// Plain JavaScript, no build step. config.json says where the API and the user pool are (docs/web.md).
// The same page is the results page of a local run (`media-pipeline process` writes it as index.html): then the
// run's items are in window.MEDIA_PIPELINE_RUN, read-only, and nothing is fetched (it opens from the file system).
"use strict";

const FINAL = ["SUCCEEDED", "FAILED"];
const state = { config: null, token: null, user: null, session: null, nextPage: null, itemId: null,
                listTimer: null, itemTimer: null, lastUpload: 0, run: null };
const $ = (id) => document.getElementById(id);

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === "text") node.textContent = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (value !== null && value !== undefined && value !== false) node.setAttribute(name, value);
  }
  for (const child of children) node.append(child);
  return node;
}

function say(text) { $("message").textContent = text; }

// ---- Cognito (its JSON API, as the AWS SDK calls it) --------------------------------------------------------------

async function cognito(action, body) {
  const endpoint = state.config.cognitoUrl || `https://cognito-idp.${state.config.region}.amazonaws.com/`;
  const response = await fetch(endpoint, {
    method: "POST",
    headers: { "Content-Type": "application/x-amz-json-1.1",
               "X-Amz-Target": `AWSCognitoIdentityProviderService.${action}` },
    body: JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.message || data.__type || `sign-in failed (${response.status})`);
  return data;
}

async function signIn(event) {
  event.preventDefault();
  $("sign-in-error").textContent = "";
  const username = $("username").value.trim();
  try {
    let result;
    if (state.session) {
      result = await cognito("RespondToAuthChallenge", {
        ChallengeName: "NEW_PASSWORD_REQUIRED", ClientId: state.config.clientId, Session: state.session,
        ChallengeResponses: { USERNAME: username, NEW_PASSWORD: $("new-password").value } });
    } else {
      result = await cognito("InitiateAuth", {
        AuthFlow: "USER_PASSWORD_AUTH", ClientId: state.config.clientId,
        AuthParameters: { USERNAME: username, PASSWORD: $("password").value } });
    }
    if (result.ChallengeName === "NEW_PASSWORD_REQUIRED") {
      state.session = result.Session;
      $("new-password-row").hidden = false;
      $("new-password").required = true;
      $("new-password").focus();
      $("sign-in-error").textContent = "Choose a new password to finish signing in.";
      return;
    }
    state.session = null;
    sessionStorage.setItem("token", result.AuthenticationResult.AccessToken);
    sessionStorage.setItem("user", username);
    start();
  } catch (error) {
    $("sign-in-error").textContent = `Could not sign in: ${error.message}`;
  }
}

function signOut() {
  sessionStorage.clear();
  clearTimeout(state.listTimer);
  clearTimeout(state.itemTimer);
  state.token = null;
  $("app").hidden = true;
  $("who").hidden = true;
  $("sign-in").hidden = false;
  $("username").focus();
}

// ---- the API ------------------------------------------------------------------------------------------------------

async function api(method, path, body) {
  if (state.run) return runApi(method, path);
  const response = await fetch(state.config.apiUrl + path, {
    method,
    headers: { Authorization: `Bearer ${state.token}`, ...(body ? { "Content-Type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  if (response.status === 401) { signOut(); throw new Error("Your session has ended: please sign in again."); }
  const data = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) throw new Error((data && data.message) || `the API answered ${response.status}`);
  return data;
}

// A local run's items answer the two reads the page makes (GET /items, GET /items/{id}), as the API would.
function runApi(method, path) {
  if (method === "GET" && path.startsWith("/items/")) {
    const view = state.run.views[path.slice("/items/".length)];
    if (!view) throw new Error("no such item in this run");
    return view;
  }
  if (method === "GET" && path.startsWith("/items")) return { items: state.run.items, next: null };
  throw new Error("the results page of a run is read-only");
}

// ---- uploads ------------------------------------------------------------------------------------------------------

function uploadFiles(files) {
  for (const file of files) uploadFile(file);
}

async function uploadFile(file) {
  const progress = el("progress", { max: "100", value: "0", "aria-label": `Upload of ${file.name}` });
  const status = el("span", { text: "Preparing…" });
  $("upload-list").prepend(el("li", {}, el("span", { text: file.name }), progress, status));
  try {
    const post = await api("POST", "/uploads", { filename: file.name, content_type: file.type || "application/octet-stream",
                                                 size: file.size });
    const form = new FormData();
    for (const [name, value] of Object.entries(post.fields)) form.append(name, value);
    form.append("file", file);  // the file comes last in a POST upload
    await new Promise((resolve, reject) => {
      const request = new XMLHttpRequest();
      request.open("POST", post.url);
      request.upload.addEventListener("progress", (event) => {
        if (event.lengthComputable) {
          progress.value = Math.round((100 * event.loaded) / event.total);
          status.textContent = `${progress.value} %`;
        }
      });
      request.addEventListener("load", () => (request.status < 300 ? resolve() :
        reject(new Error(s3Message(request.responseText) || `storage answered ${request.status}`))));
      request.addEventListener("error", () => reject(new Error("the upload could not reach storage")));
      request.send(form);
    });
    progress.value = 100;
    status.textContent = "Uploaded: processing starts";
    state.lastUpload = Date.now();
    refreshList();
  } catch (error) {
    status.textContent = `Not uploaded: ${error.message}`;
    status.className = "error";
  }
}

function s3Message(xml) {
  const match = /<Message>([^<]*)<\/Message>/.exec(xml || "");
  return match ? match[1] : "";
}

// ---- the list -----------------------------------------------------------------------------------------------------

function statusCell(item) {
  const text = item.status === "FAILED" && item.error_code ? `FAILED (${item.error_code})` : item.status;
  return el("td", { class: `status-${item.status}`, text });
}

function itemRow(item) {
  const open = el("button", { type: "button", class: "link-button", text: item.name,
                              onclick: () => { location.hash = `#/items/${item.media_id}`; } });
  return el("tr", { "data-media-id": item.media_id, "data-status": item.status },
    el("td", {}, open), el("td", { text: item.media_type || "" }), statusCell(item),
    el("td", { class: "step", text: item.current_step || "" }),
    el("td", {}, el("time", { datetime: item.created_at, text: (item.created_at || "").replace("T", " ").replace("Z", " UTC") })));
}

async function refreshList(append = false) {
  clearTimeout(state.listTimer);
  try {
    const page = await api("GET", `/items${append && state.nextPage ? `?next=${encodeURIComponent(state.nextPage)}` : ""}`);
    const rows = $("item-rows");
    if (!append) rows.replaceChildren();
    for (const item of page.items) rows.append(itemRow(item));
    state.nextPage = page.next;
    $("more-items").hidden = !page.next;
    $("items-empty").hidden = rows.children.length > 0;
    if (state.run) return;  // a finished run: nothing changes
    const running = page.items.some((item) => !FINAL.includes(item.status));
    const recent = Date.now() - state.lastUpload < 60000;
    state.listTimer = setTimeout(() => refreshList(), running || recent ? 2000 : 15000);
  } catch (error) {
    say(error.message);
    if (state.token) state.listTimer = setTimeout(() => refreshList(), 15000);
  }
}

// ---- one item -----------------------------------------------------------------------------------------------------

function clock(seconds) {
  const s = Math.floor(seconds);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

function show(id, visible) { $(id).hidden = !visible; }

async function openItem(mediaId) {
  clearTimeout(state.itemTimer);
  state.itemId = mediaId;
  $("upload").hidden = true;
  $("items").hidden = true;
  $("item").hidden = false;
  if ($("item").dataset.mediaId !== mediaId) {  // another item: nothing of the previous one stays on screen
    $("item-title").textContent = "Loading…";
    for (const id of ["player-box", "pictures", "enrichment", "transcript", "document", "pii", "downloads",
                      "manifest-box", "item-error", "item-warnings"]) show(id, false);
    $("player-box").replaceChildren();
  }
  let view;
  try {
    view = await api("GET", `/items/${mediaId}`);
  } catch (error) {
    $("item-title").textContent = "Item not found";
    say(error.message);
    return;
  }
  if (state.itemId !== mediaId) return;
  renderItem(view);
  if (!FINAL.includes(view.status)) state.itemTimer = setTimeout(() => openItem(mediaId), 2000);
}

function renderItem(view) {
  const manifest = view.manifest || {};
  const enrichment = manifest.enrichment || null;
  const firstRender = $("item").dataset.mediaId !== view.media_id || $("item").dataset.status !== view.status;
  $("item").dataset.mediaId = view.media_id;
  $("item").dataset.status = view.status;
  $("item-title").textContent = (enrichment && enrichment.title) || view.name;
  $("item-status").textContent = view.status;
  $("item-status").className = `status-${view.status}`;
  $("item-step").textContent = view.current_step || (FINAL.includes(view.status) ? "finished" : "starting");
  $("item-type").textContent = `${view.name} (${view.media_type || "unknown"})`;
  const language = manifest.language;
  $("item-language").textContent = language && language.code ? `${language.code} (${language.source})` : "not identified";

  show("item-error", !!view.error);
  if (view.error) {
    $("item-error").replaceChildren(el("strong", { text: view.error.plain }), " ",
      el("span", { text: `Reason code ${view.error.code}` }), view.error.message ? el("div", { class: "detail", text: view.error.message }) : "");
  }
  show("item-warnings", view.warnings.length > 0);
  $("item-warnings").replaceChildren(...view.warnings.map((w) => el("li", { text: `${w.plain} (${w.code})` })));

  if (!firstRender) return;  // keep the player where it is while nothing changed
  renderPlayer(view, manifest);
  renderPictures(view);
  show("enrichment", !!enrichment);
  if (enrichment) {
    $("summary").textContent = enrichment.summary || "";
    $("keywords").replaceChildren(...(enrichment.keywords || []).map((k) => el("li", { text: k })));
  }
  const segments = (manifest.transcript && manifest.transcript.segments) || [];
  show("transcript", segments.length > 0);
  $("transcript-lines").replaceChildren(...segments.map((segment) => el("li", {},
    el("button", { type: "button", "data-start": segment.start, onclick: () => seek(segment.start) },
      el("time", { text: clock(segment.start) }), segment.text))));
  const pages = (manifest.text && manifest.text.pages) || [];
  show("document", pages.length > 0);
  $("pages").replaceChildren(...pages.map((page) => el("section", { class: "page", "aria-label": `Page ${page.page}` },
    el("h4", { text: `Page ${page.page}` }), el("pre", { text: page.text }))));
  const pii = manifest.pii;
  show("pii", !!pii);
  if (pii) {
    const counts = Object.entries(pii.entity_counts || {}).map(([type, n]) => `${type}: ${n}`).join(", ");
    $("pii-summary").textContent = pii.redacted ? `Redacted (${pii.source}). ${counts || "No entities found."}` : "Not redacted.";
  }
  const links = Object.entries(view.links || {});
  show("downloads", links.length > 0);
  $("link-minutes").textContent = Math.round((view.link_seconds || 300) / 60);
  $("download-list").replaceChildren(...links.map(([name, url]) => el("li", {},
    el("a", { href: url, download: "", text: name.replace(/_/g, " ") }))));
  show("manifest-box", !!view.manifest);
  $("manifest").textContent = view.manifest ? JSON.stringify(view.manifest, null, 2) : "";
  $("reprocess").disabled = !FINAL.includes(view.status);
  $("delete").disabled = !FINAL.includes(view.status);
  $("item").focus();
}

function renderPlayer(view, manifest) {
  const box = $("player-box");
  box.replaceChildren();
  box.hidden = !view.media_url;
  if (!view.media_url) return;
  if (view.media_type === "image") {
    box.append(el("img", { class: "image-preview", src: view.media_url, alt: `The uploaded image ${view.name}` }));
    return;
  }
  const kind = view.media_type === "video" ? "video" : "audio";
  const player = el(kind, { id: "player", controls: "", preload: "metadata", crossorigin: state.run ? null : "anonymous",
                            poster: kind === "video" ? view.links.poster : null,
                            "aria-label": `${kind === "video" ? "Video" : "Audio"} player for ${view.name}` });
  player.append(el("source", { src: view.media_url }));
  if (view.links.captions_vtt) {
    const language = ((manifest.transcript && manifest.transcript.language) || "en").split("-")[0];
    player.append(el("track", { kind: "captions", label: "Captions", srclang: language, src: view.links.captions_vtt, default: "" }));
  }
  player.addEventListener("timeupdate", () => highlight(player.currentTime));
  box.append(player);
}

function renderPictures(view) {
  const names = Object.keys(view.links || {}).filter((n) => n === "poster" || n.startsWith("thumbnail_"));
  show("pictures", names.length > 0);
  $("picture-list").replaceChildren(...names.map((name) =>
    el("img", { src: view.links[name], alt: name === "poster" ? "Poster frame" : `Thumbnail ${Number(name.split("_")[1]) + 1}` })));
}

function seek(seconds) {
  const player = $("player");
  if (!player) return;
  player.currentTime = seconds;
  highlight(seconds);
  player.play().catch(() => {});  // a browser may refuse to play without a user gesture; seeking still happened
}

function highlight(time) {
  let current = null;
  for (const button of $("transcript-lines").querySelectorAll("button")) {
    button.classList.remove("current");
    button.removeAttribute("aria-current");
    if (Number(button.dataset.start) <= time + 0.05) current = button;
  }
  if (current) { current.classList.add("current"); current.setAttribute("aria-current", "true"); }
}

async function deleteItem() {
  if (!confirm("Delete this item, its upload and its results?")) return;
  try {
    await api("DELETE", `/items/${state.itemId}`);
    say("Deleted.");
    location.hash = "#/";
  } catch (error) { say(error.message); }
}

async function reprocessItem() {
  try {
    const result = await api("POST", `/items/${state.itemId}/reprocess`);
    state.lastUpload = Date.now();
    say("Processing again: a new item was started.");
    location.hash = `#/items/${result.media_id}`;
  } catch (error) { say(error.message); }
}

// ---- navigation -----------------------------------------------------------------------------------------------

function route() {
  if (!state.token) return;
  const match = /^#\/items\/([0-9a-f]{32})$/.exec(location.hash);
  if (match) { openItem(match[1]); return; }
  clearTimeout(state.itemTimer);
  state.itemId = null;
  $("item").hidden = true;
  delete $("item").dataset.mediaId;
  $("upload").hidden = !!state.run;  // a run's page has nothing to upload to
  $("items").hidden = false;
  refreshList();
}

function start() {
  state.token = sessionStorage.getItem("token");
  state.user = sessionStorage.getItem("user");
  if (!state.token) { signOut(); return; }
  $("sign-in").hidden = true;
  $("app").hidden = false;
  $("who").hidden = false;
  $("who-name").textContent = `Signed in as ${state.user}`;
  route();
}

function wireDropZone() {
  const zone = $("drop-zone");
  zone.addEventListener("dragover", (event) => { event.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    uploadFiles(event.dataTransfer.files);
  });
  $("file-input").addEventListener("change", (event) => { uploadFiles(event.target.files); event.target.value = ""; });
}

function startRun(run) {
  state.run = run;
  state.token = "local run";
  document.title = run.title;
  document.querySelector("header h1").textContent = run.title;
  document.querySelector(".tagline").textContent = run.subtitle;
  for (const id of ["sign-in", "upload", "who"]) $(id).hidden = true;
  for (const node of document.querySelectorAll(".actions, #downloads .hint")) node.style.display = "none";
  $("items-title").textContent = "Items of this run";
  $("app").hidden = false;
  $("back").addEventListener("click", () => { location.hash = "#/"; });
  window.addEventListener("hashchange", route);
  route();
}

async function main() {
  if (window.MEDIA_PIPELINE_RUN) { startRun(window.MEDIA_PIPELINE_RUN); return; }
  state.config = await (await fetch("config.json", { cache: "no-store" })).json();
  $("sign-in-form").addEventListener("submit", signIn);
  $("sign-out").addEventListener("click", signOut);
  $("back").addEventListener("click", () => { location.hash = "#/"; });
  $("more-items").addEventListener("click", () => refreshList(true));
  $("delete").addEventListener("click", deleteItem);
  $("reprocess").addEventListener("click", reprocessItem);
  window.addEventListener("hashchange", route);
  wireDropZone();
  start();
}

main().catch((error) => say(`The page could not start: ${error.message}`));
