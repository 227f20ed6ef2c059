#!/usr/bin/env node
//
// smsc.js: a second, independent SMSC for nps interop tests, on the npm
// `smpp` package (0.5.1), so our PDUs are also read by code we did not
// write.
//
//   node smsc.js --port P [--password X] [--system-id ID] [--receipt-delay-ms N]
//
// stdout: first line "listening on 127.0.0.1:PORT" (as nps-smsc-sim prints),
// then one JSON object per line: binds, each submit_sm (addresses,
// data_coding, short_message hex, UDH parts, SAR TLVs, decoded text),
// receipts and MO messages sent, deliver_sm_resp statuses.
// stdin: "mo MSISDN SHORTCODE TEXT" injects a subscriber message (long
// texts in parts with an 8-bit UDH); "quit" stops.

'use strict';

const smpp = require('smpp');
const { PDU } = require('smpp/lib/pdu');
const readline = require('readline');

const opt = { port: 2775, password: null, systemId: null, receiptDelayMs: 100 };
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
	const v = args[i + 1];
	switch (args[i]) {
		case '--port': opt.port = Number(v); i++; break;
		case '--password': opt.password = v; i++; break;
		case '--system-id': opt.systemId = v; i++; break;
		case '--receipt-delay-ms': opt.receiptDelayMs = Number(v); i++; break;
		default:
			process.stderr.write('usage: node smsc.js --port P [--password X] ' +
				'[--system-id ID] [--receipt-delay-ms N]\n');
			process.exit(2);
	}
}

const ESME_RINVPASWD = 0x0E;
const ESME_RINVSYSID = 0x0F;
const ESME_RALYBND = 0x05;
const ESME_RINVBNDSTS = 0x04;

function emit(obj) {
	process.stdout.write(JSON.stringify(obj) + '\n');
}

// Keep each PDU's raw octets: the library decodes short_message into a
// string, and we want to report what was on the wire as well.
const fromBuffer = PDU.prototype.fromBuffer;
PDU.prototype.fromBuffer = function (buffer) {
	Object.defineProperty(this, 'raw', { value: buffer, enumerable: false });
	return fromBuffer.call(this, buffer);
};

// short_message octets, found by walking the mandatory fields ourselves
function rawShortMessage(buf) {
	let pos = 16;
	const cstr = () => { const end = buf.indexOf(0, pos); pos = end + 1; };
	cstr();				// service_type
	pos += 2; cstr();	// source ton, npi, addr
	pos += 2; cstr();	// dest ton, npi, addr
	pos += 3;			// esm_class, protocol_id, priority_flag
	cstr(); cstr();		// schedule_delivery_time, validity_period
	pos += 4;			// registered_delivery .. sm_default_msg_id
	const len = buf[pos];
	return buf.slice(pos + 1, pos + 1 + len);
}

// concatenation IEs in the library's UDH list
function udhParts(udhList) {
	return (udhList || []).map((ie) => {
		if (ie[0] === 0x00 && ie[1] === 3)
			return { iei: 0, ref: ie[2], total: ie[3], seq: ie[4] };
		if (ie[0] === 0x08 && ie[1] === 4)
			return { iei: 8, ref: ie.readUInt16BE(2), total: ie[4], seq: ie[5] };
		return { iei: ie[0], hex: ie.toString('hex') };
	});
}

let nextId = Date.now();
const sessions = new Set();

function receiverFor(session) {
	if (session.bound === 'transceiver' || session.bound === 'receiver')
		return session;
	for (const s of sessions)
		if ((s.bound === 'transceiver' || s.bound === 'receiver') &&
			s.systemId === session.systemId)
			return s;
	return null;
}

function anyReceiver() {
	for (const s of sessions)
		if (s.bound === 'transceiver' || s.bound === 'receiver')
			return s;
	return null;
}

function yymmddhhmm(d) {
	const p = (n) => String(n).padStart(2, '0');
	return p(d.getUTCFullYear() % 100) + p(d.getUTCMonth() + 1) + p(d.getUTCDate()) +
		p(d.getUTCHours()) + p(d.getUTCMinutes());
}

function sendDeliver(session, fields, what) {
	session.deliver_sm(fields, (resp) => {
		emit({ event: 'deliver_sm_resp', what, seq: resp.sequence_number,
			status: resp.command_status });
	});
}

