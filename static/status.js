// The ldirectord status page's script: the page is complete without it (rendered by the daemon); this
// keeps it current (polls /status.json every second), adds search and a "problems only" filter, and
// shows check times as "3 s ago". Every value is put in the page as text (textContent, attributes),
// never as markup: what real servers answer is untrusted.
'use strict';
(function () {
  var POLL_MS = 1000;
  var HISTORY_MAX = 20;
  var MESSAGE_MAX = 300;

  var main = document.getElementById('virtuals');
  var summary = document.getElementById('summary');
  var controls = document.getElementById('controls');
  var filter = document.getElementById('filter');
  var problems = document.getElementById('problems');
  var shown = document.getElementById('shown');
  var live = document.getElementById('live');
  if (!main || !controls || !filter || !problems) return;

  var rows = new Map(); // key -> { tr, sig, lastCheck, hay }
  var clockSkew = 0; // browser clock minus the daemon's
  var updates = 0;

  function clip(s, n) {
    return s.length > n ? s.slice(0, n) + '\u2026' : s;
  }
  function latencyClass(ms) {
    return ms < 10 ? 'l0' : ms < 50 ? 'l1' : ms < 200 ? 'l2' : ms < 1000 ? 'l3' : 'l4';
  }
  function setText(el, text) {
    if (el && el.textContent !== text) el.textContent = text;
  }
  function ago(iso) {
    if (!iso) return '\u2014';
    var s = Math.max(0, Math.round((Date.now() - clockSkew - Date.parse(iso)) / 1000));
    return s < 120 ? s + ' s ago' : s < 7200 ? Math.round(s / 60) + ' min ago' : iso.slice(11, 19);
  }
  function isProblem(r) {
    return r.state !== 'up' || r.admin !== 'none' || r.failures > 0;
  }
  // As the daemon renders it (src/observe/page.ts adminText).
  function adminText(r) {
    var what = r.admin === 'drain' && r.drain
      ? (r.drain.state === 'drained' ? 'drained' : 'draining ' + r.drain.activeConn + '/' + r.drain.inactConn)
      : r.admin === 'none' ? '' : r.admin;
    return [what, r.adminWeight !== null ? 'w=' + r.adminWeight : ''].filter(Boolean).join(' ') || '\u2014';
  }
  function resultText(r) {
    return r.result ? (r.result.ok ? 'ok' : r.result.status) + ': ' + r.result.message : '';
  }

  // Cells by column: real, health, admin, weight, fails, checked, latency, conns, result, recent.
  var C = { state: 1, admin: 2, weight: 3, fails: 4, checked: 5, latency: 6, conns: 7, result: 8, recent: 9 };

  function index() {
    rows.clear();
    filterDirty = true;
    var trs = main.querySelectorAll('tr[data-key]');
    for (var i = 0; i < trs.length; i++) {
      var tr = trs[i];
      var cells = tr.cells;
      var time = cells[C.checked] ? cells[C.checked].firstElementChild : null;
      rows.set(tr.getAttribute('data-key'), {
        tr: tr,
        cells: cells,
        badge: cells[C.state] ? cells[C.state].firstElementChild : null,
        time: time,
        hist: cells[C.recent] ? cells[C.recent].firstElementChild : null,
        section: tr.closest('section'),
        sig: '',
        lastCheck: time ? time.getAttribute('datetime') : '',
        hay: null,
        problem: tr.classList.contains('problem'),
      });
    }
  }

  function structureOf(data) {
    var keys = [];
    data.virtuals.forEach(function (v) {
      keys.push('#' + v.virtual);
      v.reals.forEach(function (r) {
        keys.push(v.virtual + ' ' + r.real);
      });
    });
    return keys.join('\n');
  }
  function structureOfPage() {
    var keys = [];
    main.querySelectorAll('section[data-vid]').forEach(function (s) {
      keys.push('#' + s.getAttribute('data-vid'));
      s.querySelectorAll('tr[data-key]').forEach(function (tr) {
        keys.push(tr.getAttribute('data-key'));
      });
    });
    return keys.join('\n');
  }

  function mark(c) {
    var i = document.createElement('i');
    i.className = c.ok ? 'o' + latencyClass(c.latencyMs).slice(1) : 'k';
    return i;
  }

  var filterDirty = true;

  function patchRow(v, r) {
    var entry = rows.get(v.virtual + ' ' + r.real);
    if (!entry) return;
    var tr = entry.tr;
    var cells = entry.cells;
    setText(entry.time, ago(r.lastCheck));
    var sig = JSON.stringify([r.state, r.admin, r.adminWeight, r.drain, r.weight, r.configuredWeight, r.rampTarget, r.failures, r.lastCheck, r.latencyMs, r.result, r.activeConns, r.inactConns]);
    if (sig === entry.sig) return;
    entry.sig = sig;
    entry.hay = null;
    var problem = isProblem(r);
    if (problem !== entry.problem) {
      entry.problem = problem;
      filterDirty = true;
    }
    var cls = 'st-' + r.state + (problem ? ' problem' : '');
    if (tr.className !== cls) tr.className = cls;
    if (entry.badge) {
      var bcls = 'badge ' + r.state;
      if (entry.badge.className !== bcls) entry.badge.className = bcls;
      setText(entry.badge, r.state);
    }
    setText(cells[C.admin], adminText(r));
    setText(cells[C.weight], (r.configuredWeight === null ? String(r.weight) : r.weight + ' / ' + r.configuredWeight) + (r.rampTarget != null ? ' \u2197 ' + r.rampTarget : ''));
    setText(cells[C.fails], String(r.failures));
    if (entry.time && entry.time.getAttribute('datetime') !== (r.lastCheck || '')) entry.time.setAttribute('datetime', r.lastCheck || '');
    setText(cells[C.latency], r.latencyMs === null ? '\u2014' : r.latencyMs + ' ms');
    setText(cells[C.conns], r.activeConns === null ? '\u2014' : r.activeConns + ' / ' + r.inactConns);
    var res = cells[C.result];
    if (res) {
      var text = resultText(r);
      setText(res, clip(text, MESSAGE_MAX));
      var title = clip(text, 2000);
      if (res.title !== title) res.title = title;
    }
    if (r.lastCheck && r.lastCheck !== entry.lastCheck && r.latencyMs !== null && r.result && entry.hist) {
      entry.hist.appendChild(mark({ at: r.lastCheck, ok: r.result.ok, latencyMs: r.latencyMs }));
      while (entry.hist.childElementCount > HISTORY_MAX) entry.hist.removeChild(entry.hist.firstElementChild);
      var n = entry.hist.childElementCount;
      entry.hist.title = 'last ' + n + ' checks: ' + entry.hist.querySelectorAll('.k').length + ' failed; latest ' + r.latencyMs + ' ms';
    }
    entry.lastCheck = r.lastCheck || '';
    if (filter.value) filterDirty = true;
  }

  function patchVirtual(v) {
    var sec = main.querySelector('section[data-vid="' + CSS.escape(v.virtual) + '"]');
    if (!sec) return;
    var up = sec.querySelector('h2 .up');
    if (up) {
      var health = v.realsTotal === 0 ? 'none' : v.realsUp === v.realsTotal ? 'all' : v.realsUp === 0 ? 'nil' : 'some';
      up.className = 'up ' + health;
      setText(up, v.realsUp + '/' + v.realsTotal + ' up');
    }
    var fb = sec.querySelector('h2 .fallback');
    if (fb) {
      var fcls = 'fallback' + (v.fallbackActive ? ' on' : '');
      if (fb.className !== fcls) fb.className = fcls;
      setText(fb, 'fallback' + (v.fallback ? ' ' + v.fallback : '') + (v.fallbackActive ? ' IN USE' : ''));
    }
    v.reals.forEach(function (r) {
      patchRow(v, r);
    });
  }

  function summaryText(d) {
    return d.status + ' \u00b7 ' + d.totals.virtuals + ' virtual services \u00b7 ' + d.totals.up + '/' + d.totals.reals + ' reals up \u00b7 cycle #' +
      d.cycle.count + ' (' + d.cycle.lastDurationMs + ' ms) \u00b7 updated ' + d.generatedAt.slice(11, 19) + ' UTC';
  }

  // The set of virtuals or reals changed (a reload): take the daemon's freshly rendered page.
  function reloadMain() {
    return fetch('/', { cache: 'no-store', credentials: 'same-origin' })
      .then(function (r) {
        if (!r.ok) throw new Error('HTTP ' + r.status);
        return r.text();
      })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, 'text/html');
        var fresh = doc.getElementById('virtuals');
        if (!fresh) throw new Error('no status in the page');
        main.replaceChildren.apply(main, Array.prototype.slice.call(fresh.childNodes).map(function (n) {
          return document.adoptNode(n);
        }));
        index();
      });
  }

  function apply(data) {
    var t0 = performance.now();
    clockSkew = Date.now() - Date.parse(data.generatedAt);
    setText(summary, summaryText(data));
    var same = structureOf(data) === structureOfPage();
    var t1 = performance.now();
    var p = same ? Promise.resolve() : reloadMain();
    return p.then(function () {
      var t2 = performance.now();
      data.virtuals.forEach(patchVirtual);
      var t3 = performance.now();
      if (filterDirty) applyFilter();
      var t4 = performance.now();
      updates++;
      document.documentElement.setAttribute('data-updates', String(updates));
      // How long this update took (structure check, patch, filter), for tests and the curious.
      document.documentElement.setAttribute('data-update-ms', [t1 - t0, t2 - t1, t3 - t2, t4 - t3].map(Math.round).join(' '));
    });
  }

  function setLive(ok, text) {
    if (!live) return;
    live.className = ok ? 'ok' : 'stale';
    setText(live, text);
  }

  function poll() {
    var ac = new AbortController();
    var timer = setTimeout(function () {
      ac.abort();
    }, 5000);
    fetch('/status.json?history=0', { cache: 'no-store', credentials: 'same-origin', signal: ac.signal })
      .then(function (r) {
        if (!r.ok) throw new Error('HTTP ' + r.status);
        return r.json();
      })
      .then(apply)
      .then(function () {
        setLive(true, 'live');
      })
      .catch(function (e) {
        setLive(false, 'no answer from the daemon' + (e && e.name === 'AbortError' ? ' (timeout)' : ''));
      })
      .then(function () {
        clearTimeout(timer);
        setTimeout(poll, POLL_MS);
      });
  }

  // ---- search and filter ----

  var heads = new Map(); // section -> its heading's text
  function hay(entry) {
    if (entry.hay === null) {
      var head = heads.get(entry.section);
      if (head === undefined) {
        var h2 = entry.section ? entry.section.querySelector('h2') : null;
        head = h2 ? h2.textContent : '';
        heads.set(entry.section, head);
      }
      entry.hay = (head + ' ' + entry.tr.textContent).toLowerCase();
    }
    return entry.hay;
  }

  var filterTimer = null;
  function applyFilter() {
    filterDirty = false;
    heads.clear();
    var words = filter.value.toLowerCase().split(/\s+/).filter(Boolean);
    var onlyProblems = problems.checked;
    var visible = 0;
    var perSection = new Map();
    rows.forEach(function (entry) {
      var show = (!onlyProblems || entry.problem) && words.every(function (w) {
        return hay(entry).indexOf(w) >= 0;
      });
      if (entry.tr.hidden === show) entry.tr.hidden = !show;
      if (show) visible++;
      if (entry.section) perSection.set(entry.section, (perSection.get(entry.section) || 0) + (show ? 1 : 0));
    });
    var filtering = words.length > 0 || onlyProblems;
    perSection.forEach(function (n, sec) {
      var hide = filtering && n === 0;
      if (sec.hidden !== hide) sec.hidden = hide;
    });
    setText(shown, filtering ? visible + ' of ' + rows.size + ' reals shown' : rows.size + ' reals');
    var q = new URLSearchParams();
    if (filter.value) q.set('q', filter.value);
    if (onlyProblems) q.set('problems', '1');
    var hash = q.toString();
    if (location.hash.slice(1) !== hash) history.replaceState(null, '', hash ? '#' + hash : location.pathname + location.search);
  }
  function onFilterInput() {
    if (filterTimer) clearTimeout(filterTimer);
    filterTimer = setTimeout(applyFilter, 60);
  }

  var initial = new URLSearchParams(location.hash.slice(1));
  filter.value = initial.get('q') || '';
  problems.checked = initial.get('problems') === '1';
  filter.addEventListener('input', onFilterInput);
  problems.addEventListener('change', applyFilter);
  document.addEventListener('keydown', function (e) {
    if (e.key === '/' && document.activeElement !== filter) {
      e.preventDefault();
      filter.focus();
    }
  });
  controls.hidden = false;
  index();
  applyFilter();
  poll();
})();
