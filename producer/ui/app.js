// SPDX-License-Identifier: GPL-3.0-or-later
// The ocrq dashboard (docs/dashboard.md): logs in with an admin key, then
// shows the overview with the workers (polled every 5 s), the jobs list and a job's page
// from ocrq-api's /ui/api/*. Text goes in with textContent only; no
// library, no inline script or style (the page's CSP forbids them).
'use strict';

const state = { csrf: '', page: 1, perPage: 50, timer: null };
const $ = (id) => document.getElementById(id);
const SVG = 'http://www.w3.org/2000/svg';

// An element with attributes and children (strings become text).
function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const k of kids) e.append(k === null || k === undefined ? '' : k);
  return e;
}

// Call /ui/...: resolves to {status, body} (body parsed JSON, or null).
async function call(path, opts) {
  const o = Object.assign({ credentials: 'same-origin', headers: {} }, opts || {});
  if (o.method === 'POST') {
    o.headers['X-CSRF-Token'] = state.csrf;
    o.headers['Content-Type'] = 'application/json';
  }
  const r = await fetch(path, o);
  let body = null;
  try { body = await r.json(); } catch (e) { body = null; }
  if (r.status === 401 && path !== '/ui/login' && path !== '/ui/api/session') showLogin('');
  return { status: r.status, body };
}

function errorText(res) {
  return res.body && res.body.error ? res.body.error.message : 'HTTP ' + res.status;
}

function show(id) {
  for (const s of ['login', 'overview', 'jobs', 'job']) $(s).hidden = s !== id;
  $('nav').hidden = id === 'login';
}

function showLogin(msg) {
  stopPolling();
  state.csrf = '';
  show('login');
  $('login-error').textContent = msg;
}

function fillDl(dl, pairs) {
  dl.replaceChildren();
  for (const [k, v] of pairs) dl.append(el('dt', {}, k), el('dd', {}, String(v)));
}

// ---- overview ----------------------------------------------------------------

function chart(perMinute) {
  const w = 720, h = 160, pad = 20, bw = (w - 2 * pad) / 60;
  const max = Math.max(1, ...perMinute.map((m) => m.succeeded + m.failed + m.canceled));
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('width', w);
  svg.setAttribute('height', h);
  svg.setAttribute('viewBox', `0 0 ${w} ${h}`);
  perMinute.forEach((m, i) => {
    let y = h - pad;
    for (const kind of ['succeeded', 'failed', 'canceled']) {
      if (!m[kind]) continue;
      const bh = (m[kind] / max) * (h - 2 * pad);
      const r = document.createElementNS(SVG, 'rect');
      r.setAttribute('x', pad + i * bw + 1);
      r.setAttribute('y', y - bh);
      r.setAttribute('width', Math.max(1, bw - 2));
      r.setAttribute('height', bh);
      r.setAttribute('class', kind);
      const t = document.createElementNS(SVG, 'title');
      t.textContent = `${m.minute}: ${m[kind]} ${kind}`;
      r.append(t);
      svg.append(r);
      y -= bh;
    }
  });
  const label = document.createElementNS(SVG, 'text');
  label.setAttribute('x', pad);
  label.setAttribute('y', 14);
  label.setAttribute('font-size', 11);
  label.textContent = `max ${max}/min`;
  svg.append(label);
  $('chart').replaceChildren(svg);
}

async function loadOverview() {
  const res = await call('/ui/api/overview');
  if (res.status !== 200) return;
  const o = res.body;
  fillDl($('ov-queues'), Object.entries(o.queues));
  const jobs = Object.entries(o.jobs);
  fillDl($('ov-jobs'), jobs.length ? jobs : [['none', 0]]);
  const ms = (v) => (v === null || v === undefined ? '-' : Math.round(v));
  fillDl($('ov-ocr'), [['p50', ms(o.ocr_ms.p50)], ['p90', ms(o.ocr_ms.p90)],
    ['p99', ms(o.ocr_ms.p99)], ['results', o.ocr_ms.n]]);
  fillDl($('ov-webhooks'), Object.entries(o.webhooks));
  chart(o.jobs_per_minute || []);
  await loadWorkers();
  $('ov-updated').textContent = 'updated ' + new Date().toLocaleTimeString();
}

