#!/usr/bin/env node
//
// interop.js: our SMPP against code we did not write, both ways.  Prints TAP.
//
//   node interop.js path/to/nps-smsc-sim path/to/smpp-blast
//
// 1. The npm smpp client (interface_version 0x50) binds to nps-smsc-sim,
//    submits Cyrillic, emoji and GSM-extension texts, and must read the
//    receipts and the subscribers' replies.
// 2. smpp-blast (libsmpp34) submits to smsc.js (npm smpp server), which
//    must decode every part, UDH included; an MO typed on its stdin must
//    reach smpp-blast.

'use strict';

const { spawn } = require('child_process');
const path = require('path');
const readline = require('readline');
const smpp = require('smpp');

const [simPath, blastPath] = process.argv.slice(2);
if (!simPath || !blastPath) {
	process.stderr.write('usage: node interop.js nps-smsc-sim smpp-blast\n');
	process.exit(2);
}

let n = 0;
let failed = 0;
function ok(cond, name) {
	n++;
	if (!cond)
		failed++;
	process.stdout.write(`${cond ? '' : 'not '}ok ${n} - ${name}\n`);
}

// starts a server process and resolves with its port and its stdout lines
function start(cmd, args) {
	return new Promise((resolve, reject) => {
		const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'inherit'] });
		const lines = [];
		readline.createInterface({ input: child.stdout }).on('line', (l) => {
			const m = /^listening on 127\.0\.0\.1:(\d+)/.exec(l);
			if (m)
				resolve({ child, port: Number(m[1]), lines });
			else
				lines.push(l);
		});
		child.on('error', reject);
		setTimeout(() => reject(new Error(`${cmd} did not start`)), 10000);
	});
}

function run(cmd, args) {
	return new Promise((resolve) => {
		const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
		let out = '';
		child.stdout.on('data', (d) => { out += d; });
		child.on('close', (code) => resolve({ code, out }));
	});
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function npmClientAgainstSim() {
	const sim = await start(simPath, ['--port', '0', '--reply-rate', '1',
		'--reply-min-ms', '10', '--reply-max-ms', '50', '--receipt-delay-ms', '10',
		'--password', 'secret']);
	const session = smpp.connect({ url: `smpp://127.0.0.1:${sim.port}` });
	const receipts = [];
	const replies = [];
	session.on('deliver_sm', (pdu) => {
		(pdu.esm_class & 0x04 ? receipts : replies).push(pdu);
		session.send(pdu.response());
	});
	const bind = await new Promise((r) =>
		session.bind_transceiver({ system_id: 'nps', password: 'secret' }, r));
	ok(bind.command_status === 0, 'npm client (interface_version 0x50) binds to nps-smsc-sim');

	const texts = [
		['79161110001', 'Оцените от 0 до 10 наш салон 👍'],
		['79161110002', 'Rate us: € [ ] { } ^ ~ \\ | да или нет'],
		['79161110003', 'Что нам улучшить?'],
	];
	const ids = [];
	for (const [dst, text] of texts) {
		const resp = await new Promise((r) => session.submit_sm({
			source_addr: '0653', source_addr_ton: 3, destination_addr: dst,
			dest_addr_ton: 1, dest_addr_npi: 1, registered_delivery: 1,
			short_message: text,
		}, r));
		ids.push(resp.message_id);
		ok(resp.command_status === 0 && /^[0-9a-f]+$/.test(resp.message_id),
			`submit_sm accepted: ${resp.message_id}`);
	}
	// a long comment may come in parts: count the subscribers who answered
	const answered = () => new Set(replies.map((r) => r.source_addr)).size;
	for (let i = 0; i < 50 && (receipts.length < 3 || answered() < 3); i++)
		await sleep(100);
	ok(receipts.length === 3 && receipts.every((r) =>
		ids.includes(r.receipted_message_id) && r.message_state === 2 &&
		/^id:[0-9a-f]+ sub:001 dlvrd:001 submit date:\d{10} done date:\d{10} stat:DELIVRD err:000 text:/
			.test(r.short_message.message)), 'the npm client reads three receipts');
	ok(answered() === 3 && replies.every((r) => r.destination_addr === '0653' &&
		texts.some(([dst]) => dst === r.source_addr)), 'and the three subscribers\' replies');
	const score = replies.find((r) => r.source_addr === '79161110001');
	ok(score && /\d|ноль|один|два|три|четыре|пять|шесть|семь|восемь|девять|десять/i
		.test(score.short_message.message || ''),
		`the 0-10 reply decodes: ${score && JSON.stringify(score.short_message.message)}`);
	await new Promise((r) => session.unbind(r));
	session.close();
	sim.child.kill('SIGTERM');
}

async function blastAgainstPeer() {
	const peer = await start(process.execPath, [path.join(__dirname, 'smsc.js'),
		'--port', '0', '--password', 'secret', '--receipt-delay-ms', '5']);
	const text = 'Здравствуйте! Оцените, пожалуйста, от 0 до 10, насколько вероятно, ' +
		'что вы порекомендуете наш салон друзьям?';
	const r = await run(blastPath, ['--port', String(peer.port), '--password', 'secret',
		'--count', '20', '--text', text, '--timeout-s', '20']);
	ok(r.code === 0 && /messages=20 .*receipts=40/.test(r.out),
		`smpp-blast binds to the npm SMSC and gets 40 receipts: ${r.out.trim()}`);
	const ev = peer.lines.map((l) => JSON.parse(l));
	const subs = ev.filter((e) => e.event === 'submit_sm');
	ok(subs.length === 40 && subs.every((s) => s.data_coding === 8 && s.udh.length === 1 &&
		s.udh[0].iei === 0 && s.udh[0].total === 2), 'npm smpp decodes 40 UCS-2 parts with 8-bit UDH');
	const first = subs.find((s) => s.dest === '79000000000' && s.udh[0].seq === 1);
	const second = subs.find((s) => s.dest === '79000000000' && s.udh[0].seq === 2);
	ok(first && second && first.text + second.text === `${text} #0`,
		'the parts join to the text sent');
	ok(ev.filter((e) => e.event === 'bind')[0].status === 0, 'bind accepted with the password');

	// an MO typed on the peer's stdin reaches smpp-blast
	const blast = spawn(blastPath, ['--port', String(peer.port), '--password', 'secret',
		'--count', '0', '--print-deliver', '--wait-mo', '1', '--timeout-s', '10']);
	let out = '';
	blast.stdout.on('data', (d) => { out += d; });
	await sleep(500);
	peer.child.stdin.write('mo 79161234567 0650 Десять, всё отлично!\n');
	const code = await new Promise((res) => blast.on('close', res));
	ok(code === 0 && /^mo\t79161234567\t0650\tdc=8\t.*\tДесять, всё отлично!$/m.test(out),
		'MO from the npm SMSC decoded by smpp-blast');
	peer.child.stdin.end('quit\n');
}

(async () => {
	try {
		await npmClientAgainstSim();
		await blastAgainstPeer();
	} catch (e) {
		ok(false, `interop run: ${e.message}`);
	}
	process.stdout.write(`1..${n}\n`);
	process.exit(failed ? 1 : 0);
})();
