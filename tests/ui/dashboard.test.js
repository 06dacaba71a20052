// SPDX-License-Identifier: GPL-3.0-or-later
// The dashboard in a real browser (Debian's chromium, headless, driven by
// puppeteer-core): run by tests/integration/test_dashboard.py, which starts
// ocrq-api and a worker and passes, in the environment, OCRQ_UI_URL (the
// API's base URL), OCRQ_UI_ADMIN_KEY, OCRQ_UI_SUBMIT_KEY, OCRQ_UI_DOC (a PNG
// to submit, with OCRQ_UI_WORD a word of its text), OCRQ_UI_QUEUED_JOB (a
// job submitted while no worker runs: it stays queued until this script
// prints "NEED: worker", when the python side starts one, named
// OCRQ_UI_WORKER, with one OCR process; at "NEED:
// failed-webhook ID" it records a failed delivery of job ID and creates
// OCRQ_UI_OUT/webhook-ready) and OCRQ_UI_OUT
// (the test's temp dir: screenshots, chromium's profile). Prints one line
// per check, "PASS: what" or "FAIL: what: detail", and "SCREENSHOT: path".
// Installs puppeteer-core into tests/ui/node_modules on first use.
'use strict';

const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');

const HERE = __dirname;
const env = (k) => {
  if (!process.env[k]) throw new Error(`${k} is not set`);
  return process.env[k];
};
const BASE = env('OCRQ_UI_URL');
const OUT = env('OCRQ_UI_OUT');
let failed = 0;
let shots = 0;

function check(ok, what, detail) {
  if (!ok) failed++;
  console.log(`${ok ? 'PASS' : 'FAIL'}: ${what}${ok || detail === undefined ? '' : ': ' + detail}`);
}

function puppeteer() {
  if (!fs.existsSync(path.join(HERE, 'node_modules', 'puppeteer-core'))) {
    const lock = fs.existsSync(path.join(HERE, 'package-lock.json'));
    execFileSync('npm', [lock ? 'ci' : 'install', '--no-audit', '--no-fund'],
      { cwd: HERE, stdio: ['ignore', 'inherit', 'inherit'] });
  }
  return require(path.join(HERE, 'node_modules', 'puppeteer-core'));
}

