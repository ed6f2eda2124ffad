/**
 * The status page as HTML, rendered on the server from the status data: complete and readable without
 * any script; /static/status.js then keeps it current and adds search and filters. Every value is
 * escaped (config values and what real servers answer are untrusted text); no inline script or style,
 * so the Content-Security-Policy can forbid both.
 */
import type { StatusCheck, StatusData, StatusReal, StatusVirtual } from './status.js';

const ESC: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for HTML content and double- or single-quoted attribute values. */
export function escapeHtml(v: unknown): string {
  // Control characters other than tab and newline are shown as U+FFFD: a real's answer may hold anything.
  return String(v)
    .replace(/[&<>"']/g, (c) => ESC[c])
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/g, '\ufffd');
}

/** The longest result text shown in a cell (the JSON has it whole). */
const MESSAGE_MAX = 300;

function clip(s: string, n = MESSAGE_MAX): string {
  return s.length > n ? `${s.slice(0, n)}…` : s;
}

/** Latency class of a check: l0 < 10 ms, l1 < 50, l2 < 200, l3 < 1000, l4 beyond. */
export function latencyClass(ms: number): string {
  return ms < 10 ? 'l0' : ms < 50 ? 'l1' : ms < 200 ? 'l2' : ms < 1000 ? 'l3' : 'l4';
}

function timeOf(isoText: string | null): string {
  return isoText ? isoText.slice(11, 19) : '—';
}

function checkMark(c: StatusCheck): string {
  // o0..o4: passed, by latency class; k: failed (short names: a strip of 20 per real, thousands of reals)
  return c.ok ? `<i class=o${latencyClass(c.latencyMs).slice(1)}></i>` : '<i class=k></i>';
}

/** The strip's tooltip: how many of its checks failed and their latency range (also built by the script). */
export function historyTitle(h: readonly StatusCheck[]): string {
  if (h.length === 0) return 'no checks yet';
  const failed = h.filter((c) => !c.ok).length;
  const ms = h.map((c) => c.latencyMs);
  return `last ${h.length} checks: ${failed} failed; ${Math.min(...ms)}–${Math.max(...ms)} ms`;
}

/** The Admin cell: `—`, `maint`, `drain`, `draining 3/10` (active/inactive left), `drained`, `w=N`. */
export function adminText(r: Pick<StatusReal, 'admin' | 'adminWeight' | 'drain'>): string {
  const what = r.admin === 'drain' && r.drain ? (r.drain.state === 'drained' ? 'drained' : `draining ${r.drain.activeConn}/${r.drain.inactConn}`) : r.admin === 'none' ? '' : r.admin;
  return [what, r.adminWeight !== null ? `w=${r.adminWeight}` : ''].filter(Boolean).join(' ') || '—';
}

/** Whether a real needs attention (the "problems" filter). */
export function isProblem(r: StatusReal): boolean {
  return r.state !== 'up' || r.admin !== 'none' || r.failures > 0;
}

function realRow(v: StatusVirtual, r: StatusReal): string {
  const result = r.result ? `${r.result.ok ? 'ok' : r.result.status}: ${r.result.message}` : '';
  const weight = (r.configuredWeight === null ? String(r.weight) : `${r.weight} / ${r.configuredWeight}`) + (r.rampTarget !== null ? ` \u2197 ${r.rampTarget}` : '');
  const admin = adminText(r);
  const conns = r.activeConns === null ? '—' : `${r.activeConns} / ${r.inactConns}`;
  const cls = `st-${r.state}${isProblem(r) ? ' problem' : ''}`;
  return (
    `<tr class="${cls}" data-key="${escapeHtml(`${v.virtual} ${r.real}`)}">` +
    `<td class="c-real">${escapeHtml(r.real)}</td>` +
    `<td class="c-state"><span class="badge ${escapeHtml(r.state)}">${escapeHtml(r.state)}</span></td>` +
    `<td class="c-admin">${escapeHtml(admin)}</td>` +
    `<td class="c-weight num">${escapeHtml(weight)}</td>` +
    `<td class="c-fails num">${r.failures}</td>` +
    `<td class="c-checked"><time datetime="${escapeHtml(r.lastCheck ?? '')}">${escapeHtml(timeOf(r.lastCheck))}</time></td>` +
    `<td class="c-latency num">${r.latencyMs === null ? '—' : `${r.latencyMs} ms`}</td>` +
    `<td class="c-conns num">${escapeHtml(conns)}</td>` +
    `<td class="c-result" title="${escapeHtml(clip(result, 2000))}">${escapeHtml(clip(result))}</td>` +
    `<td class="c-history"><span class="hist" title="${escapeHtml(historyTitle(r.history))}">${r.history.map(checkMark).join('')}</span></td>` +
    `</tr>`
  );
}

function virtualMeta(v: StatusVirtual): string {
  const parts: string[] = [];
  if (v.scheduler) parts.push(v.scheduler);
  if (v.persistent !== null) parts.push(`persistent ${v.persistent}s${v.netmask ? ` mask ${v.netmask}` : ''}`);
  if (v.checktype) parts.push(`${v.checktype}${v.service && v.checktype === 'negotiate' ? `/${v.service}` : ''}`);
  if (v.checkinterval !== null) parts.push(`every ${v.checkinterval}s`);
  return parts.join(' · ');
}

/** The fallback's label (also built by the script). */
export function fallbackText(v: Pick<StatusVirtual, 'fallback' | 'fallbackActive'>): string {
  return `fallback${v.fallback ? ` ${v.fallback}` : ''}${v.fallbackActive ? ' IN USE' : ''}`;
}

function virtualSection(v: StatusVirtual): string {
  const health = v.realsTotal === 0 ? 'none' : v.realsUp === v.realsTotal ? 'all' : v.realsUp === 0 ? 'nil' : 'some';
  const fallback =
    v.fallback || v.fallbackActive
      ? `<span class="fallback${v.fallbackActive ? ' on' : ''}">${escapeHtml(fallbackText(v))}</span>`
      : '';
  return (
    `<section class="virtual" data-vid="${escapeHtml(v.virtual)}">` +
    `<h2><span class="proto">${escapeHtml(v.protocol ?? '')}</span> <span class="vaddr">${escapeHtml(v.address)}</span> ` +
    `<span class="up ${health}">${v.realsUp}/${v.realsTotal} up</span> <span class="meta">${escapeHtml(virtualMeta(v))}</span> ${fallback}</h2>` +
    `<div class="scroll"><table><thead><tr><th>Real</th><th>Health</th><th>Admin</th><th class="num">Weight</th><th class="num">Fails</th>` +
    `<th>Checked</th><th class="num">Latency</th><th class="num">Conns</th><th>Result</th><th>Recent</th></tr></thead>` +
    `<tbody>${v.reals.map((r) => realRow(v, r)).join('')}</tbody></table></div></section>`
  );
}

/** The summary line under the title (also rewritten by the script). */
export function summaryText(d: StatusData): string {
  return (
    `${d.status} · ${d.totals.virtuals} virtual services · ${d.totals.up}/${d.totals.reals} reals up · ` +
    `cycle #${d.cycle.count} (${d.cycle.lastDurationMs} ms) · updated ${timeOf(d.generatedAt)} UTC`
  );
}

/**
 * The configured connection-sync daemons in one line (`master eth0 syncid 1: running · backup …`), empty
 * without syncdaemon lines. Rendered with the page (the script does not update it).
 */
export function syncText(d: Pick<StatusData, 'syncDaemons'>): string {
  return d.syncDaemons
    .map((s) => `${s.role} ${s.configured.ifname} syncid ${s.configured.syncid}: ${s.state}${s.error ? ` (${clip(s.error, 120)})` : ''}`)
    .join(' · ');
}

/** The whole page. */
export function renderPage(d: StatusData, opts: { hostname?: string } = {}): string {
  const title = `ldirectord${opts.hostname ? ` on ${opts.hostname}` : ''}`;
  return (
    '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">' +
    '<meta name="viewport" content="width=device-width, initial-scale=1">' +
    `<title>${escapeHtml(title)}</title>` +
    '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' +
    '<link rel="stylesheet" href="/static/status.css">' +
    '<script src="/static/status.js" defer></script>' +
    '</head><body>' +
    `<header><h1>${escapeHtml(title)} <small>${escapeHtml(d.config)}</small></h1>` +
    `<p id="summary">${escapeHtml(summaryText(d))}</p>` +
    (d.syncDaemons.length ? `<p id="syncdaemons">Connection sync: ${escapeHtml(syncText(d))}</p>` : '') +
    '<div id="controls" hidden><input type="search" id="filter" placeholder="Filter: address, state, result…" aria-label="Filter" autocomplete="off">' +
    '<label><input type="checkbox" id="problems"> problems only</label> <span id="shown"></span> <span id="live"></span></div>' +
    '</header>' +
    `<main id="virtuals">${d.virtuals.map(virtualSection).join('')}</main>` +
    '<footer>JSON: <a href="/status.json">/status.json</a> · Prometheus: <a href="/metrics">/metrics</a></footer>' +
    '</body></html>\n'
  );
}
