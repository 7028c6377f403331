// The inspector's page: plain HTML, CSS and JavaScript shipped as strings (no framework, no build a
// user runs). Every value from the app is put in the page as text (textContent), never as markup.
// The entry list draws only the rows in view, so 10,000 entries cost what 40 do; the event tail
// keeps at most TAIL_ROWS rows.

export const INSPECTOR_HTML = String.raw`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<link rel="icon" href="data:,">
<title>{{NAME}} · kindling inspector</title>
<link rel="stylesheet" href="app.css">
<script src="app.js" defer></script>
</head>
<body>
<header>
  <strong id="app-name">{{NAME}}</strong>
  <span class="dim">kindling inspector</span>
  <nav>
    <a href="#entries" data-view="entries">Entries</a>
    <a href="#revisions" data-view="revisions">Revisions</a>
    <a href="#events" data-view="events">Events</a>
    <a href="#nodes" data-view="nodes">Nodes</a>
    <a href="#channels" data-view="channels">Channels</a>
  </nav>
  <span id="revision" class="badge">revision –</span>
  <span id="status" class="badge">connecting</span>
</header>
<main>
  <section id="view-entries" class="view split">
    <div class="pane">
      <div class="filters">
        <input id="f-kind" placeholder="kind (http.* works)" list="kinds" autocomplete="off">
        <input id="f-ns" placeholder="namespace" list="namespaces" autocomplete="off">
        <input id="f-text" placeholder="search ids" autocomplete="off">
        <datalist id="kinds"></datalist><datalist id="namespaces"></datalist>
      </div>
      <div class="count" id="entry-count"></div>
      <div class="vlist" id="entry-list"><div class="vspace" id="entry-space"></div></div>
    </div>
    <div class="pane detail" id="entry-detail"><p class="dim">Pick an entry.</p></div>
  </section>
  <section id="view-revisions" class="view split">
    <div class="pane"><div class="count" id="revision-count"></div><ol class="rows" id="revision-list"></ol></div>
    <div class="pane detail" id="revision-detail"><p class="dim">Pick a revision.</p></div>
  </section>
  <section id="view-events" class="view">
    <div class="filters">
      <input id="f-pattern" placeholder="event pattern: registry.**, user.*, **" value="**" autocomplete="off">
      <button id="tail-apply">Follow</button>
      <button id="tail-pause">Pause</button>
      <button id="tail-clear">Clear</button>
      <span class="count" id="tail-count"></span>
    </div>
    <table class="grid"><thead><tr><th class="time">time</th><th class="name">event</th><th>payload</th></tr></thead>
    <tbody id="tail-rows"></tbody></table>
  </section>
  <section id="view-nodes" class="view">
    <table class="grid"><thead><tr><th>node</th><th>state</th><th>revision</th><th>cluster revision</th><th>details</th></tr></thead>
    <tbody id="node-rows"></tbody></table>
  </section>
  <section id="view-channels" class="view split">
    <div class="pane">
      <div class="count" id="channel-summary"></div>
      <table class="grid"><thead><tr><th>channel</th><th>group</th><th>waiting</th><th>in flight</th><th>dead letters</th></tr></thead><tbody id="channel-rows"></tbody></table>
    </div>
    <div class="pane detail" id="channel-detail"><p class="dim">Pending messages per consumer group, live. Pick a channel with dead letters to read them.</p></div>
  </section>
</main>
</body>
</html>
`;

