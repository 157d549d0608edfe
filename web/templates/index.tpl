<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{node["name"]}} · supervisord</title>
<link rel="stylesheet" href="static/app.css?v={{assets}}">
</head>
<body data-last-id="{{last_id}}" data-now="{{now}}">
<header>
  <div class="brand"><h1>supervisord</h1><span class="ident">{{node["name"]}}</span><span id="live" class="live off" title="live updates">●</span></div>
  <div class="node" id="node">
    <span>v{{version}}</span>
    <span>pid <b id="node-pid">{{node["pid"]}}</b></span>
    <span>up <b id="node-uptime" data-started="{{node["started"]}}">{{node["uptime_seconds"]}}s</b></span>
    <span>CPU <b id="node-cpu">{{"%.1f" % node["cpu_seconds"]}}s</b></span>
    <span>RSS <b id="node-rss">{{"%.1f" % (node["rss_bytes"] / 1048576)}} MiB</b></span>
    <span class="conf" title="configuration file">{{node["config_file"]}}</span>
  </div>
  <div class="global">
    <button data-global="startAll">Start all</button>
    <button data-global="stopAll">Stop all</button>
    <button data-global="reload">Reload</button>
    <button data-global="shutdown" class="danger">Shutdown</button>
    <button id="open-programs">Programs</button><button id="open-nacos">Nacos</button>
  </div>
</header>
<section class="toolbar">
  <input id="filter" type="search" placeholder="Filter by name" autocomplete="off">
  <select id="state-filter">
    <option value="">All states</option>
    % for s in ("RUNNING", "STARTING", "STOPPED", "STOPPING", "EXITED", "BACKOFF", "FATAL"):
    <option>{{s}}</option>
    % end
  </select>
  <span class="bulk">
    <button data-bulk="start">Start selected</button>
    <button data-bulk="stop">Stop selected</button>
    <button data-bulk="restart">Restart selected</button>
  </span>
  <span id="status" role="status"></span>
</section>
<table id="procs">
<thead><tr><th><input type="checkbox" id="select-all" title="select all shown"></th><th>State</th><th>Name</th><th class="c-pid">PID</th><th>Description</th><th class="c-exit">Exit</th><th>Actions</th></tr></thead>
% for group, rows in groups:
<tbody data-group="{{group}}">
<tr class="grouphead"><th colspan="7"><input type="checkbox" class="select-group"> {{group}} <span class="count">{{len(rows)}}</span>
  <button data-group-act="start" class="small">start group</button><button data-group-act="stop" class="small">stop group</button><button data-group-act="rollingRestart" class="small" title="one process at a time, each RUNNING before the next">rolling restart</button></th></tr>
% for p in rows:
<tr class="proc" data-spec="{{p["spec"]}}" data-state="{{p["statename"]}}" data-start="{{p["start"]}}">
<td><input type="checkbox" class="sel"></td>
<td><span class="badge s-{{p["statename"]}}">{{p["statename"]}}</span></td>
<td class="name">{{p["spec"]}}<span class="mem" title="memory used by its cgroup (memory_max, cpu_max, pids_max)">{{p["memory"]}}</span></td>
<td class="c-pid pid">{{p["pid"] or ""}}</td>
<td class="desc">{{p["description"]}}</td>
<td class="c-exit exit">{{p["exitstatus"]}}</td>
<td class="actions"><button data-act="start">Start</button><button data-act="stop">Stop</button><button data-act="restart">Restart</button><button data-act="signal">Signal</button><button data-act="clearLog">Clear</button><button data-act="log" data-channel="stdout">Log</button><button data-act="log" data-channel="stderr">Err</button></td>
</tr>
% end
</tbody>
% end
</table>
% if fleet:
<section id="fleet"><div id="fleet-cards"></div><div id="fleet-tables"></div></section>
<link rel="stylesheet" href="static/fleet.css?v={{fleet}}">
<script src="static/fleet.js?v={{fleet}}"></script>
% end
<dialog id="logview">
  <div class="logbar">
    <b id="log-title"></b>
    <button id="log-pause">Pause</button>
    <input id="log-search" type="search" placeholder="Search">
    <a id="log-download" href="#" download>Download</a>
    <button id="log-close">Close</button>
  </div>
  <pre id="log-text"></pre>
</dialog>
<dialog id="confirm">
  <p id="confirm-text"></p>
  <div class="row"><button id="confirm-cancel">Cancel</button><button id="confirm-ok" class="danger">OK</button></div>
</dialog>
<dialog id="signal">
  <p>Send a signal to <b id="signal-name"></b></p>
  <div class="row">
    <select id="signal-choice">
      % for s in ("HUP", "INT", "TERM", "KILL", "USR1", "USR2", "QUIT", "STOP", "CONT"):
      <option>{{s}}</option>
      % end
    </select>
    <button id="signal-cancel">Cancel</button><button id="signal-send">Send</button>
  </div>
</dialog>
<script src="static/app.js?v={{assets}}"></script>
<script src="static/editor.js?v={{assets}}"></script>
</body>
</html>
