// The fleet on the GUI page (only with a [fleet] section): a card per node and every other node's process
// table, refreshed every 2 s from the REST API (listNodes, program/list); actions on another node go to
// this node's API in the node form (program/start/<node>/<name>), which forwards them.
"use strict";
(function () {
  const box = document.getElementById("fleet");
  if (!box) return;
  const cards = document.getElementById("fleet-cards");
  const tables = document.getElementById("fleet-tables");
  const status = document.getElementById("status");
  const REFRESH_MS = 2000;

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

  function card(n) {
    const c = el("div", "nodecard " + (n.status === "ONLINE" ? "online" : "offline"));
    c.dataset.node = n.name;
    c.dataset.status = n.status;
    const head = el("div", "nodehead");
    head.append(el("b", "nodename", n.name), el("span", "nodestatus st-" + n.status, n.status));
    if (n.local) head.append(el("span", "nodeself", "this node"));
    const figs = el("div", "nodefigs");
    figs.append(
      el("span", "", "CPU " + pct(n.cpu_percent)),
      el("span", "", "mem " + pct(n.mem_used_percent)),
      el("span", "", n.version ? "v" + n.version : ""),
    );
    c.append(head, figs);
    if (n.local && n.etcd === false) c.append(el("div", "nodewarn", "etcd unreachable"));
    return c;
  }

  function table(node, procs) {
    const wrap = el("section", "nodeprocs");
    wrap.dataset.node = node.name;
    wrap.append(el("h2", "", node.name + " (" + node.status.toLowerCase() + ")"));
    const t = el("table", "fleetprocs");
    const head = el("tr");
    for (const h of ["State", "Name", "PID", "Description", "Actions"]) head.append(el("th", "", h));
    const thead = el("thead");
    thead.append(head);
    t.append(thead);
    const tb = el("tbody");
    for (const p of procs) {
      const tr = el("tr", "proc");
      tr.dataset.spec = specOf(p);
      tr.dataset.state = p.statename;
      const badge = el("span", "badge s-" + p.statename, p.statename);
      const acts = el("td", "actions");
      for (const verb of ["start", "stop", "restart"]) {
        const b = el("button", "", verb[0].toUpperCase() + verb.slice(1));
        b.dataset.fleetAct = verb;
        acts.append(b);
      }
      const state = el("td");
      state.append(badge);
      tr.append(state, el("td", "name", specOf(p)), el("td", "pid", p.pid || ""), el("td", "desc", p.description), acts);
      tb.append(tr);
    }
    t.append(tb);
    wrap.append(t);
    return wrap;
  }

  async function refresh() {
    try {
      const [nodes, procs] = await Promise.all([getJSON("supervisor/listNodes"), getJSON("program/list")]);
      cards.replaceChildren(...nodes.map(card));
      const byNode = new Map();
      for (const p of procs) {
        if (!byNode.has(p.node)) byNode.set(p.node, []);
        byNode.get(p.node).push(p);
      }
      tables.replaceChildren(...nodes.filter((n) => !n.local).map((n) => table(n, byNode.get(n.name) || [])));
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
    refresh();
  });

  refresh();
  setInterval(refresh, REFRESH_MS);
})();