export const INSPECTOR_CSS = String.raw`
:root { --bg: #fbfbfa; --fg: #1d1d1f; --dim: #6b6b70; --line: #e3e3e6; --accent: #c2410c; --sel: #fff1e6;
  --create: #15803d; --update: #a16207; --delete: #b91c1c; font: 13px/1.4 system-ui, sans-serif; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg); height: 100vh; display: flex; flex-direction: column; }
header { display: flex; gap: 12px; align-items: center; padding: 8px 14px; border-bottom: 1px solid var(--line); background: #fff; }
header nav { display: flex; gap: 4px; margin-left: 12px; flex: 1; }
header nav a { padding: 4px 10px; border-radius: 6px; color: var(--fg); text-decoration: none; }
header nav a.on { background: var(--sel); color: var(--accent); font-weight: 600; }
.badge { font: 12px ui-monospace, monospace; padding: 2px 8px; border: 1px solid var(--line); border-radius: 10px; }
.badge.live { border-color: var(--create); color: var(--create); }
.badge.down { border-color: var(--delete); color: var(--delete); }
.dim { color: var(--dim); }
main { flex: 1; min-height: 0; }
.view { display: none; height: 100%; padding: 10px 14px; overflow: auto; }
.view.on { display: block; }
.view.split.on { display: grid; grid-template-columns: minmax(320px, 2fr) 3fr; gap: 14px; overflow: hidden; }
.pane { min-height: 0; display: flex; flex-direction: column; overflow: hidden; }
.pane.detail { overflow: auto; display: block; border-left: 1px solid var(--line); padding-left: 14px; }
.filters { display: flex; gap: 6px; margin-bottom: 6px; flex-wrap: wrap; align-items: center; }
input { font: inherit; padding: 4px 8px; border: 1px solid var(--line); border-radius: 6px; min-width: 0; flex: 1; }
button { font: inherit; padding: 4px 10px; border: 1px solid var(--line); border-radius: 6px; background: #fff; cursor: pointer; }
.count { color: var(--dim); margin: 2px 0 6px; }
.vlist { flex: 1; overflow: auto; position: relative; border: 1px solid var(--line); border-radius: 6px; background: #fff; }
.vspace { position: relative; }
.row { position: absolute; left: 0; right: 0; height: 24px; padding: 3px 8px; display: flex; gap: 10px; cursor: pointer;
  white-space: nowrap; overflow: hidden; border-bottom: 1px solid #f2f2f4; }
.row:hover, .rows li:hover { background: #f6f6f8; }
.row.sel, .rows li.sel { background: var(--sel); }
.row .id, .mono { font-family: ui-monospace, monospace; }
.row .id { flex: 1; overflow: hidden; text-overflow: ellipsis; }
.row .kind { color: var(--dim); }
.rows { list-style: none; margin: 0; padding: 0; overflow: auto; border: 1px solid var(--line); border-radius: 6px; background: #fff; flex: 1; }
.rows li { padding: 5px 8px; border-bottom: 1px solid #f2f2f4; cursor: pointer; }
.rows li.new { animation: flash 1.2s ease-out; }
@keyframes flash { from { background: #ffe7cc; } to { background: transparent; } }
h2 { font-size: 15px; margin: 4px 0 8px; font-family: ui-monospace, monospace; word-break: break-all; }
h3 { font-size: 12px; text-transform: uppercase; letter-spacing: .05em; color: var(--dim); margin: 14px 0 4px; }
pre { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 8px; margin: 0; overflow: auto;
  font: 12px/1.45 ui-monospace, monospace; max-height: 45vh; white-space: pre-wrap; word-break: break-word; }
.op-create { color: var(--create); } .op-update { color: var(--update); } .op-delete { color: var(--delete); }
table.grid { width: 100%; border-collapse: collapse; background: #fff; border: 1px solid var(--line); table-layout: fixed; }
table.grid th { text-align: left; font-weight: 600; color: var(--dim); padding: 4px 8px; border-bottom: 1px solid var(--line); }
table.grid td { padding: 3px 8px; border-bottom: 1px solid #f2f2f4; font-family: ui-monospace, monospace; font-size: 12px;
  overflow: hidden; text-overflow: ellipsis; white-space: nowrap; vertical-align: top; }
table.grid th.time { width: 110px; } table.grid th.name { width: 30%; }
#view-nodes th:last-child { width: 45%; } #view-nodes td:last-child { white-space: normal; }
.diff td { white-space: pre-wrap; word-break: break-word; }
.diff td:first-child { width: 30%; }
.before { color: var(--delete); } .after { color: var(--create); }
.change { margin: 10px 0; }
a.link { color: var(--accent); cursor: pointer; text-decoration: underline; }
.error { color: var(--delete); }
`;