function onSubmit(session, pdu) {
	if (session.bound !== 'transceiver' && session.bound !== 'transmitter') {
		session.send(pdu.response({ command_status: ESME_RINVBNDSTS }));
		return;
	}
	const id = (nextId++).toString(16);
	session.send(pdu.response({ message_id: id }));
	const sm = pdu.short_message || {};
	const rec = {
		event: 'submit_sm',
		system_id: session.systemId,
		seq: pdu.sequence_number,
		message_id: id,
		source: pdu.source_addr,
		source_ton: pdu.source_addr_ton,
		dest: pdu.destination_addr,
		dest_ton: pdu.dest_addr_ton,
		data_coding: pdu.data_coding,
		esm_class: pdu.esm_class,
		registered_delivery: pdu.registered_delivery,
		short_message_hex: pdu.raw ? rawShortMessage(pdu.raw).toString('hex') : null,
		udh: udhParts(sm.udh),
		text: typeof sm.message === 'string' ? sm.message : null,
	};
	if (pdu.sar_msg_ref_num !== undefined)
		rec.sar = { ref: pdu.sar_msg_ref_num, total: pdu.sar_total_segments,
			seq: pdu.sar_segment_seqnum };
	if (pdu.message_payload !== undefined)
		rec.message_payload = pdu.message_payload.message !== undefined ?
			pdu.message_payload.message : pdu.message_payload;
	emit(rec);

	if ((pdu.registered_delivery & 0x03) !== 1)
		return;
	setTimeout(() => {
		const to = receiverFor(session);
		if (!to)
			return;
		const now = yymmddhhmm(new Date());
		const text = `id:${id} sub:001 dlvrd:001 submit date:${now} done date:${now} ` +
			'stat:DELIVRD err:000 text:';
		sendDeliver(to, {
			source_addr: pdu.destination_addr,
			dest_addr_ton: pdu.source_addr_ton,
			destination_addr: pdu.source_addr,
			esm_class: 0x04,
			data_coding: 0,
			short_message: text,
			receipted_message_id: id,
			message_state: 2,
		}, 'receipt');
		emit({ event: 'receipt', message_id: id });
	}, opt.receiptDelayMs);
}

// Splits a text as a handset would: 153 GSM septets or 67 UCS-2 units a
// part, never inside a surrogate pair
function splitText(text) {
	const gsm = smpp.encodings.ASCII.match(text);
	const per = gsm ? 153 : 67;
	const whole = gsm ? smpp.encodings.ASCII.encode(text).length : text.length;
	if (whole <= (gsm ? 160 : 70))
		return [text];
	const parts = [];
	let cur = '';
	for (const ch of text) {		// iterates code points
		const cost = gsm ? smpp.encodings.ASCII.encode(ch).length : ch.length;
		const used = gsm ? smpp.encodings.ASCII.encode(cur).length : cur.length;
		if (used + cost > per) {
			parts.push(cur);
			cur = '';
		}
		cur += ch;
	}
	parts.push(cur);
	return parts;
}

let moRef = 0;

function injectMo(msisdn, shortcode, text) {
	const to = anyReceiver();
	if (!to) {
		emit({ event: 'error', message: 'no receiver bound' });
		return;
	}
	const parts = splitText(text);
	const ref = moRef++ & 0xFF;
	parts.forEach((part, i) => {
		const fields = {
			source_addr_ton: 1,
			source_addr_npi: 1,
			source_addr: msisdn,
			destination_addr: shortcode,
			short_message: parts.length === 1 ? part :
				{ udh: Buffer.from([5, 0, 3, ref, parts.length, i + 1]), message: part },
		};
		sendDeliver(to, fields, 'mo');
	});
	emit({ event: 'mo', source: msisdn, dest: shortcode, parts: parts.length, text });
}

function onBind(session, pdu, kind) {
	let status = 0;
	if (session.bound)
		status = ESME_RALYBND;
	else if (opt.systemId !== null && pdu.system_id !== opt.systemId)
		status = ESME_RINVSYSID;
	else if (opt.password !== null && pdu.password !== opt.password)
		status = ESME_RINVPASWD;
	emit({ event: 'bind', command: pdu.command, system_id: pdu.system_id,
		interface_version: pdu.interface_version, status });
	if (status) {
		session.send(pdu.response({ command_status: status }));
		return;
	}
	session.bound = kind;
	session.systemId = pdu.system_id;
	session.send(pdu.response({ system_id: 'npspeer' }));
}

const server = smpp.createServer((session) => {
	sessions.add(session);
	session.on('close', () => sessions.delete(session));
	session.on('error', (e) => emit({ event: 'error', message: String(e.message || e) }));
	session.on('bind_transceiver', (pdu) => onBind(session, pdu, 'transceiver'));
	session.on('bind_transmitter', (pdu) => onBind(session, pdu, 'transmitter'));
	session.on('bind_receiver', (pdu) => onBind(session, pdu, 'receiver'));
	session.on('submit_sm', (pdu) => onSubmit(session, pdu));
	session.on('enquire_link', (pdu) => session.send(pdu.response()));
	session.on('unbind', (pdu) => {
		session.send(pdu.response());
		session.close();
	});
	session.on('unknown', (pdu) => session.send(pdu.response()));
});

server.listen(opt.port, '127.0.0.1', () => {
	process.stdout.write(`listening on 127.0.0.1:${server.address().port}\n`);
});

function stop() {
	for (const s of sessions)
		s.destroy();
	server.close(() => process.exit(0));
	setTimeout(() => process.exit(0), 500).unref();
}

process.on('SIGTERM', stop);
process.on('SIGINT', stop);

readline.createInterface({ input: process.stdin }).on('line', (line) => {
	const m = /^mo\s+(\S+)\s+(\S+)\s+(.+)$/.exec(line);
	if (m)
		injectMo(m[1], m[2], m[3]);
	else if (line.trim() === 'quit')
		stop();
	else if (line.trim())
		emit({ event: 'error', message: `unknown command: ${line}` });
});
