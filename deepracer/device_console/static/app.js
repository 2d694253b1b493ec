// The car's web console. Plain JS, no build step; talks to /api (docs/device-console.md).
// Safety: teleop is sent only while the joystick is held (TELEOP_HZ) and zero on release;
// if this page stops sending, the car's watchdog stops the car. Nothing here repeats a
// command after the page is gone.
"use strict";

const TELEOP_HZ = 20;
const STATUS_MS = 1000;
const CAL_REPEAT_MS = 200; // calibration pulses repeated while a step is open (servo watchdog 0.5 s)

let csrf = null;
let limits = { manual_max_speed_mps: 1, max_steering_deg: 30 };
let lastStatus = null;
const $ = (id) => document.getElementById(id);

async function api(method, path, body, raw) {
  const headers = {};
  if (method !== "GET") headers["X-CSRF-Token"] = csrf || "";
  let payload;
  if (raw) payload = raw;
  else if (body !== undefined) { headers["Content-Type"] = "application/json"; payload = JSON.stringify(body); }
  const res = await fetch(path, { method, headers, body: payload, credentials: "same-origin" });
  let data = null;
  try { data = await res.json(); } catch (e) { data = null; }
  if (res.status === 401 && path !== "/api/login") { showLogin(); }
  if (!res.ok) {
    let detail = data && data.detail;
    if (Array.isArray(detail)) detail = detail.map((d) => `${(d.loc || []).slice(1).join(".")}: ${d.msg}`).join("; ");
    const err = new Error(detail || `${res.status} ${res.statusText}`);
    err.status = res.status;
    throw err;
  }
  return data;
}

function say(el, text, good) {
  el.textContent = text;
  el.className = "message " + (good === undefined ? "" : good ? "good" : "bad");
}

// -- login ------------------------------------------------------------------------------------
function showLogin() {
  stopCamera();
  $("app").hidden = true;
  $("login").hidden = false;
  $("password").focus();
}

async function showApp() {
  $("login").hidden = true;
  $("app").hidden = false;
  startCamera();
  refreshStatus();
  refreshModels();
}

$("login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  $("login-error").textContent = "";
  try {
    const data = await api("POST", "/api/login", { password: $("password").value });
    csrf = data.csrf_token;
    $("password").value = "";
    const s = await api("GET", "/api/session");
    limits = s;
    showApp();
  } catch (err) {
    $("login-error").textContent = err.message;
  }
});

$("logout").addEventListener("click", async () => {
  try { await api("POST", "/api/logout"); } catch (e) { /* logged out anyway */ }
  csrf = null;
  showLogin();
});

// -- tabs ---------------------------------------------------------------------------------------
document.querySelectorAll("nav button").forEach((b) => b.addEventListener("click", () => {
  document.querySelectorAll("nav button").forEach((x) => x.classList.toggle("active", x === b));
  document.querySelectorAll(".tab").forEach((t) => { t.hidden = t.id !== "tab-" + b.dataset.tab; });
  if (b.dataset.tab === "models") refreshModels();
  if (b.dataset.tab === "calibrate") refreshCalibration();
}));

// -- camera -------------------------------------------------------------------------------------
function startCamera() { $("camera").src = "/api/camera?t=" + Date.now(); }
function stopCamera() { $("camera").removeAttribute("src"); }
$("camera").addEventListener("error", () => { setTimeout(() => { if (!$("app").hidden) startCamera(); }, 2000); });

// -- drive --------------------------------------------------------------------------------------
document.querySelectorAll("[data-mode]").forEach((b) => b.addEventListener("click", async () => {
  try {
    const r = await api("POST", "/api/mode", { mode: b.dataset.mode });
    say($("drive-message"), r.message, true);
  } catch (err) { say($("drive-message"), err.message, false); }
  refreshStatus();
}));

$("estop").addEventListener("click", async () => {
  try {
    await api("POST", "/api/estop", { pressed: true });
    say($("drive-message"), "E-STOP: the car is stopped", false);
  } catch (err) { say($("drive-message"), "e-stop failed: " + err.message, false); }
  refreshStatus();
});