export const INSPECTOR_JS = String.raw`'use strict';
(function () {
  var ROW = 24, TAIL_ROWS = 500;
  var state = { entries: [], byId: new Map(), revision: 0, filtered: [], selected: null, view: 'entries',
    revisions: [], tail: null, paused: false, received: 0, dropped: 0, channels: null, nodes: [] };
  var timings = { entriesLoaded: null, firstListRender: null, lastListRenderMs: null };
  window.kindlingInspector = { state: state, timings: timings };

  function $(id) { return document.getElementById(id); }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }
  function getJson(url) {
    return fetch(url, { cache: 'no-store' }).then(function (r) {
      return r.json().then(function (body) {
        if (!r.ok) throw new Error(body && body.error ? body.error : 'HTTP ' + r.status);
        return body;
      });
    });
  }
  function setStatus(text, cls) { var s = $('status'); s.textContent = text; s.className = 'badge ' + (cls || ''); }
  function setRevision(n) { state.revision = n; $('revision').textContent = 'revision ' + n; }
  function count(n, one, many) { return n.toLocaleString('en') + ' ' + (n === 1 ? one : (many || one + 's')); }
  function nsOf(id) { var i = id.indexOf(':'); return i < 0 ? '' : id.slice(0, i); }

  // ---- kind patterns, as the registry reads them: a trailing * is one or more segments, * in the
  // middle exactly one, ** zero or more, (a|b) one of; without a wildcard, a kind or a prefix of whole segments.
  function segMatch(p, pi, k, ki) {
    if (pi === p.length) return ki === k.length;
    var part = p[pi];
    if (part === '**') { for (var j = ki; j <= k.length; j++) if (segMatch(p, pi + 1, k, j)) return true; return false; }
    if (part === '*' && pi === p.length - 1) return k.length - ki >= 1;
    if (ki >= k.length) return false;
    var one = part === '*' || part === k[ki] ||
      (part.charAt(0) === '(' && part.charAt(part.length - 1) === ')' && part.slice(1, -1).split('|').indexOf(k[ki]) >= 0);
    return one && segMatch(p, pi + 1, k, ki + 1);
  }
  function kindMatcher(pattern) {
    pattern = pattern.trim();
    if (pattern === '') return null;
    var parts = pattern.split('.');
    var wild = /[*(]/.test(pattern);
    return function (kind) {
      if (!wild) return kind === pattern || (kind.indexOf(pattern) === 0 && kind.charAt(pattern.length) === '.');
      return segMatch(parts, 0, kind.split('.'), 0);
    };
  }

  // ---- entries ----------------------------------------------------------------------------------
  function loadEntries() {
    return getJson('api/entries').then(function (body) {
      state.entries = body.entries;
      state.byId = new Map();
      for (var i = 0; i < body.entries.length; i++) state.byId.set(body.entries[i][0], body.entries[i][1]);
      setRevision(body.revision);
      timings.entriesLoaded = performance.now();
      fillDatalists();
      filterEntries();
      return body.revision;
    });
  }
  function sortedEntries() {
    var list = [];
    state.byId.forEach(function (kind, id) { list.push([id, kind]); });
    list.sort(function (a, b) { return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0; });
    state.entries = list;
  }
  var datalistTimer = null;
  function fillDatalists() {
    clearTimeout(datalistTimer);
    datalistTimer = setTimeout(function () {
      var kinds = new Set(), nss = new Set();
      for (var i = 0; i < state.entries.length; i++) { kinds.add(state.entries[i][1]); nss.add(nsOf(state.entries[i][0])); }
      fillList($('kinds'), kinds); fillList($('namespaces'), nss);
    }, 300);
  }
  function fillList(node, values) {
    clear(node);
    Array.from(values).sort().slice(0, 500).forEach(function (v) { var o = el('option'); o.value = v; node.appendChild(o); });
  }
  function filterEntries() {
    var t0 = performance.now();
    var kind = kindMatcher($('f-kind').value), ns = $('f-ns').value.trim(), text = $('f-text').value.trim().toLowerCase();
    var out = [];
    for (var i = 0; i < state.entries.length; i++) {
      var e = state.entries[i];
      if (kind && !kind(e[1])) continue;
      if (ns && nsOf(e[0]) !== ns && nsOf(e[0]).indexOf(ns + '.') !== 0) continue;
      if (text && e[0].toLowerCase().indexOf(text) < 0) continue;
      out.push(e);
    }
    state.filtered = out;
    $('entry-count').textContent = out.length === state.entries.length
      ? out.length.toLocaleString('en') + ' entries'
      : out.length.toLocaleString('en') + ' of ' + state.entries.length.toLocaleString('en') + ' entries';
    $('entry-space').style.height = (out.length * ROW) + 'px';
    drawRows(true);
    timings.lastListRenderMs = performance.now() - t0;
    if (timings.firstListRender === null && state.entries.length > 0) timings.firstListRender = performance.now();
  }
  var drawn = { start: -1, end: -1 };
  function drawRows(force) {
    var list = $('entry-list'), space = $('entry-space');
    var start = Math.max(0, Math.floor(list.scrollTop / ROW) - 10);
    var end = Math.min(state.filtered.length, start + Math.ceil((list.clientHeight || 600) / ROW) + 20);
    if (!force && start === drawn.start && end === drawn.end) return;
    drawn = { start: start, end: end };
    var frag = document.createDocumentFragment();
    for (var i = start; i < end; i++) {
      var e = state.filtered[i];
      var row = el('div', 'row' + (e[0] === state.selected ? ' sel' : ''));
      row.style.top = (i * ROW) + 'px';
      row.dataset.id = e[0];
      row.appendChild(el('span', 'id', e[0]));
      row.appendChild(el('span', 'kind', e[1]));
      frag.appendChild(row);
    }
    clear(space);
    space.appendChild(frag);
  }
  function showEntry(id) {
    state.selected = id;
    drawRows(true);
    var box = $('entry-detail');
    return getJson('api/entry?id=' + encodeURIComponent(id)).then(function (v) {
      if (state.selected !== id) return;
      clear(box);
      box.appendChild(el('h2', null, v.id));
      var p = el('p');
      p.appendChild(el('span', 'badge', v.kind));
      p.appendChild(document.createTextNode(' '));
      p.appendChild(el('span', 'dim mono', v.source ? 'declared at ' + v.source : 'not from a file'));
      box.appendChild(p);
      box.appendChild(el('h3', null, 'data'));
      box.appendChild(el('pre', 'entry-data', v.data));
      box.appendChild(el('h3', null, 'meta'));
      box.appendChild(el('pre', null, v.meta));
      box.appendChild(el('h3', null, 'history (retained)'));
      var ol = el('ol', 'rows');
      if (v.history.length === 0) ol.appendChild(el('li', 'dim', 'no change of it in the retained history'));
      v.history.forEach(function (h) {
        var li = el('li');
        li.appendChild(el('span', 'op-' + h.op, h.op + ' '));
        li.appendChild(el('a', 'link', 'revision ' + h.revision));
        li.appendChild(el('span', 'dim', '  ' + h.time + (h.source ? '  ' + h.source : '')));
        li.onclick = function () { location.hash = '#revision/' + h.revision; };
        ol.appendChild(li);
      });
      box.appendChild(ol);
    }, function (err) {
      if (state.selected !== id) return;
      clear(box); box.appendChild(el('p', 'error', err.message));
    });
  }

  // ---- revisions --------------------------------------------------------------------------------
  function loadRevisions() {
    return getJson('api/revisions?limit=500').then(function (body) {
      state.revisions = body.revisions;
      drawRevisions();
    });
  }
  function revisionItem(r, fresh) {
    var li = el('li', fresh ? 'new' : null);
    li.dataset.revision = r.revision;
    li.appendChild(el('strong', null, 'r' + r.revision + ' '));
    if (r.create) li.appendChild(el('span', 'op-create', '+' + r.create + ' '));
    if (r.update) li.appendChild(el('span', 'op-update', '~' + r.update + ' '));
    if (r.delete) li.appendChild(el('span', 'op-delete', '-' + r.delete + ' '));
    li.appendChild(el('span', 'mono', r.ids.join(' ') + (r.create + r.update + r.delete > r.ids.length ? ' …' : '')));
    li.appendChild(el('div', 'dim', r.time + (r.source ? '  ·  ' + r.source : '')));
    li.onclick = function () { location.hash = '#revision/' + r.revision; };
    return li;
  }
  function drawRevisions() {
    var ol = $('revision-list');
    clear(ol);
    var frag = document.createDocumentFragment();
    state.revisions.forEach(function (r) { frag.appendChild(revisionItem(r, false)); });
    ol.appendChild(frag);
    $('revision-count').textContent = count(state.revisions.length, 'retained revision') + ', newest first';
  }
  function showRevision(n) {
    var box = $('revision-detail');
    Array.prototype.forEach.call($('revision-list').children, function (li) { li.classList.toggle('sel', li.dataset.revision === String(n)); });
    return getJson('api/revision?n=' + n).then(function (v) {
      clear(box);
      box.appendChild(el('h2', null, 'revision ' + v.revision));
      box.appendChild(el('p', 'dim', v.time + (v.source ? '  ·  ' + v.source : '') + '  ·  ' + count(v.total, 'change')));
      v.changes.forEach(function (c) {
        var div = el('div', 'change');
        var head = el('div');
        head.appendChild(el('span', 'op-' + c.op, c.op + ' '));
        var a = el('a', 'link mono', c.id);
        a.onclick = function () { location.hash = '#entry/' + encodeURIComponent(c.id); };
        head.appendChild(a);
        head.appendChild(el('span', 'dim', '  ' + c.kind));
        div.appendChild(head);
        var table = el('table', 'grid diff');
        c.diff.forEach(function (d) {
          var tr = el('tr');
          tr.appendChild(el('td', null, d.path));
          tr.appendChild(el('td', 'before', d.before === undefined ? '' : d.before));
          tr.appendChild(el('td', 'after', d.after === undefined ? '' : d.after));
          table.appendChild(tr);
        });
        if (c.more) { var tr = el('tr'); tr.appendChild(el('td', 'dim', '… ' + c.more + ' more paths')); table.appendChild(tr); }
        div.appendChild(table);
        box.appendChild(div);
      });
      if (v.total > v.changes.length) box.appendChild(el('p', 'dim', '… ' + (v.total - v.changes.length) + ' more changes'));
    }, function (err) { clear(box); box.appendChild(el('p', 'error', err.message)); });
  }

  // ---- the revision stream ----------------------------------------------------------------------
  var source = null;
  function connect(since) {
    if (source) source.close();
    source = new EventSource('stream/revisions?since=' + since);
    source.onopen = function () { setStatus('live', 'live'); };
    source.onerror = function () { setStatus('reconnecting', 'down'); };
    source.addEventListener('revision', function (m) { applyRevision(JSON.parse(m.data)); });
    source.addEventListener('reset', function () {
      loadEntries().then(function () { if (state.view === 'revisions') loadRevisions(); });
    });
    source.addEventListener('nodes', function (m) { state.nodes = JSON.parse(m.data); drawNodes(); });
    source.addEventListener('channels', function (m) { state.channels = JSON.parse(m.data); drawChannels(); });
  }
  function applyRevision(r) {
    if (r.revision <= state.revision) return;
    if (r.changes === null) { loadEntries(); }
    else {
      var added = false;
      r.changes.forEach(function (c) {
        if (c[0] === 'delete') state.byId.delete(c[1]);
        else { if (!state.byId.has(c[1])) added = true; state.byId.set(c[1], c[2]); }
      });
      if (added || r.delete) sortedEntries();
      setRevision(r.revision);
      fillDatalists();
      filterEntries();
    }
    state.revisions.unshift(r);
    if (state.revisions.length > 1000) state.revisions.pop();
    var ol = $('revision-list');
    ol.insertBefore(revisionItem(r, true), ol.firstChild);
    $('revision-count').textContent = count(state.revisions.length, 'retained revision') + ', newest first';
    if (state.selected && r.changes && r.changes.some(function (c) { return c[1] === state.selected; })) showEntry(state.selected);
  }

  // ---- the event tail ---------------------------------------------------------------------------
  function follow() {
    if (state.tail) state.tail.close();
    var pattern = $('f-pattern').value.trim() || '**';
    state.received = 0; state.dropped = 0;
    var tail = new EventSource('stream/events?pattern=' + encodeURIComponent(pattern));
    state.tail = tail;
    tail.addEventListener('ready', function () { tailCount('following ' + pattern); });
    tail.addEventListener('events', function (m) {
      var batch = JSON.parse(m.data);
      state.received += batch.events.length; state.dropped += batch.dropped;
      if (!state.paused) addTailRows(batch.events);
      tailCount('following ' + pattern);
    });
    tail.onerror = function () {
      if (tail.readyState === 2) {
        fetch('stream/events?pattern=' + encodeURIComponent(pattern)).then(function (r) { return r.json(); })
          .then(function (b) { tailCount(b.error || 'the tail closed'); }, function () { tailCount('the tail closed'); });
      }
    };
  }
  function tailCount(text) {
    $('tail-count').textContent = text + ' · ' + state.received.toLocaleString('en') + ' events' +
      (state.dropped ? ' · ' + state.dropped.toLocaleString('en') + ' dropped' : '') + (state.paused ? ' · paused' : '');
  }
  function addTailRows(events) {
    var body = $('tail-rows');
    var from = Math.max(0, events.length - TAIL_ROWS);
    var frag = document.createDocumentFragment();
    for (var i = events.length - 1; i >= from; i--) {
      var e = events[i], tr = el('tr');
      var d = new Date(e.t);
      tr.appendChild(el('td', null, d.toISOString().slice(11, 23)));
      tr.appendChild(el('td', null, e.name));
      tr.appendChild(el('td', null, e.payload));
      frag.appendChild(tr);
    }
    body.insertBefore(frag, body.firstChild);
    while (body.childElementCount > TAIL_ROWS) body.removeChild(body.lastChild);
  }

  // ---- nodes and channels -----------------------------------------------------------------------
  function drawNodes() {
    var body = $('node-rows');
    clear(body);
    state.nodes.forEach(function (n) {
      var tr = el('tr');
      tr.appendChild(el('td', null, n.node + (n.local ? ' (this process)' : '')));
      tr.appendChild(el('td', n.state === 'desynced' ? 'error' : null, n.state + (n.problem ? ': ' + n.problem : '')));
      tr.appendChild(el('td', null, n.revision === undefined ? '' : n.revision));
      tr.appendChild(el('td', null, n.clusterRevision === undefined ? '' : n.clusterRevision));
      var details = n.details ? Object.keys(n.details).map(function (k) { return k + ' ' + n.details[k]; }).join(' · ') : '';
      tr.appendChild(el('td', null, details));
      body.appendChild(tr);
    });
  }
  function drawChannels() {
    var c = state.channels, body = $('channel-rows');
    if (!c) return;
    clear(body);
    if (!c.available) { $('channel-summary').textContent = 'no durable channels: ' + c.reason; return; }
    var pending = c.pending || [], groups = {}, waiting = 0, inFlight = 0;
    pending.forEach(function (p) { (groups[p.channel] = groups[p.channel] || []).push(p); waiting += p.waiting; inFlight += p.inFlight; });
    var lettered = Object.keys(c.deadLetters);
    var names = lettered.concat(Object.keys(groups).filter(function (n) { return !(n in c.deadLetters); })).sort();
    var store = c.store ? 'the in-process store keeps ' + count(c.store.messages, 'message') + ' (' + count(c.store.bytes, 'byte') + ') and ' +
      count(c.store.deadLetters, 'dead letter') + (c.store.droppedDeadLetters ? ', ' + count(c.store.droppedDeadLetters, 'dead letter') + ' dropped at its limit' : '') : '';
    $('channel-summary').textContent = count(waiting + inFlight, 'message') + ' pending (' + waiting.toLocaleString('en') + ' waiting, ' +
      inFlight.toLocaleString('en') + ' in flight) in ' + count(pending.length, 'group') + ' · ' +
      (lettered.length ? count(lettered.length, 'channel') + ' with dead letters' : 'no dead letters') + (store ? ' · ' + store : '');
    names.forEach(function (name) {
      var letters = c.deadLetters[name] || 0;
      (groups[name] || [{ group: '', waiting: '', inFlight: '' }]).forEach(function (p, i) {
        var tr = el('tr'), td = el('td');
        tr.dataset.channel = name; tr.dataset.group = p.group;
        if (i === 0 && letters) { var a = el('a', 'link', name); a.onclick = function () { showDeadLetters(name); }; td.appendChild(a); }
        else td.textContent = i === 0 ? name : '';
        tr.appendChild(td);
        tr.appendChild(el('td', null, p.group));
        tr.appendChild(el('td', 'waiting', p.waiting));
        tr.appendChild(el('td', 'in-flight', p.inFlight));
        tr.appendChild(el('td', 'letters', i === 0 ? letters : ''));
        body.appendChild(tr);
      });
    });
  }
  function showDeadLetters(name) {
    var box = $('channel-detail');
    getJson('api/dead-letters?channel=' + encodeURIComponent(name)).then(function (v) {
      clear(box);
      box.appendChild(el('h2', null, name));
      box.appendChild(el('p', 'dim', count(v.letters.length, 'dead letter') + ', oldest first (kindling redrive sends them again)'));
      v.letters.forEach(function (l) {
        var div = el('div', 'change');
        div.appendChild(el('div', 'mono', (l.id || '(no id)') + '  group ' + (l.group || '?') + '  ' + count(l.attempts, 'attempt') + '  ' + new Date(l.time).toISOString()));
        div.appendChild(el('div', 'error', l.error));
        div.appendChild(el('pre', null, l.body));
        box.appendChild(div);
      });
    }, function (err) { clear(box); box.appendChild(el('p', 'error', err.message)); });
  }

  // ---- views ------------------------------------------------------------------------------------
  function route() {
    var hash = location.hash.slice(1) || 'entries';
    var slash = hash.indexOf('/');
    var view = slash < 0 ? hash : hash.slice(0, slash), arg = slash < 0 ? null : decodeURIComponent(hash.slice(slash + 1));
    if (view === 'entry') view = 'entries';
    if (view === 'revision') view = 'revisions';
    if (!$('view-' + view)) view = 'entries';
    state.view = view;
    Array.prototype.forEach.call(document.querySelectorAll('.view'), function (v) { v.classList.toggle('on', v.id === 'view-' + view); });
    Array.prototype.forEach.call(document.querySelectorAll('nav a'), function (a) { a.classList.toggle('on', a.dataset.view === view); });
    if (view === 'entries') { drawRows(true); if (arg !== null) showEntry(arg); }
    if (view === 'revisions') loadRevisions().then(function () { if (arg !== null) showRevision(Number(arg)); });
    if (view === 'events' && !state.tail) follow();
    if (view === 'channels') getJson('api/channels').then(function (c) { state.channels = c; drawChannels(); });
    if (view === 'nodes') getJson('api/nodes').then(function (n) { state.nodes = n; drawNodes(); });
  }

  function start() {
    ['f-kind', 'f-ns', 'f-text'].forEach(function (id) { $(id).addEventListener('input', filterEntries); });
    var scheduled = false;
    $('entry-list').addEventListener('scroll', function () {
      if (scheduled) return;
      scheduled = true;
      requestAnimationFrame(function () { scheduled = false; drawRows(false); });
    });
    $('entry-list').addEventListener('click', function (ev) {
      var row = ev.target.closest ? ev.target.closest('.row') : null;
      if (row) location.hash = '#entry/' + encodeURIComponent(row.dataset.id);
    });
    $('tail-apply').onclick = follow;
    $('f-pattern').addEventListener('keydown', function (ev) { if (ev.key === 'Enter') follow(); });
    $('tail-pause').onclick = function () { state.paused = !state.paused; this.textContent = state.paused ? 'Resume' : 'Pause'; tailCount('paused'); };
    $('tail-clear').onclick = function () { clear($('tail-rows')); };
    window.addEventListener('hashchange', route);
    window.addEventListener('resize', function () { drawRows(true); });
    loadEntries().then(function (revision) { connect(revision); route(); }, function (err) { setStatus(err.message, 'down'); });
  }
  start();
})();
`;
