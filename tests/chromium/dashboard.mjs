// dashboard.mjs: open a bm-report HTML page in headless Chromium over the
// DevTools protocol, with the network off, and report what the page did.
//
//   node --experimental-websocket dashboard.mjs PAGE.html [--shots DIR]
//       [--loads N] [--click] [--dark]
//
// Prints one JSON object: requests that left the page (anything but the
// file itself), console errors and exceptions, facts read from the DOM
// (bars, table rows, heat-map cells, the embedded data), what the tabs
// did when clicked and driven by the keyboard, the load-event times of N
// loads (ms from navigation start) and their median.  Screenshots at 390
// and 1280 px (and of the trends, and of the cases in dark mode) go to DIR.  Every wait is bounded; exit 1 on a timeout.
// No npm package: Node 20's WebSocket (behind the flag) and child_process.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const args = process.argv.slice(2);
const page = path.resolve(args[0]);
const opt = (name, dflt) => {
	const i = args.indexOf(name);
	return i >= 0 ? args[i + 1] : dflt;
};
const shots = opt('--shots', null);
const loads = Number(opt('--loads', '1'));
const chromium = process.env.CHROMIUM || '/usr/bin/chromium';
const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'bm-chromium-'));
const url = pathToFileURL(page).href;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const deadline = setTimeout(() => fail('timed out after 90 s'), 90000);
let child;

async function fail(msg) {
	process.stderr.write(`dashboard.mjs: ${msg}\n`);
	await cleanup();
	process.exit(1);
}

// Stop Chromium and wait for it (bounded: 5 s) before removing its profile.
async function cleanup() {
	clearTimeout(deadline);
	if (child && child.exitCode === null && child.signalCode === null) {
		const gone = new Promise((r) => child.once('exit', r));
		child.kill('SIGKILL');
		await Promise.race([gone, sleep(5000)]);
	}
	try {
		fs.rmSync(profile, { recursive: true, force: true,
		    maxRetries: 5 });
	} catch {
		// A profile left in /tmp is no reason to fail the check.
	}
}


// Wait for Chromium to write the DevTools port (bounded: 20 s).
async function devtools() {
	const file = path.join(profile, 'DevToolsActivePort');
	for (let i = 0; i < 400; i++) {
		if (fs.existsSync(file)) {
			const [port, p] = fs.readFileSync(file, 'utf8').split('\n');
			if (port && p)
				return `ws://127.0.0.1:${port}${p}`;
		}
		if (child.exitCode !== null)
			await fail(`chromium exited with status ${child.exitCode}`);
		await sleep(50);
	}
	await fail('chromium did not open its DevTools port');
}

child = spawn(chromium, ['--headless', '--no-sandbox', '--disable-gpu',
	'--disable-background-networking', '--disable-component-update',
	'--disable-sync', '--no-first-run', '--disable-extensions',
	'--disable-default-apps', '--mute-audio', '--hide-scrollbars',
	'--remote-debugging-port=0', `--user-data-dir=${profile}`,
	'about:blank'], { stdio: ['ignore', 'ignore', 'pipe'] });
child.stderr.on('data', () => {});

const ws = new WebSocket(await devtools());
await new Promise((ok, no) => {
	ws.onopen = ok;
	ws.onerror = () => no(new Error('websocket error'));
});

let nextId = 1;
const pending = new Map();
const listeners = [];
ws.onmessage = (ev) => {
	const m = JSON.parse(ev.data);
	if (m.id && pending.has(m.id)) {
		const { ok, no } = pending.get(m.id);
		pending.delete(m.id);
		if (m.error)
			no(new Error(`${m.error.message}`));
		else
			ok(m.result);
	} else if (m.method) {
		for (const l of listeners)
			l(m);
	}
};

// One command, answered within 15 s.
function send(method, params = {}, sessionId) {
	const id = nextId++;
	ws.send(JSON.stringify({ id, method, params, sessionId }));
	return new Promise((ok, no) => {
		pending.set(id, { ok, no });
		setTimeout(() => {
			if (pending.delete(id))
				no(new Error(`${method}: no answer`));
		}, 15000);
	});
}

// The next event named method, within ms.
function once(method, ms = 15000) {
	return new Promise((ok, no) => {
		const l = (m) => {
			if (m.method !== method)
				return;
			listeners.splice(listeners.indexOf(l), 1);
			ok(m.params);
		};
		listeners.push(l);
		setTimeout(() => {
			const i = listeners.indexOf(l);
			if (i >= 0) {
				listeners.splice(i, 1);
				no(new Error(`${method}: not within ${ms} ms`));
			}
		}, ms);
	});
}