$("estop-release").addEventListener("click", async () => {
  try {
    await api("POST", "/api/estop", { pressed: false });
    say($("drive-message"), "e-stop released: choose a mode to drive again", true);
  } catch (err) { say($("drive-message"), err.message, false); }
  refreshStatus();
});

let speedTimer = null;
$("max-speed").addEventListener("input", () => {
  const v = Number($("max-speed").value);
  $("max-speed-value").textContent = v + " %";
  clearTimeout(speedTimer);
  speedTimer = setTimeout(async () => {
    try { await api("POST", "/api/max_speed", { scale: v / 100 }); } catch (err) { say($("drive-message"), err.message, false); }
  }, 150);
});

// Joystick: nipplejs, static in its box. vector.y up = forward, vector.x right = steer right (-).
let stick = { x: 0, y: 0, held: false };
let teleopTimer = null;
function sendTeleop(x, y, keepalive) {
  const body = JSON.stringify({ throttle: clamp(y), steering: clamp(-x) });
  return fetch("/api/teleop", { method: "POST", keepalive: !!keepalive, credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf || "" }, body })
    .then((r) => { if (r.status === 401) showLogin(); })
    .catch(() => { /* the car's watchdog stops it when commands stop arriving */ });
}
function clamp(v) { return Math.max(-1, Math.min(1, Math.round(v * 1000) / 1000)); }
function releaseStick() {
  stick = { x: 0, y: 0, held: false };
  clearInterval(teleopTimer);
  teleopTimer = null;
  sendTeleop(0, 0, true);
  $("teleop-info").textContent = "Hold and drag to drive; let go to stop.";
}
function setupJoystick() {
  if (!window.nipplejs) return;
  const manager = nipplejs.create({ zone: $("joystick"), mode: "static", position: { left: "50%", top: "50%" },
    color: "#ff9900", size: 160, restOpacity: 0.8 });
  manager.on("start", () => {
    stick.held = true;
    if (!teleopTimer) teleopTimer = setInterval(() => { if (stick.held) sendTeleop(stick.x, stick.y); }, 1000 / TELEOP_HZ);
  });
  manager.on("move", (ev) => {
    const v = ev.data.vector || { x: 0, y: 0 };
    stick.x = v.x; stick.y = v.y;
    $("teleop-info").textContent = `throttle ${(v.y * 100).toFixed(0)} %  steering ${(-v.x * 100).toFixed(0)} %`;
  });
  manager.on("end", releaseStick);
}
window.addEventListener("pagehide", () => { if (stick.held) releaseStick(); });
document.addEventListener("visibilitychange", () => {
  if (document.hidden && stick.held) releaseStick();
  if ($("app").hidden) return;
  if (document.hidden) stopCamera(); else startCamera(); // no JPEG encoding for a phone in a pocket
});

// -- status -------------------------------------------------------------------------------------
async function refreshStatus() {
  let st;
  try { st = await api("GET", "/api/status"); } catch (err) {
    if (err.status !== 401) { $("problems").hidden = false; $("problems").textContent = "The car does not answer: " + err.message; }
    return;
  }
  lastStatus = st;
  $("mode-label").textContent = "mode " + st.mode;
  const model = st.active_model === null ? "?" : (st.active_model === "" ? "bundled" : st.active_model.split("/").pop());
  $("model-label").textContent = "model " + model;
  document.querySelectorAll("[data-mode]").forEach((b) => b.classList.toggle("active", b.dataset.mode === st.mode));
  $("joystick-box").hidden = st.mode !== "manual";
  if (st.mode !== "manual" && stick.held) releaseStick();
  $("estop-banner").hidden = !st.estop_pressed;
  if (st.max_speed_scale !== null && document.activeElement !== $("max-speed")) {
    $("max-speed").value = Math.round(st.max_speed_scale * 100);
    $("max-speed-value").textContent = Math.round(st.max_speed_scale * 100) + " %";
  }
  const cam = st.camera || {};
  $("camera-info").textContent = cam.fps ? `camera ${cam.width}×${cam.height} ${cam.fps.toFixed(1)} fps` : "no camera frames";
  $("problems").hidden = !st.problems.length;
  $("problems").textContent = st.problems.join(" · ");
  renderStatusTable(st);
}