// One row per process (slot); the worker's cells span its rows.
function workerRows(w) {
  const age = `${Math.round(w.heartbeat_age_s)} s ago`;
  const beat = el('td', { class: 'beat' }, age);
  if (w.stale) beat.append(' ', el('span', { class: 'stale' }, 'stale'));
  const slots = w.slots.length ? w.slots : [null];
  return slots.map((p, i) => {
    const tr = el('tr', { 'data-worker': w.name });
    if (i === 0) {
      const span = { rowspan: slots.length };
      tr.append(el('td', Object.assign({ class: 'worker-name' }, span), w.name),
        el('td', span, w.host), beat);
      beat.setAttribute('rowspan', slots.length);
    }
    if (!p) {
      tr.append(el('td', { colspan: 4 }, 'no processes'));
      return tr;
    }
    tr.setAttribute('data-slot', p.slot);
    const job = p.job_id ? el('a', { href: '#job/' + p.job_id }, p.job_id.slice(0, 8)) : '-';
    tr.append(el('td', {}, `${p.slot}` + (p.pid ? ` (pid ${p.pid})` : '')),
      el('td', { class: 'state' }, p.state), el('td', { class: 'job' }, job),
      el('td', { class: 'done' }, p.jobs_done));
    return tr;
  });
}

async function loadWorkers() {
  const res = await call('/ui/api/workers');
  const tbody = $('workers').tBodies[0];
  if (res.status !== 200) {
    tbody.replaceChildren(el('tr', {}, el('td', { colspan: 7 }, errorText(res))));
    return;
  }
  const ws = res.body.workers;
  tbody.replaceChildren(...(ws.length ? ws.flatMap(workerRows)
    : [el('tr', {}, el('td', { colspan: 7 }, 'no workers running'))]));
}

function stopPolling() {
  if (state.timer) clearInterval(state.timer);
  state.timer = null;
}

// ---- jobs list ----------------------------------------------------------------

async function loadJobs() {
  const q = new URLSearchParams({ page: state.page, per_page: state.perPage });
  for (const [k, id] of [['status', 'f-status'], ['batch', 'f-batch'], ['code', 'f-code']])
    if ($(id).value) q.set(k, $(id).value);
  // the browser's local time, as RFC 3339 UTC
  for (const [k, id] of [['since', 'f-since'], ['until', 'f-until']])
    if ($(id).value) q.set(k, new Date($(id).value).toISOString());
  const res = await call('/ui/api/jobs?' + q);
  const tbody = $('jobs-table').tBodies[0];
  if (res.status !== 200) {
    tbody.replaceChildren(el('tr', {}, el('td', { colspan: 7 }, errorText(res))));
    return;
  }
  tbody.replaceChildren(...res.body.jobs.map((j) => el('tr', { 'data-job-id': j.job_id },
    el('td', {}, el('a', { href: '#job/' + j.job_id }, j.job_id.slice(0, 8))),
    el('td', { class: 'status' }, j.status), el('td', {}, j.batch), el('td', {}, j.priority),
    el('td', {}, j.error_code), el('td', {}, j.submitted_at), el('td', {}, j.finished_at))));
  const pages = Math.max(1, Math.ceil(res.body.total / state.perPage));
  $('page-info').textContent = `page ${state.page} of ${pages} (${res.body.total} jobs)`;
  $('prev').disabled = state.page <= 1;
  $('next').disabled = state.page >= pages;
}

// ---- one job -------------------------------------------------------------------

