#!/usr/bin/env node
// Feeds N messages into Kannel's smsbox through HTTP sendsms, with keep-alive
// connections, and prints one JSON line of figures on stdout.
//
//   node feed.js --url http://127.0.0.1:13013/cgi-bin/sendsms --n 100000 \
//                [--dlr-url http://127.0.0.1:PORT/dlr] --text TEXT [--conc 10] [--ucs2 1]
//
// Message i (0-based) says TEXT followed by i + 1 and goes to the distinct
// number 7916 + i + 1 in 7 digits (the messages of bench/smpp_throughput.sh's
// outbox rows), from short code 0650 + i % 10. With --dlr-url it asks for
// receipts: dlr-mask=3 (delivered or failed) and a dlr-url that names i, so
// the DLR sink counts each receipt once.
// smsbox's listen backlog is 10: more than 10 concurrent connections stall.
'use strict';
const http = require('http');

function parseArgs(argv) {
	const a = { conc: 10, ucs2: '0' };
	for (let i = 2; i < argv.length; i += 2) {
		const k = argv[i].replace(/^--/, ''), v = argv[i + 1];
		if (v === undefined) throw new Error(`missing value for ${argv[i]}`);
		a[k.replace(/-(.)/g, (_, c) => c.toUpperCase())] = v;
	}
	a.n = Number(a.n);
	a.conc = Number(a.conc);
	if (!a.url || !a.text || !(a.n > 0) || !(a.conc > 0))
		throw new Error('usage: feed.js --url URL [--dlr-url URL] --text TEXT --n N [--conc C] [--ucs2 1]');
	return a;
}

function query(a, i) {
	const p = new URLSearchParams({
		username: 'bench', password: 'bench',
		from: '065' + (i % 10), to: '7916' + String(i + 1).padStart(7, '0'),
		text: a.text + (i + 1),
	});
	if (a.dlrUrl) { p.set('dlr-mask', '3'); p.set('dlr-url', `${a.dlrUrl}?i=${i}&t=%d`); }
	// coding=2: UCS-2 on the air; charset: the text parameter is UTF-8.
	if (a.ucs2 === '1') { p.set('coding', '2'); p.set('charset', 'utf-8'); }
	return p.toString();
}

function main() {
	const a = parseArgs(process.argv);
	const base = new URL(a.url);
	const agent = new http.Agent({ keepAlive: true, maxSockets: a.conc });
	const res = { sent: 0, accepted: 0, rejected: 0, errors: 0, first_ms: 0, last_ms: 0, sample_error: '' };
	let next = 0;

	function one(done) {
		if (next >= a.n) return done();
		const i = next++;
		if (res.sent++ === 0) res.first_ms = Date.now();
		const req = http.get({
			agent, host: base.hostname, port: base.port,
			path: `${base.pathname}?${query(a, i)}`,
		}, (r) => {
			let body = '';
			r.setEncoding('utf8');
			r.on('data', (d) => { body += d; });
			r.on('end', () => {
				if (r.statusCode === 202 || r.statusCode === 200) res.accepted++;
				else { res.rejected++; res.sample_error ||= `${r.statusCode} ${body.trim()}`; }
				res.last_ms = Date.now();
				one(done);
			});
		});
		req.on('error', (e) => {
			res.errors++;
			res.sample_error ||= e.message;
			res.last_ms = Date.now();
			one(done);
		});
	}

	let running = a.conc;
	const finish = () => {
		if (--running > 0) return;
		agent.destroy();
		res.seconds = (res.last_ms - res.first_ms) / 1000;
		res.rate = res.seconds > 0 ? Math.round(res.accepted / res.seconds) : 0;
		process.stdout.write(JSON.stringify(res) + '\n');
	};
	for (let c = 0; c < a.conc; c++) one(finish);
}

main();