const out = { requests: [], console_errors: [], exceptions: [] };
listeners.push((m) => {
	const p = m.params;
	if (m.method === 'Network.requestWillBeSent' &&
	    p.request.url !== url && !p.request.url.startsWith(url + '#'))
		out.requests.push(p.request.url);
	if (m.method === 'Runtime.consoleAPICalled' &&
	    (p.type === 'error' || p.type === 'assert'))
		out.console_errors.push(p.args.map((a) => a.value).join(' '));
	if (m.method === 'Log.entryAdded' && p.entry.level === 'error')
		out.console_errors.push(p.entry.text);
	if (m.method === 'Runtime.exceptionThrown')
		out.exceptions.push(p.exceptionDetails.text +
		    (p.exceptionDetails.exception ?
		    ' ' + p.exceptionDetails.exception.description : ''));
});

try {
	const { targetId } = await send('Target.createTarget',
	    { url: 'about:blank' });
	const { sessionId: s } = await send('Target.attachToTarget',
	    { targetId, flatten: true });
	const cmd = (m, p) => send(m, p, s);
	await cmd('Page.enable');
	await cmd('Runtime.enable');
	await cmd('Log.enable');
	await cmd('Network.enable');
	// The network is off: any request would fail, and is recorded.
	await cmd('Network.emulateNetworkConditions', { offline: true,
	    latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
	await cmd('Emulation.setDeviceMetricsOverride', { width: 1280,
	    height: 800, deviceScaleFactor: 1, mobile: false });
	const evaluate = async (expr) => {
		const r = await cmd('Runtime.evaluate', { expression: expr,
		    returnByValue: true, awaitPromise: true });
		if (r.exceptionDetails)
			throw new Error(r.exceptionDetails.text + ' ' +
			    (r.exceptionDetails.exception || {}).description);
		return r.result.value;
	};

	out.load_ms = [];
	for (let i = 0; i < loads; i++) {
		const loaded = once('Page.loadEventFired');
		await cmd('Page.navigate', { url });
		await loaded;
		const t = await evaluate(`(() => {
			const n = performance.getEntriesByType('navigation')[0];
			return [n.loadEventStart, n.domInteractive,
			    n.responseEnd].map(Math.round);
		})()`);
		out.load_ms.push(t[0]);
		(out.interactive_ms = out.interactive_ms || []).push(t[1]);
	}
	const sorted = [...out.load_ms].sort((a, b) => a - b);
	out.load_median_ms = sorted[Math.floor(sorted.length / 2)];

	// What the page shows, next to the data it embeds.
	out.dom = await evaluate(`(() => {
		const data = JSON.parse(document.getElementById('bm-data')
		    .textContent);
		const q = (s) => [...document.querySelectorAll(s)];
		const lazy = q('#cells rect').length;
		// The heat map is put in place when its tab is first shown.
		document.getElementById('t-cases').click();
		document.getElementById('t-snapshot').click();
		return {
			heat_before_tab: lazy,
			title: document.title,
			h1: document.querySelector('h1').textContent,
			scripts: q('script').length,
			data_stats: data.stat.length,
			data_cells: data.cells.length,
			data_cases: data.cases.length,
			data_history: data.history.length,
			stat_rates: data.stat.map((s) => s.pass_rate),
			bars: q('#snap rect.pr').map((r) =>
			    Number(r.getAttribute('width'))),
			snap_rows: q('#snap tbody tr').length,
			snap_labels: q('#snap tbody th').map((t) => t.textContent),
			cmp_rows: q('#cmp tbody tr').length,
			reg_rows: q('#reg tbody tr').length,
			run_rows: q('#runs tbody tr').length,
			trend_series: q('#p-trends path.series').length,
			heat_cells: q('#cells rect').length,
			heat_match: q('#cells rect').every((r, i) =>
			    r.classList.contains(data.cells[i][2]) &&
			    getComputedStyle(r).width === '14px'),
			heat_labels: q('#heat text.fl, #heat text[text-anchor=end]')
			    .map((t) => t.firstChild.textContent),
			flaky: q('#heat text.fl').length,
			data_flaky: data.cases.filter((c) => c[1]).length,
			width: document.documentElement.scrollWidth,
		};
	})()`);

	// Tabs by mouse, then by keyboard from the first.
	out.tabs = await evaluate(`(() => {
		const tabs = [...document.querySelectorAll('[role=tab]')];
		const shown = () => [...document.querySelectorAll(
		    '[role=tabpanel]')].filter((p) => !p.hidden &&
		    p.offsetHeight > 0).map((p) => p.id);
		const click = tabs.map((t) => { t.click(); return shown(); });
		tabs[0].click();
		tabs[0].focus();
		const keys = [];
		for (const key of ['ArrowRight', 'ArrowRight', 'End', 'Home',
		    'ArrowLeft']) {
			document.activeElement.dispatchEvent(new KeyboardEvent(
			    'keydown', { key, bubbles: true }));
			keys.push([document.activeElement.id, ...shown()]);
		}
		return { names: tabs.map((t) => t.textContent), click, keys };
	})()`);

	// A heat-map cell that failed: its answer and reasons show.
	out.cell = await evaluate(`(() => {
		document.getElementById('t-cases').click();
		const r = document.querySelector('#heat rect.f') ||
		    document.querySelector('#cells rect');
		if (!r)
			return null;
		r.dispatchEvent(new MouseEvent('click', { bubbles: true }));
		const info = document.getElementById('cell-info');
		return { status: r.getAttribute('class'),
		    text: info.textContent,
		    pre: [...info.querySelectorAll('pre')].map((p) =>
		    p.textContent) };
	})()`);

	// The heat map by keyboard: one cell in the tab order, arrows move
	// it, Enter opens the cell's answers.
	out.cellkeys = await evaluate(`(() => {
		document.getElementById('t-cases').click();
		const cells = [...document.querySelectorAll('#cells rect')];
		if (cells.length < 2)
			return null;
		const data = JSON.parse(document.getElementById('bm-data')
		    .textContent);
		const tabbable = cells.filter((r) => r.tabIndex === 0).length;
		cells[0].focus();
		const key = (k) => document.activeElement.dispatchEvent(
		    new KeyboardEvent('keydown', { key: k, bubbles: true }));
		key('ArrowRight');
		const after_right = cells.indexOf(document.activeElement);
		key('End');
		const after_end = cells.indexOf(document.activeElement);
		key('Home');
		key('ArrowRight');
		key('Enter');
		const c = data.cells[1];
		const info = document.getElementById('cell-info');
		return { tabbable, after_right, after_end, last: cells.length - 1,
		    now: cells.indexOf(document.activeElement),
		    selected: cells.indexOf(document.querySelector(
		    '#cells rect.sel')),
		    title: info.querySelector('h3') &&
		    info.querySelector('h3').textContent,
		    want: data.cases[c[0]][0] };
	})()`);

	// Sorting the runs table by its "pass" column, twice.
	out.sort = await evaluate(`(() => {
		document.getElementById('t-runs').click();
		const th = [...document.querySelectorAll('#runs th')];
		const i = th.findIndex((t) => t.textContent === 'pass');
		if (i < 0)
			return null;
		const col = () => [...document.querySelectorAll(
		    '#runs tbody tr')].map((r) => Number(r.cells[i]
		    .dataset.v));
		th[i].querySelector('button').click();
		const up = col();
		th[i].querySelector('button').click();
		return { up, down: col() };
	})()`);

	if (shots) {
		fs.mkdirSync(shots, { recursive: true });
		for (const [w, h, mobile] of [[390, 844, true],
		    [1280, 800, false]]) {
			await cmd('Emulation.setDeviceMetricsOverride', { width: w,
			    height: h, deviceScaleFactor: 1, mobile });
			await evaluate(`document.getElementById('t-snapshot')
			    .click(); document.activeElement.blur()`);
			out[`width_${w}`] = await evaluate(
			    'document.documentElement.scrollWidth');
			const shot = await cmd('Page.captureScreenshot',
			    { format: 'png' });
			fs.writeFileSync(path.join(shots, `dashboard-${w}.png`),
			    Buffer.from(shot.data, 'base64'));
		}
		await evaluate(`document.getElementById('t-trends').click();
		    document.activeElement.blur()`);
		const trends = await cmd('Page.captureScreenshot',
		    { format: 'png' });
		fs.writeFileSync(path.join(shots, 'dashboard-trends-1280.png'),
		    Buffer.from(trends.data, 'base64'));
		await cmd('Emulation.setEmulatedMedia', { features:
		    [{ name: 'prefers-color-scheme', value: 'dark' }] });
		await evaluate(`document.getElementById('t-cases').click();
		    document.activeElement.blur()`);
		const shot = await cmd('Page.captureScreenshot',
		    { format: 'png' });
		fs.writeFileSync(path.join(shots, 'dashboard-dark-1280.png'),
		    Buffer.from(shot.data, 'base64'));
	}
	process.stdout.write(JSON.stringify(out) + '\n');
	ws.close();
	await cleanup();
	process.exit(0);
} catch (e) {
	await fail(e.message);
}