async function loadJob(id) {
  const res = await call('/ui/api/jobs/' + encodeURIComponent(id));
  $('job-id').textContent = id;
  $('job-message').textContent = '';
  if (res.status !== 200) {
    $('job-status').textContent = '';
    $('job-message').textContent = errorText(res);
    $('cancel').hidden = true;
    return;
  }
  const { job, timeline, pages, text } = res.body;
  $('job-status').textContent = job.status;
  $('cancel').hidden = job.status !== 'queued';
  const skip = new Set(['job_id', 'status']);
  fillDl($('job-fields'), Object.entries(job).filter(([k, v]) => !skip.has(k) && v !== null));
  $('timeline').tBodies[0].replaceChildren(...timeline.map((t) =>
    el('tr', {}, el('td', {}, t.at), el('td', {}, t.event), el('td', {}, t.detail))));
  $('pages').tBodies[0].replaceChildren(...pages.map((p) => el('tr', {},
    el('td', {}, p.page_no), el('td', {}, p.mean_conf === null ? '-' : p.mean_conf.toFixed(1)),
    el('td', {}, `${p.width}x${p.height}`), el('td', {}, p.duration_ms), el('td', {}, p.method))));
  $('webhooks').tBodies[0].replaceChildren(...res.body.webhooks.map((w) => {
    const retry = el('button', { type: 'button', class: 'retry', 'data-id': w.id }, 'Retry');
    retry.hidden = w.status !== 'failed';
    retry.addEventListener('click', () => retryWebhook(id, w.id));
    return el('tr', { 'data-delivery': w.id }, el('td', {}, w.id), el('td', {}, w.event_type),
      el('td', { class: 'status' }, w.status), el('td', {}, w.attempts),
      el('td', {}, w.last_http_status ? 'HTTP ' + w.last_http_status : w.last_error),
      el('td', {}, retry));
  }));
  $('job-text').textContent = text === null ? '(no text: the job has not succeeded)' : text;
}

async function retryWebhook(job, delivery) {
  if (!confirm(`Send webhook delivery ${delivery} again?`)) return;
  const res = await call(`/ui/api/webhooks/${delivery}/retry`, { method: 'POST', body: '{}' });
  await loadJob(job);
  if (res.status !== 200) $('job-message').textContent = errorText(res);
}

async function cancelJob() {
  const id = $('job-id').textContent;
  if (!confirm(`Cancel job ${id}?`)) return;
  const res = await call(`/ui/api/jobs/${encodeURIComponent(id)}/cancel`, { method: 'POST' });
  await loadJob(id);
  if (res.status !== 200) $('job-message').textContent = errorText(res);
}

// ---- navigation ----------------------------------------------------------------------

function route() {
  if (!state.csrf) return;
  stopPolling();
  const h = location.hash.replace(/^#/, '') || 'overview';
  if (h.startsWith('job/')) {
    show('job');
    loadJob(h.slice(4));
  } else if (h === 'jobs') {
    show('jobs');
    loadJobs();
  } else {
    show('overview');
    loadOverview();
    state.timer = setInterval(loadOverview, 5000);
  }
}

function loggedIn(body) {
  state.csrf = body.csrf;
  $('who').textContent = `${body.key} (${body.role})`;
  route();
}

async function login(ev) {
  ev.preventDefault();
  const r = await fetch('/ui/login', {
    method: 'POST', credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ key: $('key').value.trim() }),
  });
  let body = null;
  try { body = await r.json(); } catch (e) { body = null; }
  $('key').value = '';
  if (r.status === 200) loggedIn(body);
  else showLogin(body && body.error ? body.error.message : 'HTTP ' + r.status);
}

async function logout() {
  await call('/ui/logout', { method: 'POST', body: '{}' });
  showLogin('logged out');
}

async function start() {
  $('login-form').addEventListener('submit', login);
  $('logout').addEventListener('click', logout);
  $('cancel').addEventListener('click', cancelJob);
  $('filters').addEventListener('submit', (ev) => {
    ev.preventDefault();
    state.page = 1;
    loadJobs();
  });
  $('prev').addEventListener('click', () => { state.page--; loadJobs(); });
  $('next').addEventListener('click', () => { state.page++; loadJobs(); });
  window.addEventListener('hashchange', route);
  const res = await call('/ui/api/session');
  if (res.status === 200) loggedIn(res.body);
  else showLogin('');
}

document.addEventListener('DOMContentLoaded', start);
