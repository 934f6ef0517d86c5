import { FORMATTERS_SOURCE } from './format.js';

/**
 * The live status page served at `/`: plain HTML and JS, no build step. On load it reads
 * `/api/cloud/history` (the last 15 minutes at 5 s steps) so charts and rates are right from the
 * first paint, then polls `/api/cloud/metrics` and `/api/cloud/health` every 2 s. Per connector it
 * shows throughput, queue depth, oldest queued age, breaker state with its next trial, the last
 * error and the dead letters with their reasons, with buttons to reset the breaker and replay the
 * dead letters. When the API needs a token the page asks for it; it also takes one from the URL
 * fragment (`/#token=...`), and keeps it in the browser's localStorage.
 */
export function dashboardHtml(): string {
  return PAGE;
}

const STYLE = `
body{font:14px system-ui,sans-serif;margin:1.2rem 1.5rem;background:#0f1419;color:#d6dde4}
h1{font-size:1.3rem;margin:0 0 .3rem} h2{font-size:1.05rem;margin:0}
.muted{color:#8a96a3} .num{font-variant-numeric:tabular-nums}
.healthy,.closed{color:#5fd38d}.degraded,.half-open{color:#f0c35b}.unhealthy,.open{color:#ff6b6b}
#banner{background:#3a1d1d;color:#ffb4b4;padding:.5rem .8rem;border-radius:6px;margin:.6rem 0}
#login{background:#16202a;padding:.7rem;border-radius:8px;margin:.6rem 0}
#login input{background:#0f1419;color:#d6dde4;border:1px solid #26313c;border-radius:4px;padding:.3rem;width:22rem}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(560px,1fr));gap:1rem;margin-top:1rem}
.card{background:#16202a;border-radius:8px;padding:.8rem 1rem}
.card header{display:flex;gap:.7rem;align-items:baseline;margin-bottom:.6rem}
.stats{display:grid;grid-template-columns:repeat(4,1fr);gap:.5rem .8rem}
.stats div{display:flex;flex-direction:column} .stats .label{color:#8a96a3;font-size:12px}
.stats .value{font-size:1.05rem}
.error{color:#ff9d9d;margin:.6rem 0 0;word-break:break-word}
.actions{margin:.7rem 0;display:flex;gap:.6rem;align-items:center}
button{background:#26313c;color:#d6dde4;border:1px solid #3a4754;border-radius:5px;padding:.3rem .7rem;cursor:pointer}
button:disabled{opacity:.4;cursor:default}
.charts{display:grid;grid-template-columns:1fr 1fr;gap:.8rem} figure{margin:0}
figcaption{color:#8a96a3;font-size:12px} canvas{width:100%;height:90px;display:block}
table{border-collapse:collapse;width:100%;margin-top:.4rem;font-size:13px}
th,td{text-align:left;padding:.25rem .5rem;border-bottom:1px solid #26313c;vertical-align:top} th{color:#8a96a3;font-weight:500}
`;

const CARD = `
<header><h2 data-field="name"></h2><span class="muted" data-field="type"></span><span data-field="health"></span></header>
<div class="stats">
  <div><span class="label">Throughput</span><span class="value num" data-field="rate"></span></div>
  <div><span class="label">Bytes/s</span><span class="value num" data-field="byteRate"></span></div>
  <div><span class="label">Sent</span><span class="value num" data-field="sent"></span></div>
  <div><span class="label">Failed</span><span class="value num" data-field="failed"></span></div>
  <div><span class="label">Queue depth</span><span class="value num" data-field="depth"></span></div>
  <div><span class="label">Oldest queued</span><span class="value num" data-field="oldest"></span></div>
  <div><span class="label">Dead-lettered since start</span><span class="value num" data-field="deadLetters"></span></div>
  <div><span class="label">Response avg / p99</span><span class="value num" data-field="latency"></span></div>
  <div><span class="label">Breaker</span><span class="value" data-field="breaker"></span></div>
  <div><span class="label">Next trial</span><span class="value num" data-field="trial"></span></div>
  <div><span class="label">Bytes sent</span><span class="value num" data-field="bytesSent"></span></div>
  <div><span class="label">Connected</span><span class="value" data-field="connected"></span></div>
</div>
<div class="error" data-field="lastError"></div>
<div class="actions"><button data-action="reset">Reset breaker</button><button data-action="replay">Replay dead letters</button>
<span class="muted" data-field="actionResult"></span></div>
<div class="charts">
  <figure><figcaption>Throughput, points/s, <span data-field="span"></span></figcaption><canvas data-chart="rate"></canvas></figure>
  <figure><figcaption>Queue depth, <span data-field="span"></span></figcaption><canvas data-chart="depth"></canvas></figure>
</div>
<div data-field="dlBox" hidden><div class="label muted">Dead letters held (replay sends them again)</div>
<table><thead><tr><th>When</th><th>Point</th><th>Code</th><th>Reason</th><th>Attempts</th></tr></thead>
<tbody data-field="dlRows"></tbody></table><div class="muted" data-field="dlMore"></div></div>
`;

