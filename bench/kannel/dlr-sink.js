#!/usr/bin/env node
// The HTTP end point Kannel's smsbox calls for each delivery receipt (the
// dlr-url of feed.js). It records each message's receipt once and answers
// GET /stats with one JSON line:
//   {"receipts":K,"delivered":D,"failed":F,"other":O,"duplicates":U,
//    "first_ms":T0,"last_ms":T1}
// where last_ms is when the last new receipt was recorded (wall clock, the
// same clock as feed.js's first_ms).
//
//   node dlr-sink.js --n N      prints "listening on 127.0.0.1:PORT"
'use strict';
const http = require('http');

const nArg = process.argv.indexOf('--n');
const n = nArg > 0 ? Number(process.argv[nArg + 1]) : NaN;
if (!(n > 0)) {
	process.stderr.write('usage: dlr-sink.js --n N\n');
	process.exit(2);
}

const seen = new Uint8Array(n);
const st = { receipts: 0, delivered: 0, failed: 0, other: 0, duplicates: 0, bad: 0, first_ms: 0, last_ms: 0 };

const server = http.createServer((req, res) => {
	const u = new URL(req.url, 'http://x');
	if (u.pathname === '/stats') {
		res.setHeader('Content-Type', 'application/json');
		res.end(JSON.stringify(st) + '\n');
		return;
	}
	const i = Number(u.searchParams.get('i'));
	const t = Number(u.searchParams.get('t'));
	if (u.pathname !== '/dlr' || !Number.isInteger(i) || i < 0 || i >= n) {
		st.bad++;
		res.statusCode = 400;
		res.end();
		return;
	}
	// Kannel DLR types: 1 delivered, 2 failed (the two bits of dlr-mask=3).
	if (seen[i]) st.duplicates++;
	else {
		seen[i] = 1;
		st.receipts++;
		if (t === 1) st.delivered++;
		else if (t === 2) st.failed++;
		else st.other++;
		st.last_ms = Date.now();
		if (st.receipts === 1) st.first_ms = st.last_ms;
	}
	res.end('ok');
});
server.keepAliveTimeout = 60000;
server.listen(0, '127.0.0.1', () => {
	process.stdout.write(`listening on 127.0.0.1:${server.address().port}\n`);
});
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