function renderStatusTable(st) {
  const rows = [];
  for (const [name, alive] of Object.entries(st.nodes)) rows.push([name, alive ? "running" : "NOT RUNNING", alive]);
  const sys = st.system || {};
  const cam = st.camera || {};
  const pwm = st.pwm || {};
  rows.push(["camera", cam.fps ? `${cam.fps.toFixed(1)} fps, last frame ${cam.last_frame_age_s.toFixed(2)} s ago` : "no frames", !!cam.fps]);
  const servoUp = Object.entries(st.nodes).some(([n, up]) => n.includes("servo") && up);
  rows.push(["PWM", (pwm.backend ? pwm.backend + " · " : "") + (pwm.reason ? `${pwm.reason}: throttle ${pwm.throttle_us.toFixed(0)} µs, steering ${pwm.steering_us.toFixed(0)} µs`
    + (pwm.error ? ` (${pwm.error})` : "") : (servoUp ? "idle: nothing written since this page's server started" : "no servo node")),
    pwm.reason ? pwm.reason !== "fault" : servoUp]);
  rows.push(["mode", st.mode + (st.estop_pressed ? " (E-STOP)" : ""), !st.estop_pressed]);
  rows.push(["model", st.active_model === "" ? "bundled" : String(st.active_model), st.active_model !== null]);
  rows.push(["CPU temperature", sys.cpu_temperature_c === null ? "not available" : sys.cpu_temperature_c.toFixed(1) + " °C", true]);
  rows.push(["load", sys.load_average ? sys.load_average.map((x) => x.toFixed(2)).join(" ") + ` (${sys.cpu_count} CPUs)` : "?", true]);
  rows.push(["battery", sys.battery ? `${sys.battery.percent} % ${sys.battery.status || ""}` : "no battery source", true]);
  const table = $("status-table");
  table.replaceChildren(...rows.map(([k, v, ok]) => {
    const tr = document.createElement("tr");
    const a = document.createElement("td"); a.textContent = k;
    const b = document.createElement("td"); b.textContent = v; b.className = ok ? "up" : "down";
    tr.append(a, b);
    return tr;
  }));
  $("status-errors").replaceChildren(...st.errors.slice().reverse().map((e) => {
    const li = document.createElement("li");
    li.textContent = `${new Date(e.time * 1000).toLocaleTimeString()} ${e.level} ${e.node}: ${e.message}`;
    return li;
  }));
}

// -- models -------------------------------------------------------------------------------------
async function refreshModels() {
  let data;
  try { data = await api("GET", "/api/models"); } catch (err) { say($("model-message"), err.message, false); return; }
  $("model-list").replaceChildren(...data.models.map((m) => {
    const li = document.createElement("li");
    li.dataset.name = m.name;
    li.classList.toggle("active", m.active);
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = m.name + (m.active ? " (active)" : "") + (m.valid ? ` · ${m.action_space_type} · ${m.training_algorithm}` : " · INVALID");
    li.append(name);
    if (!m.active && m.valid) {
      const sel = document.createElement("button");
      sel.className = "select-model"; sel.type = "button"; sel.textContent = "Select";
      sel.addEventListener("click", () => selectModel(m.name));
      li.append(sel);
    }
    if (!m.bundled && !m.active) {
      const del = document.createElement("button");
      del.className = "delete-model"; del.type = "button"; del.textContent = "Delete";
      del.addEventListener("click", () => deleteModel(m.name));
      li.append(del);
    }
    return li;
  }));
}

async function selectModel(name) {
  say($("model-message"), `loading ${name} …`);
  try { await api("POST", "/api/models/select", { name }); say($("model-message"), `${name} is the active model`, true); }
  catch (err) { say($("model-message"), `${name} not loaded: ${err.message}`, false); }
  refreshModels(); refreshStatus();
}

