'use strict';
// How many submit_sm per second the simulator answers on one bind: binds as a
// transceiver, keeps a window of outstanding submit_sm full for a while, answers the
// receipts, and prints what it measured as one JSON line. It writes and reads the PDUs
// itself (no node-smpp) so that the client costs little next to the simulator.
//
//   node load.js --port PORT --system-id ID --password PW [--window 10] [--seconds 5]

const net = require('net');

const BIND_TRANSCEIVER = 0x00000009;
const SUBMIT_SM = 0x00000004;
const DELIVER_SM = 0x00000005;
const RESPONSE = 0x80000000;

function parseCommandLine(argv) {
	const options = { host: '127.0.0.1', window: 10, seconds: 5 };
	for (let i = 0; i + 1 < argv.length; i += 2) {
		options[argv[i].replace(/^--/, '').replace(/-/g, '_')] = argv[i + 1];
	}
	for (const name of ['port', 'window', 'seconds']) options[name] = Number(options[name]);
	if (!options.port || !options.system_id || options.password === undefined) {
		process.stderr.write('usage: node load.js --port PORT --system-id ID --password PW [--window 10] [--seconds 5]\n');
		process.exit(2);
	}
	return options;
}

function pdu(commandId, sequence, body) {
	const header = Buffer.alloc(16);
	header.writeUInt32BE(16 + body.length, 0);
	header.writeUInt32BE(commandId, 4);
	header.writeUInt32BE(sequence, 12);
	return Buffer.concat([header, body]);
}

const cstring = (text) => Buffer.from(text + '\0', 'latin1');

function bindBody(options) {
	// system_id, password, system_type, interface_version 0x34, addr_ton, addr_npi, address_range
	return Buffer.concat([cstring(options.system_id), cstring(options.password), cstring(''),
		Buffer.from([0x34, 0, 0]), cstring('')]);
}

function submitBody(text) {
	const message = Buffer.from(text, 'latin1');
	return Buffer.concat([
		cstring(''), Buffer.from([5, 0]), cstring('SCEAU'), Buffer.from([1, 1]), cstring('33612345678'),
		// esm_class, protocol_id, priority_flag, schedule_delivery_time, validity_period
		Buffer.from([0, 0, 0]), cstring(''), cstring(''),
		// registered_delivery, replace_if_present_flag, data_coding, sm_default_msg_id, sm_length
		Buffer.from([1, 0, 0, 0, message.length]), message,
	]);
}

const options = parseCommandLine(process.argv.slice(2));
const counts = { submitted: 0, answered: 0, refused: 0, receipts: 0 };
let sequence = 1;
let outstanding = 0;
let started = 0;
let stopAt = 0;
let pending = Buffer.alloc(0);

const socket = net.connect({ host: options.host, port: options.port }, () => {
	socket.setNoDelay(true);
	socket.write(pdu(BIND_TRANSCEIVER, sequence++, bindBody(options)));
});
socket.on('error', (error) => {
	process.stderr.write('load: ' + error.message + '\n');
	process.exit(1);
});
socket.on('data', (data) => {
	pending = pending.length ? Buffer.concat([pending, data]) : data;
	const out = [];
	while (pending.length >= 16 && pending.length >= pending.readUInt32BE(0)) {
		const length = pending.readUInt32BE(0);
		onPdu(pending.readUInt32BE(4), pending.readUInt32BE(8), pending.readUInt32BE(12), out);
		pending = pending.subarray(length);
	}
	fill(out);
	if (out.length) socket.write(Buffer.concat(out));
});

function onPdu(commandId, status, sequenceNumber, out) {
	if (commandId === RESPONSE + BIND_TRANSCEIVER) {
		if (status !== 0) {
			process.stderr.write('load: bind refused with status ' + status + '\n');
			process.exit(1);
		}
		started = Date.now();
		stopAt = started + options.seconds * 1000;
		setTimeout(finish, options.seconds * 1000 + 200);
	} else if (commandId === RESPONSE + SUBMIT_SM) {
		outstanding--;
		if (status === 0) counts.answered++;
		else counts.refused++;
	} else if (commandId === DELIVER_SM) {
		counts.receipts++;
		out.push(pdu(RESPONSE + DELIVER_SM, sequenceNumber, cstring('')));
	}
}

function fill(out) {
	while (started && outstanding < options.window && Date.now() < stopAt) {
		outstanding++;
		counts.submitted++;
		out.push(pdu(SUBMIT_SM, sequence++, submitBody('Your seal: 123456 ' + counts.submitted)));
	}
}

function finish() {
	const seconds = (Date.now() - started) / 1000;
	process.stdout.write(JSON.stringify(Object.assign({
		window: options.window, seconds,
		answered_per_second: Math.round(counts.answered / options.seconds),
		receipts_per_second: Math.round(counts.receipts / options.seconds),
	}, counts)) + '\n');
	socket.destroy();
}
