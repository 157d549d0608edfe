// supervisord-py web GUI, the config centre: a program editor (add, modify, copy, delete a [program:x])
// and the Nacos settings dialog. Every change goes through the REST API (/api/config/…, /api/nacos), which
// validates it with the daemon's own config loader before writing, and quotes the md5 of the config it was
// made on so that two editors cannot overwrite each other.
"use strict";
(function () {
  const $ = (sel, root) => (root || document).querySelector(sel);
  const make = (tag, props, children) => {
    const el = document.createElement(tag);
    Object.assign(el, props || {});
    for (const child of children || []) el.append(child);
    return el;
  };

  async function call(method, path, payload) {
    const init = { method: method, headers: {} };
    if (payload !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(payload);
    }
    const res = await fetch(path, init);
    const type = res.headers.get("Content-Type") || "";
    const data = type.startsWith("application/json") ? await res.json() : { error: res.status + " " + (await res.text()).slice(0, 200) };
    if (!res.ok || data.success === false) throw new Error(data.error || res.status + " " + res.statusText);
    return data;
  }

  function dialog(id, title) {
    const box = make("dialog", { id: id });
    box.style.minWidth = "560px";
    box.append(make("h3", { textContent: title }));
    document.body.append(box);
    return box;
  }
  function button(text, id, onclick) {
    const b = make("button", { textContent: text, id: id || "" });
    b.addEventListener("click", onclick);
    return b;
  }
  function note(id) {
    const p = make("p", { id: id });
    p.style.whiteSpace = "pre-wrap";
    return p;
  }
  function say(el, text, bad) {
    el.textContent = text;
    el.style.color = bad ? "#b91c1c" : "#68717c";
  }
  function changes(data) {
    const parts = [];
    for (const key of ["added", "changed", "removed"]) if (data[key] && data[key].length) parts.push(key + " " + data[key].join(", "));
    return "saved to " + data.written + (parts.length ? "; " + parts.join("; ") : "");
  }

  // -- the program list --

  const list = dialog("programs", "Programs");
  const where = note("programs-source");
  const table = make("table", { id: "programs-table" });
  const listStatus = note("programs-status");
  list.append(where, table, listStatus,
    make("div", { className: "row" }, [button("Add program", "program-add", () => openEditor("add")), button("Close", "programs-close", () => list.close())]));
  let current = { md5: "", programs: [] };

  async function loadPrograms() {
    table.replaceChildren();
    try {
      current = await call("GET", "api/config/programs");
    } catch (err) {
      return say(listStatus, err.message, true);
    }
    say(where, (current.source === "nacos" ? "Nacos: " : "File: ") + current.name + " (md5 " + current.md5 + ")");
    for (const p of current.programs) {
      const tr = make("tr", {}, [make("td", { className: "name", textContent: p.name })]);
      tr.dataset.program = p.name;
      const td = make("td", { className: "actions" }, [
        button("Edit", "", () => openEditor("modify", p)),
        button("Copy", "", () => openEditor("copy", p)),
        button("Delete", "", () => askDelete(p)),
      ]);
      tr.append(td);
      table.append(tr);
    }
  }
  $("#open-programs").addEventListener("click", () => {
    say(listStatus, "");
    list.showModal();
    loadPrograms();
  });

  // -- the editor --

  const editor = dialog("program-editor", "Program");
  const nameBox = make("input", { id: "program-name", placeholder: "program name", autocomplete: "off" });
  const textBox = make("textarea", { id: "program-text", rows: 14, spellcheck: false });
  textBox.style.width = "100%";
  textBox.style.fontFamily = "ui-monospace, monospace";
  const editStatus = note("program-error");
  let mode = "add", editing = null;
  editor.append(make("label", { textContent: "Name " }, [nameBox]), make("p", { textContent: "[program:name] keys, one per line:" }), textBox, editStatus,
    make("div", { className: "row" }, [button("Cancel", "program-cancel", () => editor.close()), button("Save", "program-save", save)]));

  function openEditor(how, program) {
    mode = how;
    editing = program || null;
    nameBox.value = how === "modify" ? program.name : how === "copy" ? program.name + "-copy" : "";
    nameBox.readOnly = how === "modify";
    textBox.value = program ? program.text : "command = \nautostart = true\n";
    textBox.readOnly = how === "copy";
    $("h3", editor).textContent = { add: "Add a program", modify: "Edit " + (program && program.name), copy: "Copy " + (program && program.name) }[how];
    say(editStatus, "");
    editor.showModal();
  }

  async function save() {
    const name = nameBox.value.trim();
    say(editStatus, "saving…");
    try {
      let data;
      if (mode === "add") data = await call("POST", "api/config/programs", { name: name, text: textBox.value, md5: current.md5 });
      else if (mode === "modify") data = await call("PUT", "api/config/programs/" + encodeURIComponent(name), { text: textBox.value, md5: current.md5 });
      else data = await call("POST", "api/config/programs/" + encodeURIComponent(editing.name) + "/copy", { to: name, md5: current.md5 });
      editor.close();
      say(listStatus, changes(data));
      loadPrograms();
    } catch (err) {
      say(editStatus, err.message, true);
    }
  }

  const confirmBox = dialog("program-delete", "Delete a program");
  const confirmText = make("p", { id: "program-delete-text" });
  let doomed = null;
  confirmBox.append(confirmText, make("div", { className: "row" }, [
    button("Cancel", "program-delete-cancel", () => confirmBox.close()),
    button("Delete", "program-delete-ok", async () => {
      confirmBox.close();
      say(listStatus, "deleting " + doomed + "…");
      try {
        const data = await call("DELETE", "api/config/programs/" + encodeURIComponent(doomed) + "?md5=" + encodeURIComponent(current.md5));
        say(listStatus, changes(data));
      } catch (err) {
        say(listStatus, err.message, true);
      }
      loadPrograms();
    }),
  ]));
  function askDelete(program) {
    doomed = program.name;
    confirmText.textContent = "Delete [program:" + program.name + "]? It stops and leaves the config.";
    confirmBox.showModal();
  }

  // -- Nacos settings --

  const nacos = dialog("nacos", "Nacos config centre");
  const fields = [
    ["server", "Servers (IP:PORT, comma-separated)"], ["dataid", "Data ID"], ["namespace", "Namespace"],
    ["group", "Group"], ["username", "Username"], ["password", "Password"], ["cache_dir", "Cache directory"],
  ];
  const inputs = {};
  const form = make("div");
  for (const [key, label] of fields) {
    const input = make("input", { id: "nacos-" + key, type: key === "password" ? "password" : "text", autocomplete: "off" });
    inputs[key] = input;
    const row = make("label", { textContent: label + " " }, [input]);
    row.style.display = "grid";
    row.style.gridTemplateColumns = "260px 1fr";
    row.style.margin = "4px 0";
    form.append(row);
  }
  const noCache = make("input", { id: "nacos-not_use_cache", type: "checkbox" });
  form.append(make("label", { textContent: " Do not use the local cache (fail to start if Nacos is down)" }, []));
  form.lastChild.prepend(noCache);
  const nacosStatus = note("nacos-status");
  nacos.append(form, nacosStatus, make("div", { className: "row" }, [
    button("Cancel", "nacos-cancel", () => nacos.close()),
    button("Save", "nacos-save", async () => {
      const payload = { not_use_cache: noCache.checked };
      for (const [key] of fields) payload[key] = inputs[key].value.trim();
      if (!payload.password) delete payload.password;  // keep the saved one
      try {
        const data = await call("PUT", "api/nacos", payload);
        say(nacosStatus, "Saved to " + data.saved_to + "; it is used from the next restart (Reload already applies its programs).");
      } catch (err) {
        say(nacosStatus, err.message, true);
      }
    }),
  ]));
  $("#open-nacos").addEventListener("click", async () => {
    say(nacosStatus, "");
    nacos.showModal();
    try {
      const data = await call("GET", "api/nacos");
      const shown = data.saved || data.running || {};
      for (const [key] of fields) inputs[key].value = key === "password" ? "" : shown[key] || "";
      inputs.password.placeholder = shown.has_password ? "(unchanged)" : "";
      noCache.checked = !!shown.not_use_cache;
      say(nacosStatus, (data.active ? "Running from Nacos " + data.running.server + " (" + data.running.dataid + ")." : "Running from the local file.") +
        (data.bootstrap ? " Settings are saved in " + data.bootstrap + "." : ""));
    } catch (err) {
      say(nacosStatus, err.message, true);
    }
  });
})();