async function deleteModel(name) {
  if (!confirm(`Delete ${name} from the car?`)) return;
  try { await api("DELETE", "/api/models/" + encodeURIComponent(name)); say($("model-message"), `${name} deleted`, true); }
  catch (err) { say($("model-message"), err.message, false); }
  refreshModels();
}

$("upload-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const file = $("model-file").files[0];
  if (!file) { say($("model-message"), "choose a .tar.gz first", false); return; }
  const form = new FormData();
  form.append("file", file, file.name);
  if ($("model-overwrite").checked) form.append("overwrite", "true");
  say($("model-message"), `uploading ${file.name} (${(file.size / 1e6).toFixed(1)} MB) …`);
  try {
    const m = await api("POST", "/api/models", undefined, form);
    say($("model-message"), `${m.name} uploaded and checked: select it to drive with it`, true);
    $("model-file").value = "";
  } catch (err) { say($("model-message"), "refused: " + err.message, false); }
  refreshModels();
});

// -- calibration ----------------------------------------------------------------------------------
// The wizard's steps come from the car (the same list as `deepracer calibrate`).
const cal = { report: null, steps: [], i: 0, values: {}, forwardSign: 1, timer: null, pulses: null, probe: 80 };

async function refreshCalibration() {
  try {
    const r = await api("GET", "/api/calibration");
    $("cal-current").textContent = `file ${r.file}\n` + (r.throttle_locked ? "NOT CALIBRATED: throttle locked at neutral\n" : "")
      + JSON.stringify(r.calibration, null, 1);
    return r;
  } catch (err) { say($("cal-message"), err.message, false); return null; }
}

function showPulses(throttle, steering) {
  cal.pulses = { throttle_us: throttle, steering_us: steering };
  api("POST", "/api/calibration/pulse", cal.pulses).catch((err) => say($("cal-message"), err.message, false));
}

function live() {
  const step = cal.steps[cal.i];
  const v = cal.values;
  if (!step) return showPulses(v["throttle.neutral_us"], v["steering.center_us"]);
  if (step.kind === "direction") return showPulses(v["throttle.neutral_us"] + cal.probe, v["steering.center_us"]);
  const steering = step.key.startsWith("steering.") && step.kind === "pulse" ? v[step.key] : v["steering.center_us"];
  const throttle = step.key.startsWith("throttle.") && step.kind === "pulse" ? v[step.key] : v["throttle.neutral_us"];
  showPulses(throttle, steering);
}

function renderStep() {
  const step = cal.steps[cal.i];
  $("cal-review").hidden = !!step;
  $("cal-pulse").hidden = !step || step.kind !== "pulse";
  $("cal-number").hidden = !step || step.kind !== "number";
  $("cal-direction").hidden = !step || step.kind !== "direction";
  $("cal-next").hidden = !step || step.kind === "direction";
  $("cal-value-line").hidden = !step || step.kind === "direction";
  if (!step) {
    $("cal-step-title").textContent = "Review and save";
    $("cal-key").textContent = ""; $("cal-value").textContent = "";
    $("cal-summary").textContent = Object.entries(cal.values).map(([k, v]) => `${k} = ${v}`).join("\n");
    live();
    return;
  }
  $("cal-progress").textContent = `step ${cal.i + 1} of ${cal.steps.length}`;
  $("cal-step-title").textContent = step.title;
  $("cal-key").textContent = step.key;
  if (step.key === "throttle.forward_us" || step.key === "throttle.reverse_us") {
    const sign = step.key === "throttle.forward_us" ? cal.forwardSign : -cal.forwardSign;
    const neutral = cal.values["throttle.neutral_us"];
    if ((cal.values[step.key] - neutral) * sign <= 0) cal.values[step.key] = neutral + sign * 100;
  }
  $("cal-value").textContent = step.kind === "direction" ? "" : String(cal.values[step.key]);
  if (step.kind === "number") $("cal-number-input").value = cal.values[step.key];
  live();
}