const SCRIPT = `
${FORMATTERS_SOURCE}
const POLL_MS = 2000, RATE_SPAN_MS = 5000, DL_SHOWN = 10;
let windowMs = 900000;
const series = {}, cards = {}, deadLetterSeen = {};
let token = tokenFromPage(), lastGood = 0;

function tokenFromPage() {
  const m = /(?:^#|&)token=([^&]*)/.exec(location.hash);
  if (m) {
    localStorage.setItem('bifrostToken', decodeURIComponent(m[1]));
    history.replaceState(null, '', location.pathname + location.search);
  }
  return localStorage.getItem('bifrostToken') || '';
}
class Unauthorized extends Error {}
async function api(path, init) {
  const headers = {};
  if (token) headers.authorization = 'Bearer ' + token;
  if (init && init.body) headers['content-type'] = 'application/json';
  const r = await fetch(path, { ...init, headers });
  if (r.status === 401) {
    document.getElementById('login').hidden = false;
    throw new Unauthorized(token ? 'the API refused this token' : 'the API needs a bearer token');
  }
  const body = await r.json();
  if (!r.ok) throw new Error(body.message || r.statusText);
  return body;
}
function esc(s) { return String(s ?? '').replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]); }
function clock(ms) { return new Date(ms).toLocaleTimeString('en-GB'); }
function set(card, field, text, cls) {
  const el = card.querySelector('[data-field="' + field + '"]');
  el.textContent = text;
  if (cls !== undefined) el.className = 'value ' + cls;
}

function seriesOf(name) { return (series[name] ??= []); }
function record(name, t, sent, bytes, depth) {
  const s = seriesOf(name);
  if (s.length && s[s.length - 1].t >= t) return;
  // Before its first acknowledged write a connector that reports bytes has no bytesSent yet.
  s.push({ t, sent, bytes: bytes ?? 0, depth });
  while (s.length && s[0].t < t - windowMs) s.shift();
}
function rateAt(s, i, key) {
  const now = s[i];
  let j = i - 1;
  while (j > 0 && now.t - s[j].t < RATE_SPAN_MS) j--;
  const ref = s[j];
  if (!ref || now[key] === undefined || ref[key] === undefined || now.t <= ref.t) return undefined;
  return Math.max(0, (now[key] - ref[key]) / ((now.t - ref.t) / 1000));
}

// Charts span the data held, at least a minute and at most the history window, so a gateway
// that just started does not draw a few seconds into the last pixels of 15 minutes.
function chartSpan(s, now) {
  return Math.min(windowMs, Math.max(60000, s.length ? now - s[0].t : 0));
}
function draw(canvas, points, color, fmt, span, now) {
  const dpr = devicePixelRatio || 1, w = canvas.clientWidth * dpr, h = canvas.clientHeight * dpr;
  canvas.width = w; canvas.height = h;
  const g = canvas.getContext('2d'), top = 14 * dpr, bottom = h - 2 * dpr;
  const max = Math.max(1, ...points.map((p) => p.v));
  g.strokeStyle = '#26313c'; g.lineWidth = dpr; g.beginPath(); g.moveTo(0, bottom); g.lineTo(w, bottom); g.stroke();
  if (points.length) {
    const xy = points.map((p) => [Math.max(0, (1 - (now - p.t) / span) * w), bottom - (p.v / max) * (bottom - top)]);
    g.beginPath(); g.moveTo(xy[0][0], bottom);
    for (const [x, y] of xy) g.lineTo(x, y);
    g.lineTo(xy[xy.length - 1][0], bottom); g.closePath();
    g.globalAlpha = 0.2; g.fillStyle = color; g.fill(); g.globalAlpha = 1;
    // A lone sample (the first poll after start) is drawn as a bar: a line needs two.
    if (xy.length === 1) { g.fillStyle = color; g.fillRect(xy[0][0] - 3 * dpr, xy[0][1], 3 * dpr, bottom - xy[0][1]); }
    g.strokeStyle = color; g.lineWidth = 2 * dpr; g.beginPath();
    xy.forEach(([x, y], i) => (i ? g.lineTo(x, y) : g.moveTo(x, y)));
    g.stroke();
  }
  g.fillStyle = '#8a96a3'; g.font = 11 * dpr + 'px sans-serif'; g.fillText('max ' + fmt(max), 4, 11 * dpr);
}

function cardFor(c) {
  if (cards[c.name]) return cards[c.name];
  const card = document.createElement('section');
  card.className = 'card';
  card.dataset.connector = c.name;
  card.innerHTML = ${JSON.stringify(CARD)};
  set(card, 'name', c.name);
  set(card, 'type', c.type);
  card.querySelector('[data-action="reset"]').onclick = () =>
    act(card, c.name, 'POST', '/api/cloud/connectors/' + encodeURIComponent(c.name) + '/breaker/reset', undefined,
      (r) => (r.reset ? 'breaker closed, delivering now' : 'breaker was not open'));
  card.querySelector('[data-action="replay"]').onclick = () =>
    act(card, c.name, 'POST', '/api/cloud/deadletters/replay', { connector: c.name }, (r) => 'replayed ' + formatCount(r.replayed));
  document.getElementById('cards').appendChild(card);
  return (cards[c.name] = card);
}
async function act(card, name, method, path, body, describe) {
  const out = card.querySelector('[data-field="actionResult"]');
  out.textContent = '…';
  try {
    out.textContent = describe(await api(path, { method, ...(body ? { body: JSON.stringify(body) } : {}) }));
  } catch (e) {
    out.textContent = 'failed: ' + e.message;
  }
  delete deadLetterSeen[name];
  await poll();
}

// The metrics count dead letters since start; which are still held (not replayed or purged) only
// the list tells, so it is read again when that count moves or after a button was used.
async function deadLetters(card, c) {
  const box = card.querySelector('[data-field="dlBox"]'), replay = card.querySelector('[data-action="replay"]');
  const seen = c.queue.deadLetters + '/' + c.deadLettered;
  if (c.queue.deadLetters === 0) {
    box.hidden = replay.disabled = true;
    return;
  }
  if (deadLetterSeen[c.name] === seen) return;
  const r = await api('/api/cloud/deadletters?connector=' + encodeURIComponent(c.name) + '&limit=' + DL_SHOWN);
  deadLetterSeen[c.name] = seen;
  box.hidden = replay.disabled = r.deadLetters.length === 0;
  card.querySelector('[data-field="dlRows"]').innerHTML = r.deadLetters.map((d) =>
    '<tr><td class="num">' + esc(clock(d.time)) + '</td><td>' + esc(d.point.deviceId + ' / ' + d.point.tagName) +
    '</td><td>' + esc(d.code) + '</td><td>' + esc(d.reason) + '</td><td class="num">' + formatCount(d.attempts) + '</td></tr>').join('');
  set(card, 'dlMore', r.deadLetters.length === DL_SHOWN ? 'showing the first ' + DL_SHOWN : '');
}

function render(m, h) {
  const health = Object.fromEntries(h.connectors.map((c) => [c.name, c]));
  for (const c of m.connectors) {
    record(c.name, m.time, c.sent, c.bytesSent, c.queue.depth);
    const s = seriesOf(c.name), hc = health[c.name] || {}, card = cardFor(c);
    set(card, 'health', hc.status || '', hc.status || '');
    set(card, 'rate', formatRate(rateAt(s, s.length - 1, 'sent')));
    set(card, 'byteRate', c.bytesSent === undefined ? '–' : formatBytes(rateAt(s, s.length - 1, 'bytes')) + '/s');
    set(card, 'sent', formatCount(c.sent));
    set(card, 'failed', formatCount(c.failed));
    set(card, 'depth', formatCount(c.queue.depth));
    set(card, 'oldest', formatSeconds(c.queue.oldestAgeSeconds));
    set(card, 'deadLetters', formatCount(c.queue.deadLetters));
    set(card, 'latency', formatMs(c.responseTimeMs) + ' / ' + formatMs(c.p99ResponseTimeMs));
    set(card, 'breaker', c.breaker, c.breaker);
    set(card, 'trial', c.breakerTrialAt
      ? 'in ' + formatSeconds(Math.max(0, (c.breakerTrialAt - Date.now()) / 1000)) + ' (' + clock(c.breakerTrialAt) + ')' : '–');
    set(card, 'bytesSent', formatBytes(c.bytesSent));
    set(card, 'connected', c.connected ? 'yes' : 'no', c.connected ? 'closed' : 'open');
    set(card, 'lastError', hc.lastError ? 'Last error ' + (hc.lastFailureAt ? clock(hc.lastFailureAt) + ' ' : '') +
      hc.lastError.code + ': ' + hc.lastError.message : '');
    card.querySelector('[data-action="reset"]').disabled = c.breaker !== 'open';
    const [rateCanvas, depthCanvas] = card.querySelectorAll('canvas'), span = chartSpan(s, m.time);
    for (const el of card.querySelectorAll('[data-field="span"]')) el.textContent = 'last ' + Math.round(span / 60000) + ' min';
    draw(rateCanvas, s.map((p, i) => ({ t: p.t, v: rateAt(s, i, 'sent') ?? 0 })).slice(1), '#5fd38d', (v) => formatRate(v, '/s'), span, m.time);
    draw(depthCanvas, s.map((p) => ({ t: p.t, v: p.depth })), '#5fa8ff', formatCount, span, m.time);
  }
  const status = document.getElementById('status');
  status.textContent = h.status; status.className = h.status;
  document.getElementById('summary').textContent = formatCount(Object.keys(m.devices).length) + ' devices · up ' +
    formatSeconds(m.uptime_s) + ' · RSS ' + formatBytes(m.rss_bytes) + ' · unrouted ' + formatCount(m.unrouted) +
    ' · queue ' + (h.queue.ok ? 'ok' : 'failing: ' + h.queue.reason) + ' · updated ' + clock(m.time);
}

async function poll() {
  try {
    const [m, h] = await Promise.all([api('/api/cloud/metrics'), api('/api/cloud/health')]);
    render(m, h);
    await Promise.all(m.connectors.map((c) => deadLetters(cards[c.name], c)));
    lastGood = Date.now();
    document.getElementById('banner').hidden = true;
    document.body.dataset.updated = String(m.time);
  } catch (e) {
    const banner = document.getElementById('banner');
    banner.hidden = false;
    banner.textContent = e instanceof Unauthorized ? e.message : 'cannot reach the gateway' +
      (lastGood ? ' since ' + clock(lastGood) : '') + ': ' + e.message;
  }
}
async function loadHistory() {
  try {
    const r = await api('/api/cloud/history');
    windowMs = r.windowMs;
    for (const sample of r.samples)
      for (const c of sample.connectors) record(c.name, sample.time, c.sent, c.bytesSent, c.queueDepth);
  } catch {
    // The live polls fill the charts from now on; the banner shows why the API failed.
  }
}
document.getElementById('login').onsubmit = async (e) => {
  e.preventDefault();
  token = document.getElementById('token').value.trim();
  localStorage.setItem('bifrostToken', token);
  document.getElementById('login').hidden = true;
  await loadHistory();
  await poll();
};
loadHistory().then(poll).then(() => setInterval(poll, POLL_MS));
`;

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Bifrost gateway</title>
<meta name="viewport" content="width=device-width,initial-scale=1">
<style>${STYLE}</style></head><body>
<h1>Bifrost gateway <span id="status"></span></h1><div class="muted" id="summary">loading…</div>
<div id="banner" hidden></div>
<form id="login" hidden><label>API bearer token <input id="token" type="password" autocomplete="current-password"></label>
<button type="submit">Use token</button> <span class="muted">kept in this browser's localStorage</span></form>
<div class="cards" id="cards"></div>
<script>${SCRIPT}</script></body></html>`;