async function shot(page, name) {
  const file = path.join(OUT, `dashboard-${String(++shots).padStart(2, '0')}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  console.log(`SCREENSHOT: ${file}`);
}

// Wait until fn() (run in the page) is truthy; false after timeout ms.
async function until(page, fn, arg, timeout) {
  try {
    await page.waitForFunction(fn, { timeout: timeout || 30000, polling: 200 }, arg);
    return true;
  } catch (e) {
    return false;
  }
}

// A request from node, outside the browser: {status, body}.
async function http(method, p, headers, body) {
  const r = await fetch(BASE + p, { method, headers: headers || {}, body });
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch (e) { json = null; }
  return { status: r.status, body: json, headers: r.headers };
}

async function main() {
  const browser = await puppeteer().launch({
    executablePath: process.env.OCRQ_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    userDataDir: path.join(OUT, 'chromium-profile'),
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run'],
  });
  try {
    const page = await browser.newPage();
    await page.setViewport({ width: 1100, height: 900 });
    const problems = [];
    page.on('console', (m) => {
      // the 401/403 answers the test asks for are logged as "Failed to load resource"
      if (m.type() === 'error' && !/^Failed to load resource/.test(m.text())) problems.push(m.text());
    });
    page.on('pageerror', (e) => problems.push(String(e)));

    // the page, with its CSP
    const res = await page.goto(BASE + '/ui/', { waitUntil: 'load' });
    const csp = res.headers()['content-security-policy'] || '';
    check(res.status() === 200 && csp.includes("default-src 'none'") &&
      csp.includes("script-src 'self'"), 'GET /ui/: 200 with a strict CSP', `${res.status()} ${csp}`);
    check(await until(page, () => !document.getElementById('login').hidden),
      'the login form shows without a session');
    await shot(page, 'login');

    // a submit key is refused, in the browser and from outside
    await page.type('#key', env('OCRQ_UI_SUBMIT_KEY'));
    await page.click('#login-form button');
    check(await until(page, () => /admin key/.test(document.getElementById('login-error').textContent)),
      'a submit key: the page says the dashboard needs an admin key');
    await shot(page, 'submit-key-refused');
    let r = await http('POST', '/ui/login', { 'Content-Type': 'application/json' },
      JSON.stringify({ key: env('OCRQ_UI_SUBMIT_KEY') }));
    check(r.status === 403 && r.body && r.body.error.code === 'forbidden',
      'POST /ui/login with a submit key: 403 forbidden', JSON.stringify(r));
    r = await http('GET', '/ui/api/overview');
    check(r.status === 401, 'GET /ui/api/overview without a session: 401', r.status);

    // log in with the admin key: the overview
    await page.type('#key', env('OCRQ_UI_ADMIN_KEY'));
    await page.click('#login-form button');
    check(await until(page, () => !document.getElementById('overview').hidden &&
      document.querySelectorAll('#ov-queues dt').length === 4 &&
      document.querySelector('#chart svg') !== null), 'admin login: the overview with queues and chart');
    const cookies = await browser.cookies();
    const sess = cookies.find((c) => c.name === 'ocrq_session');
    check(sess && sess.httpOnly && sess.sameSite === 'Strict' && sess.path === '/ui',
      'the session cookie is HttpOnly, SameSite=Strict, Path=/ui', JSON.stringify(sess));
    await shot(page, 'overview');

    // a POST with the cookie but without the CSRF header: 403
    const cookie = `ocrq_session=${sess ? sess.value : ''}`;
    r = await http('POST', '/ui/api/jobs/00000000-0000-4000-8000-000000000000/cancel', { Cookie: cookie });
    check(r.status === 403 && r.body && r.body.error.code === 'csrf',
      'a POST without X-CSRF-Token: 403 csrf', JSON.stringify(r.body));

    // the queued job: its page offers Cancel, which asks first, then cancels it
    const queued = env('OCRQ_UI_QUEUED_JOB');
    await page.goto(`${BASE}/ui/#job/${queued}`, { waitUntil: 'load' });
    check(await until(page, () => document.getElementById('job-status').textContent === 'queued' &&
      !document.getElementById('cancel').hidden), 'a queued job\'s page shows a Cancel button');
    let asked = '';
    page.once('dialog', (d) => {
      asked = d.message();
      d.accept();
    });
    await page.click('#cancel');
    check(await until(page, () => document.getElementById('job-status').textContent === 'canceled' &&
      document.getElementById('cancel').hidden), 'Cancel, confirmed: the job is canceled');
    check(asked.includes(queued), 'Cancel asked for confirmation first', asked);
    await shot(page, 'job-canceled');
    console.log('NEED: worker');

    // submit a job through the API with the submit key
    r = await http('POST', '/v1/jobs?batch=ui-test', {
      Authorization: 'Bearer ' + env('OCRQ_UI_SUBMIT_KEY'), 'Content-Type': 'image/png',
    }, fs.readFileSync(env('OCRQ_UI_DOC')));
    check(r.status === 202 && r.body && r.body.job_id, 'POST /v1/jobs: 202', JSON.stringify(r.body));
    const id = r.body && r.body.job_id;

    // it shows in the jobs list, and becomes succeeded there
    await page.goto(BASE + '/ui/#jobs', { waitUntil: 'load' });
    check(await until(page, (i) => document.querySelector(`tr[data-job-id="${i}"]`) !== null, id),
      'the job appears in the jobs list');
    let succeeded = false;
    for (let i = 0; i < 60 && !succeeded; i++) {
      await page.click('#filters button');
      succeeded = await until(page, (j) => {
        const tr = document.querySelector(`tr[data-job-id="${j}"] .status`);
        return tr && tr.textContent === 'succeeded';
      }, id, 2000);
    }
    check(succeeded, 'the job becomes succeeded in the jobs list');
    await page.select('#f-status', 'succeeded');
    await page.type('#f-batch', 'ui-test');
    await page.click('#filters button');
    check(await until(page, (j) => document.querySelectorAll('#jobs-table tbody tr').length === 1 &&
      document.querySelector(`tr[data-job-id="${j}"]`) !== null, id),
      'filtered by status and batch: just that job');
    await shot(page, 'jobs');
    // submitted from tomorrow on: none
    await page.$eval('#f-since', (e) => {
      const d = new Date(Date.now() + 86400000);
      e.value = d.toISOString().slice(0, 16);
    });
    await page.click('#filters button');
    check(await until(page, () => document.querySelectorAll('#jobs-table tbody tr').length === 0 &&
      /\(0 jobs\)/.test(document.getElementById('page-info').textContent)),
    'filtered by a date from tomorrow on: no jobs');
    await page.$eval('#f-since', (e) => { e.value = ''; });
    await page.click('#filters button');
    check(await until(page, (j) => document.querySelector(`tr[data-job-id="${j}"] a`) !== null, id),
      'without the date the job is listed again');

    // its page: timeline, pages, text
    await page.click(`tr[data-job-id="${id}"] a`);
    const word = env('OCRQ_UI_WORD').toLowerCase();
    check(await until(page, (w) => document.getElementById('job-status').textContent === 'succeeded' &&
      document.getElementById('job-text').textContent.toLowerCase().includes(w), word),
      'the job page shows succeeded and its text', word);
    const events = await page.$$eval('#timeline tbody tr td:nth-child(2)', (tds) => tds.map((t) => t.textContent));
    check(['submitted', 'started', 'finished'].every((e) => events.includes(e)),
      'the timeline: submitted, started, finished', events.join(','));
    check(await page.$eval('#cancel', (b) => b.hidden), 'no Cancel button for a finished job');
    await shot(page, 'job');

    // a failed webhook delivery of the job (the python side records one): Retry, confirmed
    const ready = path.join(OUT, 'webhook-ready');
    console.log(`NEED: failed-webhook ${id}`);
    for (let i = 0; i < 300 && !fs.existsSync(ready); i++) await new Promise((f) => setTimeout(f, 100));
    await page.reload({ waitUntil: 'load' });
    check(await until(page, () => {
      const b = document.querySelector('#webhooks button.retry');
      return b && !b.hidden && document.querySelector('#webhooks .status').textContent === 'failed';
    }), 'the job page lists the failed webhook delivery with a Retry button');
    let retryAsked = '';
    page.once('dialog', (d) => {
      retryAsked = d.message();
      d.accept();
    });
    await page.click('#webhooks button.retry');
    check(await until(page, () => {
      const st = document.querySelector('#webhooks .status');
      return st && st.textContent !== 'failed' && document.querySelector('#webhooks button.retry').hidden;
    }), 'Retry, confirmed: the delivery is no longer failed');
    check(/again/.test(retryAsked), 'Retry asked for confirmation first', retryAsked);
    await shot(page, 'webhook-retried');

    // cancel refuses a finished job (409), with the session's CSRF token
    const who = await http('GET', '/ui/api/session', { Cookie: cookie });
    r = await http('POST', `/ui/api/jobs/${id}/cancel`,
      { Cookie: cookie, 'X-CSRF-Token': who.body ? who.body.csrf : '' });
    check(r.status === 409 && r.body && r.body.error.code === 'not_cancelable',
      'cancel of a succeeded job: 409 not_cancelable', JSON.stringify(r.body));

    // the overview counts it, and draws it in the chart
    await page.click('nav a[href="#overview"]');
    check(await until(page, () => /succeeded/.test(document.getElementById('ov-jobs').textContent) &&
      document.querySelectorAll('#chart svg rect.succeeded').length >= 1),
    'the overview counts the succeeded job and charts it');
    // its Workers table: the worker, its process, and the job that process did
    const wname = env('OCRQ_UI_WORKER');
    check(await until(page, (n) => {
      const rows = [...document.querySelectorAll('#workers tbody tr')].filter((tr) => tr.dataset.worker === n);
      return rows.length === 1 && rows[0].querySelector('.worker-name').textContent === n &&
        rows[0].dataset.slot === '0' &&
        ['idle', 'busy', 'starting'].includes(rows[0].querySelector('.state').textContent) &&
        Number(rows[0].querySelector('.done').textContent) >= 1 &&
        /s ago/.test(rows[0].querySelector('.beat').textContent);
    }, wname), 'the overview lists the worker with its process, its state and its jobs done',
    await page.$eval('#workers', (t) => t.textContent));
    await shot(page, 'overview-after');

    // log out: the API refuses the old cookie
    await page.click('#logout');
    check(await until(page, () => !document.getElementById('login').hidden), 'log out: the login form again');
    r = await http('GET', '/ui/api/overview', { Cookie: cookie });
    check(r.status === 401, 'after logout the old session is 401', r.status);
    check(problems.length === 0, 'no script errors or CSP violations in the console', problems.join(' | '));
  } finally {
    await browser.close();
  }
}

main().then(() => {
  console.log(failed ? `dashboard.test.js: ${failed} failed` : 'dashboard.test.js: ok');
  process.exit(failed ? 1 : 0);
}, (e) => {
  console.log(`FAIL: the browser test ran to the end: ${e && e.stack ? e.stack : e}`);
  process.exit(1);
});