$("cal-start").addEventListener("click", async () => {
  const r = await refreshCalibration();
  if (!r) return;
  try { await api("POST", "/api/calibration/mode", { on: true }); } catch (err) { say($("cal-message"), err.message, false); return; }
  const c = r.calibration;
  cal.report = r; cal.steps = r.steps; cal.i = 0; cal.probe = r.direction_probe_us;
  cal.values = {
    "steering.center_us": c.steering.center_us, "steering.left_us": c.steering.left_us,
    "steering.right_us": c.steering.right_us, "steering.max_angle_deg": c.steering.max_angle_deg,
    "throttle.neutral_us": c.throttle.neutral_us, "throttle.forward_us": c.throttle.forward_us,
    "throttle.reverse_us": c.throttle.reverse_us, "throttle.top_speed_mps": c.throttle.top_speed_mps,
  };
  cal.forwardSign = c.throttle.forward_us > c.throttle.neutral_us ? 1 : -1;
  $("cal-wizard").hidden = false; $("cal-start").hidden = true;
  say($("cal-message"), "calibration mode: the wheels follow the values below", true);
  clearInterval(cal.timer);
  cal.timer = setInterval(() => { if (cal.pulses) showPulses(cal.pulses.throttle_us, cal.pulses.steering_us); }, CAL_REPEAT_MS);
  renderStep();
});

document.querySelectorAll("[data-nudge]").forEach((b) => b.addEventListener("click", () => {
  const step = cal.steps[cal.i];
  if (!step || step.kind !== "pulse") return;
  const v = Math.max(500, Math.min(2500, cal.values[step.key] + Number(b.dataset.nudge)));
  cal.values[step.key] = v;
  $("cal-value").textContent = String(v);
  live();
}));

$("cal-next").addEventListener("click", () => {
  const step = cal.steps[cal.i];
  if (step && step.kind === "number") {
    const n = Number($("cal-number-input").value);
    if (!(n > 0)) { say($("cal-message"), "enter a positive number", false); return; }
    cal.values[step.key] = n;
  }
  cal.i += 1;
  renderStep();
});
$("cal-back").addEventListener("click", () => { cal.i = Math.max(0, cal.i - 1); renderStep(); });
$("cal-yes").addEventListener("click", () => { cal.forwardSign = 1; cal.i += 1; renderStep(); });
$("cal-no").addEventListener("click", () => { cal.forwardSign = -1; cal.i += 1; renderStep(); });

async function endCalibration(message, good) {
  clearInterval(cal.timer); cal.timer = null; cal.pulses = null;
  try { await api("POST", "/api/calibration/mode", { on: false }); } catch (err) { message += " (" + err.message + ")"; }
  $("cal-wizard").hidden = true; $("cal-start").hidden = false;
  say($("cal-message"), message, good);
  refreshCalibration();
}
$("cal-cancel").addEventListener("click", () => endCalibration("cancelled: nothing saved", false));

$("cal-save").addEventListener("click", async () => {
  const v = cal.values;
  const c = {
    frequency_hz: cal.report.calibration.frequency_hz,
    steering: { left_us: v["steering.left_us"], center_us: v["steering.center_us"], right_us: v["steering.right_us"],
      max_angle_deg: v["steering.max_angle_deg"] },
    throttle: { reverse_us: v["throttle.reverse_us"], neutral_us: v["throttle.neutral_us"], forward_us: v["throttle.forward_us"],
      top_speed_mps: v["throttle.top_speed_mps"] },
  };
  try {
    const r = await api("PUT", "/api/calibration", { calibration: c });
    await endCalibration(`saved to ${r.file}`, true);
  } catch (err) { say($("cal-message"), "not saved: " + err.message, false); }
});

// -- start ----------------------------------------------------------------------------------------
window.addEventListener("DOMContentLoaded", async () => {
  setupJoystick();
  setInterval(() => { if (!$("app").hidden) refreshStatus(); }, STATUS_MS);
  try {
    const s = await api("GET", "/api/session");
    csrf = s.csrf_token; limits = s;
    showApp();
  } catch (err) { showLogin(); }
});
