// The fleet on the GUI page (only with a [fleet] section): a card per node and every other node's process
// table, read from the REST API (listNodes, program/list) whenever the live feed says the fleet view changed
// (an SSE "fleet" message, relayed by app.js; no polling); actions on another node go to this node's API in
// the node form (program/start/<node>/<name>), which forwards them.
"use strict";
(function () {
  const box = document.getElementById("fleet");
  if (!box) return;
  const cards = document.getElementById("fleet-cards");
  const tables = document.getElementById("fleet-tables");
  const status = document.getElementById("status");

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  const specOf = (p) => (p.group === p.name ? p.name : p.group + ":" + p.name);
  const pct = (v) => (typeof v === "number" ? v.toFixed(1) + " %" : "–");

  async function getJSON(path) {
    const res = await fetch(path, { cache: "no-store" });
    if (!res.ok) throw new Error(res.status + " " + res.statusText);
    return res.json();
  }

  // Cards and rows are kept and updated in place (a click never lands on an element being replaced).
  const cardOf = new Map(), sectionOf = new Map();

  function card(n) {
    let c = cardOf.get(n.name);
    if (!c) {
      c = el("div", "nodecard");
      c.dataset.node = n.name;
      const head = el("div", "nodehead");
      head.append(el("b", "nodename", n.name), el("span", "nodestatus"));
      if (n.local) head.append(el("span", "nodeself", "this node"));
      const figs = el("div", "nodefigs");
      figs.append(el("span", "cpu"), el("span", "mem"), el("span", "ver"));
      c.append(head, figs, el("div", "nodewarn"));
      cardOf.set(n.name, c);
    }
    c.className = "nodecard " + (n.status === "ONLINE" ? "online" : "offline");
    c.dataset.status = n.status;
    const st = c.querySelector(".nodestatus");
    st.textContent = n.status;
    st.className = "nodestatus st-" + n.status;
    c.querySelector(".cpu").textContent = "CPU " + pct(n.cpu_percent);
    c.querySelector(".mem").textContent = "mem " + pct(n.mem_used_percent);
    c.querySelector(".ver").textContent = n.version ? "v" + n.version : "";
    c.querySelector(".nodewarn").textContent = n.local && n.etcd === false ? "etcd unreachable" : "";
    return c;
  }

  function row(p) {
    const tr = el("tr", "proc");
    tr.dataset.spec = specOf(p);
    const state = el("td");
    state.append(el("span", "badge"));
    const acts = el("td", "actions");
    for (const verb of ["start", "stop", "restart"]) {
      const b = el("button", "", verb[0].toUpperCase() + verb.slice(1));
      b.dataset.fleetAct = verb;
      acts.append(b);
    }
    tr.append(state, el("td", "name", specOf(p)), el("td", "pid"), el("td", "desc"), acts);
    return tr;
  }

  function table(node, procs) {
    let wrap = sectionOf.get(node.name);
    if (!wrap) {
      wrap = el("section", "nodeprocs");
      wrap.dataset.node = node.name;
      const t = el("table", "fleetprocs");
      const thead = el("thead"), head = el("tr");
      for (const h of ["State", "Name", "PID", "Description", "Actions"]) head.append(el("th", "", h));
      thead.append(head);
      t.append(thead, el("tbody"));
      wrap.append(el("h2"), t);
      wrap.rows = new Map();
      sectionOf.set(node.name, wrap);
    }
    wrap.querySelector("h2").textContent = node.name + " (" + node.status.toLowerCase() + ")";
    const tb = wrap.querySelector("tbody"), seen = new Set();
    for (const p of procs) {
      const spec = specOf(p);
      seen.add(spec);
      let tr = wrap.rows.get(spec);
      if (!tr) {
        tr = row(p);
        wrap.rows.set(spec, tr);
        tb.append(tr);
      }
      tr.dataset.state = p.statename;
      const badge = tr.querySelector(".badge");
      badge.textContent = p.statename;
      badge.className = "badge s-" + p.statename;
      tr.querySelector(".pid").textContent = p.pid || "";
      tr.querySelector(".desc").textContent = p.description;
    }
    for (const [spec, tr] of wrap.rows) {
      if (!seen.has(spec)) { tr.remove(); wrap.rows.delete(spec); }
    }
    return wrap;
  }

  function place(parent, children) {
    // Put the children in this order, touching only what is out of place; drop the rest.
    children.forEach((child, i) => { if (parent.children[i] !== child) parent.insertBefore(child, parent.children[i] || null); });
    while (parent.children.length > children.length) parent.lastElementChild.remove();
  }

  async function refresh() {
    try {
      const [nodes, procs] = await Promise.all([getJSON("supervisor/listNodes"), getJSON("program/list")]);
      place(cards, nodes.map(card));
      const byNode = new Map();
      for (const p of procs) {
        if (!byNode.has(p.node)) byNode.set(p.node, []);
        byNode.get(p.node).push(p);
      }
      place(tables, nodes.filter((n) => !n.local).map((n) => table(n, byNode.get(n.name) || [])));
      box.classList.remove("stale");
    } catch (err) {
      box.classList.add("stale");
    }
  }

  tables.addEventListener("click", async (ev) => {
    const b = ev.target.closest("button[data-fleet-act]");
    if (!b) return;
    const node = b.closest("section[data-node]").dataset.node;
    const spec = b.closest("tr").dataset.spec;
    const label = b.dataset.fleetAct + " " + spec + " on " + node;
    status.textContent = label + "…";
    status.className = "";
    try {
      const path = "program/" + b.dataset.fleetAct + "/" + encodeURIComponent(node) + "/" + encodeURIComponent(spec);
      const res = await fetch(path, { method: "POST" });
      const data = await res.json();
      if (!res.ok) throw new Error(data.error || res.status);
      status.textContent = label + ": done";
    } catch (err) {
      status.textContent = label + ": " + err.message;
      status.className = "bad";
    }
    onChange();
  });

  // One read at a time; a change announced while a read is under way is read once more after it.
  let reading = false, again = false;
  async function onChange() {
    if (reading) { again = true; return; }
    reading = true;
    try {
      do { again = false; await refresh(); } while (again);
    } finally {
      reading = false;
    }
  }
  document.addEventListener("fleet", onChange);
  onChange();
})();
