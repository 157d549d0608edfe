// supervisord-py web GUI: plain JavaScript, no framework. The table is rendered by the server; from then
// on it changes only through Server-Sent Events (/events), and every action goes through the REST API.
"use strict";
(function () {
  const $ = (sel, root) => (root || document).querySelector(sel);
  const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));
  const body = document.body;
  const clockSkew = Date.now() / 1000 - Number(body.dataset.now);
  const rows = new Map($$("tr.proc").map((tr) => [tr.dataset.spec, tr]));
  const status = $("#status");

  const specOf = (info) => (info.group === info.name ? info.name : info.group + ":" + info.name);
  const enc = (spec) => encodeURIComponent(spec);

  function say(text, bad) {
    status.textContent = text;
    status.className = bad ? "bad" : "";
  }

  async function call(method, path, payload) {
    const init = { method: method, headers: {} };
    if (payload !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(payload);
    }
    const res = await fetch(path, init);
    const type = res.headers.get("Content-Type") || "";
    const data = type.startsWith("application/json") ? await res.json() : await res.text();
    if (!res.ok) throw new Error((data && data.error) || res.status + " " + res.statusText);
    if (data && data.results) {
      const failed = data.results.filter((r) => r.code !== "SUCCESS");
      if (failed.length) throw new Error(failed.map((r) => r.name + ": " + r.description).join("; "));
    }
    return data;
  }

  async function act(label, method, path, payload) {
    say(label + "…");
    try {
      await call(method, path, payload);
      say(label + ": done");
    } catch (err) {
      say(label + ": " + err.message, true);
    }
  }

  // -- rows --

  function fmtUptime(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    const d = Math.floor(seconds / 86400), h = Math.floor(seconds / 3600) % 24;
    const m = Math.floor(seconds / 60) % 60, s = seconds % 60;
    const hms = h + ":" + String(m).padStart(2, "0") + ":" + String(s).padStart(2, "0");
    return d ? d + " day" + (d > 1 ? "s" : "") + ", " + hms : hms;
  }

  function update(info) {
    const tr = rows.get(specOf(info));
    if (!tr) return false;
    const badge = $(".badge", tr);
    badge.textContent = info.statename;
    badge.className = "badge s-" + info.statename;
    tr.dataset.state = info.statename;
    tr.dataset.start = info.start;
    $(".pid", tr).textContent = info.pid || "";
    $(".desc", tr).textContent = info.description;
    $(".exit", tr).textContent = info.exitstatus;
    applyFilter(tr);
    return true;
  }

  function tick() {
    const now = Date.now() / 1000 - clockSkew;
    for (const tr of rows.values()) {
      if (tr.dataset.state === "RUNNING" && tr.style.display !== "none") {
        $(".desc", tr).textContent = "pid " + $(".pid", tr).textContent + ", uptime " + fmtUptime(now - Number(tr.dataset.start));
      }
    }
    const up = $("#node-uptime");
    up.textContent = fmtUptime(now - Number(up.dataset.started));
  }
  setInterval(tick, 1000);

  // The memory of processes in a cgroup of their own (memory_max, cpu_max, pids_max), re-read every 5 s
  // while any row shows one.
  async function refreshMemory() {
    if (!document.querySelector("td.name .mem:not(:empty)")) return;
    try {
      for (const info of await call("GET", "program/list")) {
        const tr = rows.get(specOf(info));
        const bytes = info.cgroup ? info.cgroup.memory_bytes : null;
        if (tr) $(".mem", tr).textContent = bytes == null ? "" : (bytes / 1048576).toFixed(1) + " MiB";
      }
    } catch (err) {
      /* the next round tries again */
    }
  }
  setInterval(refreshMemory, 5000);

  // -- filter --

  const filterBox = $("#filter"), stateBox = $("#state-filter");
  function applyFilter(tr) {
    const text = filterBox.value.trim().toLowerCase(), state = stateBox.value;
    const show = (!text || tr.dataset.spec.toLowerCase().includes(text)) && (!state || tr.dataset.state === state);
    tr.style.display = show ? "" : "none";
  }
  function applyAll() {
    for (const tr of rows.values()) applyFilter(tr);
    for (const tb of $$("#procs tbody")) {
      const any = $$("tr.proc", tb).some((tr) => tr.style.display !== "none");
      $(".grouphead", tb).style.display = any ? "" : "none";
    }
  }
  filterBox.addEventListener("input", applyAll);
  stateBox.addEventListener("change", applyAll);

  // -- actions --

  const confirmBox = $("#confirm");
  function confirmThen(text, fn) {
    $("#confirm-text").textContent = text;
    confirmBox.returnValue = "";
    confirmBox.showModal();
    confirmBox.onclose = () => { if (confirmBox.returnValue === "ok") fn(); };
  }
  $("#confirm-ok").addEventListener("click", () => confirmBox.close("ok"));
  $("#confirm-cancel").addEventListener("click", () => confirmBox.close("cancel"));

  const signalBox = $("#signal");
  let signalSpec = null;
  $("#signal-send").addEventListener("click", () => {
    signalBox.close();
    const sig = $("#signal-choice").value;
    act("signal " + sig + " " + signalSpec, "POST", "program/signal/" + enc(signalSpec), { signal: sig });
  });
  $("#signal-cancel").addEventListener("click", () => signalBox.close());

  $("#procs").addEventListener("click", (ev) => {
    const btn = ev.target.closest("button");
    if (!btn) return;
    const tr = btn.closest("tr");
    if (btn.dataset.groupAct) {
      const group = btn.closest("tbody").dataset.group;
      act(btn.dataset.groupAct + " group " + group, "POST", "group/" + btn.dataset.groupAct + "/" + enc(group));
      return;
    }
    const spec = tr.dataset.spec, what = btn.dataset.act;
    if (what === "log") return openLog(spec, btn.dataset.channel);
    if (what === "signal") {
      signalSpec = spec;
      $("#signal-name").textContent = spec;
      return signalBox.showModal();
    }
    act(what + " " + spec, "POST", "program/" + what + "/" + enc(spec));
  });

  $("#procs").addEventListener("change", (ev) => {
    const box = ev.target;
    if (box.id === "select-all") {
      for (const tr of rows.values()) if (tr.style.display !== "none") $(".sel", tr).checked = box.checked;
    } else if (box.classList.contains("select-group")) {
      for (const tr of $$("tr.proc", box.closest("tbody"))) if (tr.style.display !== "none") $(".sel", tr).checked = box.checked;
    }
  });

  function selected() {
    return Array.from(rows.values()).filter((tr) => $(".sel", tr).checked).map((tr) => tr.dataset.spec);
  }

  $$("[data-bulk]").forEach((btn) => btn.addEventListener("click", async () => {
    const names = selected();
    if (!names.length) return say("nothing selected", true);
    const what = btn.dataset.bulk;
    if (what === "restart") {
      say("restart " + names.length + "…");
      try {
        await call("POST", "program/stopPrograms", names);
      } catch (err) { /* not running is fine: start them anyway */ }
      return act("restart " + names.length, "POST", "program/startPrograms", names);
    }
    act(what + " " + names.length, "POST", "program/" + what + "Programs", names);
  }));

  const globals = {
    startAll: ["Start every process?", "program/startAll"],
    stopAll: ["Stop every process?", "program/stopAll"],
    reload: ["Reread the configuration and apply it?", "supervisor/reload"],
    shutdown: ["Shut the daemon down? Every process stops and this page loses its server.", "supervisor/shutdown"],
  };
  $$("[data-global]").forEach((btn) => btn.addEventListener("click", () => {
    const [question, path] = globals[btn.dataset.global];
    confirmThen(question, () => act(btn.dataset.global, "POST", path));
  }));

  // -- live updates --

  let lastId = body.dataset.lastId;
  let nodeTimer = null;
  function refreshNode() {
    if (nodeTimer) return;
    nodeTimer = setTimeout(async () => {
      nodeTimer = null;
      try {
        const n = await call("GET", "supervisor/info");
        $("#node-cpu").textContent = n.cpu_seconds.toFixed(1) + "s";
        $("#node-rss").textContent = (n.rss_bytes / 1048576).toFixed(1) + " MiB";
      } catch (err) { /* the next event tries again */ }
    }, 2000);
  }

  function connect() {
    const source = new EventSource("events?lastEventId=" + encodeURIComponent(lastId));
    const live = $("#live");
    source.onopen = () => { live.className = "live on"; };
    source.onerror = () => { live.className = "live off"; };
    source.addEventListener("state", (ev) => {
      lastId = ev.lastEventId;
      const data = JSON.parse(ev.data);
      const info = data.info || { name: data.name, group: data.group, statename: data.statename, pid: "", description: "", exitstatus: "", start: 0 };
      if (!update(info)) location.reload();
      refreshNode();
    });
    source.addEventListener("group", (ev) => { lastId = ev.lastEventId; location.reload(); });
    source.addEventListener("supervisor", (ev) => { lastId = ev.lastEventId; });
    // the fleet view changed (only with [fleet]): fleet.js re-reads it
    source.addEventListener("fleet", (ev) => { lastId = ev.lastEventId; document.dispatchEvent(new Event("fleet")); });
    source.addEventListener("snapshot", (ev) => {
      lastId = ev.lastEventId;
      const infos = JSON.parse(ev.data).processes;
      if (infos.length !== rows.size || !infos.every(update)) location.reload();
    });
  }
  connect();

  // -- log viewer --

  const logBox = $("#logview"), logText = $("#log-text"), logSearch = $("#log-search"), pauseBtn = $("#log-pause");
  const LOG_KEEP = 1 << 20;
  let logSource = null, logBuffer = "", paused = false;

  function renderLog() {
    const term = logSearch.value.toLowerCase();
    const text = term ? logBuffer.split("\n").filter((l) => l.toLowerCase().includes(term)).join("\n") : logBuffer;
    logText.textContent = text;
    logText.scrollTop = logText.scrollHeight;
  }

  function openLog(spec, channel) {
    closeLog();
    logBuffer = "";
    paused = false;
    pauseBtn.textContent = "Pause";
    $("#log-title").textContent = spec + " " + channel;
    const download = $("#log-download");
    download.href = "program/log/" + enc(spec) + "/" + channel + "?download=1";
    logText.textContent = "";
    logBox.showModal();
    logSource = new EventSource("program/follow/" + enc(spec) + "/" + channel);
    logSource.addEventListener("log", (ev) => {
      logBuffer += JSON.parse(ev.data);
      if (logBuffer.length > LOG_KEEP) logBuffer = logBuffer.slice(-LOG_KEEP);
      if (!paused) renderLog();
    });
  }
  function closeLog() {
    if (logSource) logSource.close();
    logSource = null;
  }
  pauseBtn.addEventListener("click", () => {
    paused = !paused;
    pauseBtn.textContent = paused ? "Resume" : "Pause";
    if (!paused) renderLog();
  });
  logSearch.addEventListener("input", renderLog);
  $("#log-close").addEventListener("click", () => logBox.close());
  logBox.addEventListener("close", closeLog);
})();
