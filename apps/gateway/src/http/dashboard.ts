/**
 * The live status page served at `/`: plain HTML and JS, no build step. It polls
 * `/api/cloud/metrics` and `/api/cloud/health` every 2 s and draws per connector the health, breaker
 * state, throughput and queue depth over the last five minutes. When the API needs a token the page
 * asks for it once and keeps it in the browser's localStorage.
 */
export function dashboardHtml(): string {
  return PAGE;
}

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Bifrost gateway</title>
<meta name="viewport" content="width=device-width,initial-scale=1">
<style>
body{font:14px system-ui,sans-serif;margin:1.5rem;background:#0f1419;color:#d6dde4}
h1{font-size:1.3rem;margin:0 0 .3rem} .muted{color:#8a96a3} table{border-collapse:collapse;width:100%;margin:.8rem 0}
th,td{text-align:left;padding:.35rem .6rem;border-bottom:1px solid #26313c} th{color:#8a96a3;font-weight:500}
.healthy,.closed{color:#5fd38d}.degraded,.half-open{color:#f0c35b}.unhealthy,.open{color:#ff6b6b}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(420px,1fr));gap:1rem}
.card{background:#16202a;border-radius:8px;padding:.7rem} canvas{width:100%;height:110px}
</style></head><body>
<h1>Bifrost gateway</h1><div class="muted" id="summary">loading…</div>
<table><thead><tr><th>Connector</th><th>Type</th><th>Health</th><th>Breaker</th><th>Sent</th><th>Bytes sent</th><th>Failed</th><th>Points/s</th>
<th>Queue</th><th>Oldest (s)</th><th>Dead letters</th><th>p99 ms</th><th>Last error</th></tr></thead><tbody id="rows"></tbody></table>
<div class="charts" id="charts"></div>
<script>
const HISTORY = 150, hist = {}; let prev = null;
function token(){ return localStorage.getItem('bifrostToken') || ''; }
async function get(path){
  const r = await fetch(path, { headers: token() ? { authorization: 'Bearer ' + token() } : {} });
  if (r.status === 401) { const t = prompt('Bifrost API token'); if (t) localStorage.setItem('bifrostToken', t); throw new Error('unauthorized'); }
  return r.json();
}
function bytes(n){ return n === undefined ? '–' : n < 1024 ? n + ' B' : n < 1048576 ? (n / 1024).toFixed(1) + ' KiB' : n < 1073741824 ? (n / 1048576).toFixed(1) + ' MiB' : (n / 1073741824).toFixed(2) + ' GiB'; }
function esc(s){ return String(s ?? '').replace(/[&<>"]/g, c => ({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'}[c])); }
function draw(canvas, series, color){
  const dpr = devicePixelRatio || 1, w = canvas.clientWidth * dpr, h = canvas.clientHeight * dpr;
  canvas.width = w; canvas.height = h; const g = canvas.getContext('2d');
  const max = Math.max(1, ...series); g.strokeStyle = color; g.lineWidth = 2 * dpr; g.beginPath();
  series.forEach((v, i) => { const x = i / (HISTORY - 1) * w, y = h - v / max * (h - 14 * dpr) - 2; i ? g.lineTo(x, y) : g.moveTo(x, y); });
  g.stroke(); g.fillStyle = '#8a96a3'; g.font = 11 * dpr + 'px sans-serif'; g.fillText('max ' + Math.round(max), 4, 12 * dpr);
}
async function tick(){
  try {
    const [m, h] = await Promise.all([get('/api/cloud/metrics'), get('/api/cloud/health')]);
    const health = Object.fromEntries(h.connectors.map(c => [c.name, c]));
    const dt = prev ? (m.time - prev.time) / 1000 : 0;
    const rows = [], charts = document.getElementById('charts');
    for (const c of m.connectors) {
      const before = prev && prev.connectors.find(p => p.name === c.name);
      const rate = before && dt > 0 ? (c.sent - before.sent) / dt : 0;
      const s = hist[c.name] ??= { rate: [], depth: [] };
      s.rate.push(rate); s.depth.push(c.queue.depth);
      if (s.rate.length > HISTORY) { s.rate.shift(); s.depth.shift(); }
      const hc = health[c.name] || {};
      rows.push('<tr><td>' + esc(c.name) + '</td><td>' + esc(c.type) + '</td><td class="' + esc(hc.status) + '">' + esc(hc.status) +
        '</td><td class="' + esc(c.breaker) + '">' + esc(c.breaker) + '</td><td>' + c.sent + '</td><td>' + bytes(c.bytesSent) + '</td><td>' + c.failed + '</td><td>' + rate.toFixed(0) +
        '</td><td>' + c.queue.depth + '</td><td>' + c.queue.oldestAgeSeconds.toFixed(1) + '</td><td>' + c.queue.deadLetters +
        '</td><td>' + (c.p99ResponseTimeMs ?? '–') + '</td><td>' + esc(hc.lastError ? hc.lastError.code + ': ' + hc.lastError.message : '') + '</td></tr>');
      let card = document.getElementById('card-' + c.name);
      if (!card) {
        card = document.createElement('div'); card.className = 'card'; card.id = 'card-' + c.name;
        card.innerHTML = '<b>' + esc(c.name) + '</b> <span class="muted">points/s (green), queue depth (blue)</span><canvas></canvas><canvas></canvas>';
        charts.appendChild(card);
      }
      const [a, b] = card.querySelectorAll('canvas'); draw(a, s.rate, '#5fd38d'); draw(b, s.depth, '#5fa8ff');
    }
    document.getElementById('rows').innerHTML = rows.join('');
    document.getElementById('summary').textContent = 'status ' + h.status + ' · ' + Object.keys(m.devices).length + ' devices · up ' +
      m.uptime_s + ' s · RSS ' + (m.rss_bytes / 1048576).toFixed(0) + ' MB · unrouted ' + m.unrouted;
    prev = m;
  } catch (e) { document.getElementById('summary').textContent = 'cannot reach the gateway: ' + e.message; }
}
tick(); setInterval(tick, 2000);
</script></body></html>`;
