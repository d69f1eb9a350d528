'use strict';
// An SMSC (SMPP 3.4) for sceau's tests and channel benchmark, written on node-smpp.
//
//   node smsc.js --system-id ID --password PW [--port 0] [--control-port 0] [--quiet]
//                [--first-id N] [--SETTING VALUE ...]
//
// It listens for SMPP and for a JSON control API on 127.0.0.1, prints the ports it got as
// one line, {"smpp":PORT,"control":PORT}, and nothing else on stdout (logs go to stderr).
// Every SETTING below can be given on the command line (--receipt-delay-ms 5) or changed
// later with {"command":"set","receipt_delay_ms":5}.
//
// Control API:
//   GET  /messages  every accepted submit_sm, grouped into messages (concatenated parts
//                   reassembled), each part with the receipt sent for it
//   GET  /stats     counters and the open binds
//   POST /control   one JSON command, answered {"ok":true,...} or 400 {"error":"..."}:
//     {"command":"set", SETTING: VALUE, ...}      change settings (see SETTINGS)
//     {"command":"throttle","count":N}            the next N submit_sm get ESME_RTHROTTLED
//     {"command":"reject","count":N,"status":S}   the next N submit_sm get status S
//     {"command":"silence","on":true|false}       read everything, answer and send nothing
//     {"command":"enquire_link"}                  one enquire_link to every bind ({"sent":n})
//     {"command":"close_all"}                     close every connection ({"closed":n})
//     {"command":"down"}                          refuse connections (stop listening)
//     {"command":"down","refuse":"binds"}         accept connections, answer binds ESME_RBINDFAIL
//     {"command":"up"}                            accept again, on the same port
//     {"command":"release_receipts"}              send the receipts held ({"released":n})
//     {"command":"reset"}                         forget messages and counters (not settings)
//
// The text of each part is decoded here, independently of node-smpp and of the client:
// GSM 03.38 (default alphabet and extension table, one septet per octet) for
// data_coding 0, UTF-16BE for 8, ASCII for 1, Latin-1 for 3.

const http = require('http');
const smpp = require('smpp');

// Keep the octets as they came: the simulator decodes texts and times itself.
delete smpp.commands.submit_sm.params.short_message.filter;
delete smpp.commands.submit_sm.params.validity_period.filter;
delete smpp.commands.submit_sm.params.schedule_delivery_time.filter;
delete smpp.tlvs.message_payload.filter;

// node-smpp accepts a command_length under the header's 16 octets and then waits or
// misreads; such a stream is garbage: refuse it like an oversized one.
const readCommandLength = smpp.PDU.commandLength;
smpp.PDU.commandLength = function (stream) {
	const length = readCommandLength(stream);
	if (length !== false && length < 16) {
		throw new Error('PDU length was too small (' + length + ')');
	}
	return length;
};

const ESM_CLASS_UDH_INDICATOR = 0x40;
const ESM_CLASS_DELIVERY_RECEIPT = 0x04;
const MESSAGE_STATES = {
	DELIVRD: 2, EXPIRED: 3, DELETED: 4, UNDELIV: 5, ACCEPTD: 6, UNKNOWN: 7, REJECTD: 8,
};

// ---------------------------------------------------------------- settings

const oneOf = (...values) => (value) => {
	if (!values.includes(value)) throw new Error('must be one of ' + values.join(', '));
	return value;
};
const flag = (value) => {
	if (value === true || value === 'yes' || value === 'true') return true;
	if (value === false || value === 'no' || value === 'false') return false;
	throw new Error('must be true or false');
};
const count = (value) => {
	const number = Number(value);
	if (!Number.isSafeInteger(number) || number < 0) throw new Error('must be an integer >= 0');
	return number;
};
const threeDigits = (value) => {
	if (!/^[0-9]{3}$/.test(String(value))) throw new Error('must be three digits');
	return String(value);
};

// Each setting: its parser and its default.
const SETTINGS = {
	id_format: [oneOf('decimal', 'hex-upper', 'hex-lower'), 'hex-upper'],
	// same: on the submitting bind (or, once it is gone, another receiving bind of the
	// system_id); other: only on another receiving bind of the system_id, receivers first;
	// none: never. Receipts with no bind to go to wait for one.
	receipts: [oneOf('same', 'other', 'none'), 'same'],
	// How the text's "id:" writes the id: as submit_sm_resp gave it, or in decimal.
	receipt_id_form: [oneOf('same', 'decimal', 'decimal-padded'), 'same'],
	receipt_tlvs: [flag, true],
	receipt_stat: [oneOf(...Object.keys(MESSAGE_STATES)), 'DELIVRD'],
	receipt_err: [threeDigits, '000'],
	receipt_delay_ms: [count, 0],
	hold_receipts: [flag, false],
	response_delay_ms: [count, 0],
};

function applySettings(settings, changes) {
	for (const [name, value] of Object.entries(changes)) {
		if (!SETTINGS[name]) throw new Error('unknown setting ' + name);
		try {
			settings[name] = SETTINGS[name][0](value);
		} catch (error) {
			throw new Error(name + ' ' + error.message);
		}
	}
}

function parseCommandLine(argv) {
	const options = { port: 0, control_port: 0, quiet: false, first_id: 0x1a2b3c00, settings: {} };
	for (const [name, [, value]] of Object.entries(SETTINGS)) options.settings[name] = value;
	const changes = {};
	for (let i = 0; i < argv.length; i++) {
		const name = argv[i].replace(/^--/, '').replace(/-/g, '_');
		if (!argv[i].startsWith('--')) throw new Error('unexpected argument ' + argv[i]);
		if (name === 'quiet') { options.quiet = true; continue; }
		if (i + 1 >= argv.length) throw new Error(argv[i] + ' needs a value');
		const value = argv[++i];
		if (name === 'system_id' || name === 'password') options[name] = value;
		else if (name === 'port' || name === 'control_port' || name === 'first_id') options[name] = count(value);
		else changes[name] = value;
	}
	if (options.system_id === undefined || options.password === undefined) {
		throw new Error('--system-id and --password are required');
	}
	applySettings(options.settings, changes);
	return options;
}

// ---------------------------------------------------------------- decoding

// GSM 03.38 default alphabet; 0x1B is the escape to the extension table.
const GSM_BASIC =
	'@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?' +
	'¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà';
const GSM_EXTENSION = {
	0x0a: '\f', 0x14: '^', 0x28: '{', 0x29: '}', 0x2f: '\\',
	0x3c: '[', 0x3d: '~', 0x3e: ']', 0x40: '|', 0x65: '€',
};

function decodeGsm(octets) {
	let text = '';
	const errors = [];
	for (let i = 0; i < octets.length; i++) {
		const septet = octets[i];
		if (septet > 0x7f) {
			errors.push('octet 0x' + septet.toString(16) + ' is not a septet (at ' + i + ')');
			text += '\ufffd';
		} else if (septet !== 0x1b) {
			text += GSM_BASIC[septet];
		} else if (i + 1 === octets.length) {
			errors.push('escape at the end of the part');
		} else {
			const next = octets[++i];
			// 23.038: an unknown extension shows the default alphabet's character.
			text += GSM_EXTENSION[next] || (next <= 0x7f && next !== 0x1b ? GSM_BASIC[next] : '\ufffd');
		}
	}
	return { text, errors };
}

function decodeUtf16(octets) {
	const errors = [];
	if (octets.length % 2 !== 0) errors.push('odd number of octets in UTF-16');
	const units = [];
	for (let i = 0; i + 1 < octets.length; i += 2) units.push(octets.readUInt16BE(i));
	const first = units[0];
	const last = units[units.length - 1];
	if (first >= 0xdc00 && first <= 0xdfff) errors.push('low surrogate at the start of the part');
	if (last >= 0xd800 && last <= 0xdbff) errors.push('high surrogate at the end of the part');
	// A surrogate alone is not a character (nor valid in JSON): U+FFFD stands for it.
	const lone = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
	const text = String.fromCharCode(...units);
	if (lone.test(text) && errors.length === 0) errors.push('surrogate alone in the part');
	return { text: text.replace(lone, '\ufffd'), errors };
}

function decodeText(dataCoding, octets) {
	switch (dataCoding) {
		case 0: return decodeGsm(octets);
		case 1: return { text: octets.toString('ascii'), errors: [] };
		case 3: return { text: octets.toString('latin1'), errors: [] };
		case 8: return decodeUtf16(octets);
		default: return { text: null, errors: ['data_coding ' + dataCoding + ' not decoded'] };
	}
}

// The user data header's concatenation element (8- or 16-bit reference), if any.
function splitUdh(octets) {
	const length = octets[0];
	if (octets.length === 0 || length + 1 > octets.length) {
		return { udh: null, body: octets, errors: ['UDH longer than the message'] };
	}
	const errors = [];
	let udh = null;
	for (let at = 1; at + 1 < length + 1;) {
		const element = octets[at];
		const size = octets[at + 1];
		const data = octets.subarray(at + 2, at + 2 + size);
		if (at + 2 + size > length + 1) { errors.push('UDH element overruns the header'); break; }
		if (element === 0x00 && size === 3) udh = { ref: data[0], total: data[1], seq: data[2] };
		if (element === 0x08 && size === 4) udh = { ref: data.readUInt16BE(0), total: data[2], seq: data[3] };
		at += 2 + size;
	}
	if (udh && (udh.total === 0 || udh.seq === 0 || udh.seq > udh.total)) {
		errors.push('concatenation part ' + udh.seq + ' of ' + udh.total);
	}
	return { udh, body: octets.subarray(length + 1), errors };
}

// ---------------------------------------------------------------- state

function newStats() {
	return {
		connections: 0, binds_total: 0, binds_refused: 0, unbinds: 0, dropped: 0,
		submits: 0, accepted: 0, throttled: 0, rejected: 0, ignored: 0, refused_unbound: 0, refused_short: 0,
		receipts_sent: 0, receipts_answered: 0,
		enquire_links_received: 0, enquire_links_sent: 0, enquire_links_answered: 0,
		outstanding_max: 0,
	};
}

let options;
try {
	options = parseCommandLine(process.argv.slice(2));
} catch (error) {
	process.stderr.write('smsc: ' + error.message + '\n');
	process.exit(2);
}
const settings = options.settings;
const log = options.quiet ? () => {} : (...words) => process.stderr.write('smsc: ' + words.join(' ') + '\n');

const state = {
	nextId: options.first_id,
	nextConnection: 1,
	connections: new Set(),
	messages: [], // in arrival order of their first part
	incomplete: new Map(), // concatenation key -> message still missing parts
	waitingReceipts: [], // parts whose receipt has no bind to go to yet
	heldReceipts: [], // parts whose receipt waits for release_receipts
	throttle: 0,
	reject: 0,
	rejectStatus: 0,
	silent: false,
	down: null, // null, 'connections' or 'binds'
	stats: newStats(),
};

// ---------------------------------------------------------------- SMPP

const BINDS = { bind_transceiver: 'transceiver', bind_transmitter: 'transmitter', bind_receiver: 'receiver' };

function onPdu(conn, pdu) {
	if (state.silent) {
		if (pdu.command === 'submit_sm') {
			state.stats.submits++;
			state.stats.ignored++;
			countOutstanding(conn, 1);
		}
		return;
	}
	if (BINDS[pdu.command]) return onBind(conn, pdu);
	switch (pdu.command) {
		case 'submit_sm': return onSubmit(conn, pdu);
		case 'enquire_link':
			state.stats.enquire_links_received++;
			return conn.session.send(pdu.response());
		case 'unbind':
			state.stats.unbinds++;
			conn.type = null;
			return conn.session.send(pdu.response(), () => conn.session.close());
		default:
			if (pdu.isResponse()) return; // answers to our deliver_sm and enquire_link
			conn.session.send(new smpp.PDU('generic_nack', {
				sequence_number: pdu.sequence_number, command_status: smpp.ESME_RINVCMDID,
			}));
	}
}

function onBind(conn, pdu) {
	let status = 0;
	if (conn.type) status = smpp.ESME_RALYBND;
	else if (state.down === 'binds' || pdu.system_id !== options.system_id) status = smpp.ESME_RBINDFAIL;
	else if (pdu.password !== options.password) status = smpp.ESME_RINVPASWD;
	conn.session.send(pdu.response({ command_status: status, system_id: 'SCEAUSMSC' }));
	if (status !== 0) {
		state.stats.binds_refused++;
		log('bind', conn.id, 'refused with status 0x' + status.toString(16));
		return;
	}
	state.stats.binds_total++;
	conn.system_id = pdu.system_id;
	conn.type = BINDS[pdu.command];
	log('bind', conn.id, 'as', conn.type);
	sendWaitingReceipts();
}

function countOutstanding(conn, change) {
	conn.outstanding += change;
	state.stats.outstanding_max = Math.max(state.stats.outstanding_max, conn.outstanding);
}

function onSubmit(conn, pdu) {
	state.stats.submits++;
	countOutstanding(conn, 1);
	if (conn.type !== 'transceiver' && conn.type !== 'transmitter') {
		state.stats.refused_unbound++;
		return answerSubmit(conn, pdu, smpp.ESME_RINVBNDSTS);
	}
	if (pdu.short_message === undefined) { // the PDU ended before its last mandatory field
		state.stats.refused_short++;
		return answerSubmit(conn, pdu, smpp.ESME_RINVCMDLEN);
	}
	if (state.throttle > 0) {
		state.throttle--;
		state.stats.throttled++;
		return answerSubmit(conn, pdu, smpp.ESME_RTHROTTLED);
	}
	if (state.reject > 0) {
		state.reject--;
		state.stats.rejected++;
		return answerSubmit(conn, pdu, state.rejectStatus);
	}
	state.stats.accepted++;
	const part = recordPart(conn, pdu, formatId(state.nextId++));
	answerSubmit(conn, pdu, 0, part, () => sendReceiptLater(part));
}

function formatId(number) {
	if (settings.id_format === 'decimal') return String(number);
	const hex = number.toString(16);
	return settings.id_format === 'hex-upper' ? hex.toUpperCase() : hex;
}

function answerSubmit(conn, pdu, status, part, then) {
	const answer = () => {
		conn.outstanding--;
		const response = pdu.response(status ? { command_status: status } : { message_id: part.message_id });
		// A message accepted is delivered (and receipted) even when its answer is lost.
		if (!conn.session.send(response, then) && then) then();
	};
	if (settings.response_delay_ms > 0) setTimeout(answer, settings.response_delay_ms);
	else answer();
}

function address(ton, npi, addr) {
	return { addr, ton, npi };
}

function recordPart(conn, pdu, messageId) {
	let octets = pdu.short_message || Buffer.alloc(0);
	if (octets.length === 0 && Buffer.isBuffer(pdu.message_payload)) octets = pdu.message_payload;
	let udh = null;
	const errors = [];
	if (pdu.esm_class & ESM_CLASS_UDH_INDICATOR) {
		const split = splitUdh(octets);
		udh = split.udh;
		octets = split.body;
		errors.push(...split.errors);
	} else if (pdu.sar_msg_ref_num !== undefined) {
		udh = { ref: pdu.sar_msg_ref_num, total: pdu.sar_total_segments, seq: pdu.sar_segment_seqnum };
	}
	const decoded = decodeText(pdu.data_coding, octets);
	const part = {
		message_id: messageId,
		system_id: conn.system_id,
		bind: conn.id,
		sequence_number: pdu.sequence_number,
		received_at: new Date().toISOString(),
		service_type: pdu.service_type,
		source: address(pdu.source_addr_ton, pdu.source_addr_npi, pdu.source_addr),
		destination: address(pdu.dest_addr_ton, pdu.dest_addr_npi, pdu.destination_addr),
		esm_class: pdu.esm_class,
		protocol_id: pdu.protocol_id,
		priority_flag: pdu.priority_flag,
		schedule_delivery_time: pdu.schedule_delivery_time,
		validity_period: pdu.validity_period,
		registered_delivery: pdu.registered_delivery,
		data_coding: pdu.data_coding,
		udh,
		octets: octets.toString('hex'),
		text: decoded.text,
		errors: errors.concat(decoded.errors),
		receipt: null,
	};
	addToMessage(part);
	return part;
}

// Parts of one concatenated message share source, destination, reference and total; a
// part whose number the message already has starts another message (a resend, or the
// reference reused).
function addToMessage(part) {
	const udh = part.udh;
	if (!udh || udh.total <= 1) {
		state.messages.push(newMessage(part, null, 1));
		return;
	}
	const key = [part.system_id, part.source.addr, part.destination.addr, udh.ref, udh.total].join('\0');
	let message = state.incomplete.get(key);
	if (!message || message.parts.some((other) => other.udh.seq === udh.seq)) {
		message = newMessage(part, udh.ref, udh.total);
		state.messages.push(message);
		state.incomplete.set(key, message);
	} else {
		message.parts.push(part);
	}
	if (message.parts.length === udh.total) state.incomplete.delete(key);
}

function newMessage(part, ref, total) {
	return { source: part.source, destination: part.destination, ref, total, parts: [part] };
}

function describeMessage(message) {
	const bySeq = message.parts.slice().sort((a, b) => (a.udh ? a.udh.seq : 1) - (b.udh ? b.udh.seq : 1));
	const complete = message.parts.length === message.total;
	const texts = bySeq.map((part) => part.text);
	return {
		source: message.source,
		destination: message.destination,
		ref: message.ref,
		total: message.total,
		complete,
		text: complete && texts.every((text) => text !== null) ? texts.join('') : null,
		parts: message.parts,
	};
}

// ---------------------------------------------------------------- receipts

function sendReceiptLater(part) {
	const wanted = part.registered_delivery & 0x03;
	const stat = settings.receipt_stat;
	if (settings.receipts === 'none' || wanted === 0 || (wanted === 2 && stat === 'DELIVRD')) return;
	part.receipt = {
		state: 'scheduled', stat, err: settings.receipt_err, to: settings.receipts,
		id_form: settings.receipt_id_form, tlvs: settings.receipt_tlvs,
		text: null, bind: null, attempts: 0, response_status: null,
	};
	if (settings.hold_receipts) {
		part.receipt.state = 'held';
		state.heldReceipts.push(part);
	} else if (settings.receipt_delay_ms > 0) {
		setTimeout(() => sendReceipt(part), settings.receipt_delay_ms);
	} else {
		sendReceipt(part);
	}
}

function receivingBind(part, to) {
	const candidates = [...state.connections].filter((conn) => conn.session.socket.writable &&
		conn.system_id === part.system_id && (conn.type === 'transceiver' || conn.type === 'receiver'));
	if (to === 'same') {
		return candidates.find((conn) => conn.id === part.bind) || candidates[0];
	}
	const others = candidates.filter((conn) => conn.id !== part.bind);
	return others.find((conn) => conn.type === 'receiver') || others[0];
}

function receiptText(part, receipt, now) {
	const number = parseInt(part.message_id, settings.id_format === 'decimal' ? 10 : 16);
	let id = part.message_id;
	if (receipt.id_form === 'decimal') id = String(number);
	if (receipt.id_form === 'decimal-padded') id = String(number).padStart(10, '0');
	const date = (iso) => iso.slice(2, 4) + iso.slice(5, 7) + iso.slice(8, 10) + iso.slice(11, 13) + iso.slice(14, 16);
	// Characters written the same in GSM 03.38 and ASCII only.
	const excerpt = (part.text || '').slice(0, 20).replace(/[^A-Za-z0-9 !"#%&'()*+,\-./:;<=>?]/g, '.');
	return 'id:' + id + ' sub:001 dlvrd:' + (receipt.stat === 'DELIVRD' ? '001' : '000') +
		' submit date:' + date(part.received_at) + ' done date:' + date(now) +
		' stat:' + receipt.stat + ' err:' + receipt.err + ' text:' + excerpt;
}

// A receipt not answered is sent again on the next bind, up to this many times in all.
const RECEIPT_ATTEMPTS_MAX = 5;

function sendReceipt(part) {
	const receipt = part.receipt;
	if (receipt.attempts >= RECEIPT_ATTEMPTS_MAX) {
		receipt.state = 'abandoned';
		return;
	}
	const conn = state.silent ? null : receivingBind(part, receipt.to);
	if (!conn) {
		receipt.state = 'waiting';
		state.waitingReceipts.push(part);
		return;
	}
	receipt.text = receiptText(part, receipt, new Date().toISOString());
	const fields = {
		source_addr_ton: part.destination.ton, source_addr_npi: part.destination.npi,
		source_addr: part.destination.addr,
		dest_addr_ton: part.source.ton, dest_addr_npi: part.source.npi, destination_addr: part.source.addr,
		esm_class: ESM_CLASS_DELIVERY_RECEIPT, data_coding: 0,
		short_message: Buffer.from(receipt.text, 'ascii'),
	};
	if (receipt.tlvs) {
		fields.receipted_message_id = part.message_id;
		fields.message_state = MESSAGE_STATES[receipt.stat];
	}
	const pdu = new smpp.PDU('deliver_sm', fields);
	const written = conn.session.send(pdu, (response) => {
		conn.receiptsInFlight.delete(pdu.sequence_number);
		receipt.state = 'answered';
		receipt.response_status = response.command_status;
		state.stats.receipts_answered++;
	});
	if (!written) {
		receipt.state = 'waiting';
		state.waitingReceipts.push(part);
		return;
	}
	receipt.state = 'sent';
	receipt.bind = conn.id;
	receipt.attempts++;
	state.stats.receipts_sent++;
	conn.receiptsInFlight.set(pdu.sequence_number, part);
}

function sendWaitingReceipts() {
	const waiting = state.waitingReceipts;
	state.waitingReceipts = [];
	waiting.forEach(sendReceipt);
}

// ---------------------------------------------------------------- connections

function drop(conn, error) {
	if (conn.dropped || conn.closed) return;
	conn.dropped = true;
	conn.type = null;
	state.stats.dropped++;
	log('connection', conn.id, 'dropped:', error.message);
	conn.session.destroy();
}

function onClose(conn) {
	if (conn.closed) return;
	conn.closed = true;
	conn.type = null;
	state.connections.delete(conn);
	log('connection', conn.id, 'closed');
	// Receipts the client did not answer go again, to another bind.
	const unanswered = [...conn.receiptsInFlight.values()];
	conn.receiptsInFlight.clear();
	for (const part of unanswered) {
		part.receipt.state = 'waiting';
		state.waitingReceipts.push(part);
	}
	sendWaitingReceipts();
}

function onConnection(session) {
	const conn = {
		id: state.nextConnection++, session, dropped: false, closed: false, system_id: null, type: null,
		outstanding: 0, receiptsInFlight: new Map(), enquire_links_sent: 0, enquire_links_answered: 0,
	};
	state.connections.add(conn);
	state.stats.connections++;
	// Answers to the PDUs of one read leave in one write.
	session.socket.setNoDelay(true);
	session.socket.prependListener('readable', () => {
		session.socket.cork();
		process.nextTick(() => session.socket.uncork());
	});
	session.on('pdu', (pdu) => {
		try {
			onPdu(conn, pdu);
		} catch (error) {
			drop(conn, error);
		}
	});
	session.on('error', (error) => drop(conn, error));
	session.on('close', () => onClose(conn));
}

// ---------------------------------------------------------------- control

// A command's field, read with one of the settings' parsers.
function field(body, name, parse) {
	try {
		return parse(body[name]);
	} catch (error) {
		throw new Error(name + ' ' + error.message);
	}
}

const COMMANDS = {
	set: (body) => { applySettings(settings, without(body, 'command')); return { settings }; },
	throttle: (body) => { state.throttle = field(body, 'count', count); return {}; },
	reject: (body) => {
		const status = field(body, 'status', count);
		if (status === 0 || status > 0xffffffff) throw new Error('status must be a non-zero command_status');
		state.reject = field(body, 'count', count);
		state.rejectStatus = status;
		return {};
	},
	silence: (body) => {
		state.silent = field(body, 'on', flag);
		if (!state.silent) sendWaitingReceipts();
		return {};
	},
	enquire_link: () => {
		const bound = [...state.connections].filter((conn) => conn.type);
		for (const conn of bound) {
			conn.enquire_links_sent++;
			state.stats.enquire_links_sent++;
			conn.session.enquire_link(() => {
				conn.enquire_links_answered++;
				state.stats.enquire_links_answered++;
			});
		}
		return { sent: bound.length };
	},
	close_all: () => {
		const open = [...state.connections];
		open.forEach((conn) => conn.session.destroy());
		return { closed: open.length };
	},
	down: async (body) => {
		const refuse = body.refuse === undefined ? 'connections' : field(body, 'refuse', oneOf('connections', 'binds'));
		if (refuse === 'connections' && state.down !== 'connections') smppServer.close();
		if (refuse === 'binds' && state.down === 'connections') await listen(smppServer, smppPort);
		state.down = refuse;
		return {};
	},
	up: async () => {
		if (state.down === 'connections') await listen(smppServer, smppPort);
		state.down = null;
		return {};
	},
	release_receipts: () => {
		const held = state.heldReceipts;
		state.heldReceipts = [];
		held.forEach(sendReceipt);
		return { released: held.length };
	},
	reset: () => {
		Object.assign(state, {
			messages: [], incomplete: new Map(), waitingReceipts: [], heldReceipts: [], stats: newStats(),
		});
		return {};
	},
};

function without(object, name) {
	const copy = Object.assign({}, object);
	delete copy[name];
	return copy;
}

function describeStats() {
	const bound = [...state.connections].filter((conn) => conn.type).map((conn) => ({
		id: conn.id, system_id: conn.system_id, type: conn.type, outstanding: conn.outstanding,
		enquire_links_sent: conn.enquire_links_sent, enquire_links_answered: conn.enquire_links_answered,
	}));
	return Object.assign({}, state.stats, {
		binds: bound.length,
		bound,
		receipts_waiting: state.waitingReceipts.length,
		receipts_held: state.heldReceipts.length,
		silent: state.silent,
		down: state.down,
		settings,
	});
}

async function route(request, body) {
	if (request.method === 'GET' && request.url === '/messages') return [200, state.messages.map(describeMessage)];
	if (request.method === 'GET' && request.url === '/stats') return [200, describeStats()];
	if (request.method !== 'POST' || request.url !== '/control') return [404, { error: 'not found' }];
	let command;
	try {
		command = JSON.parse(body);
	} catch (error) {
		return [400, { error: 'body is not JSON' }];
	}
	const run = command && Object.prototype.hasOwnProperty.call(COMMANDS, command.command) && COMMANDS[command.command];
	if (!run) return [400, { error: 'unknown command; known: ' + Object.keys(COMMANDS).join(', ') }];
	try {
		return [200, Object.assign({ ok: true }, await run(command))];
	} catch (error) {
		return [400, { error: error.message }];
	}
}

const BODY_SIZE_MAX = 64 * 1024;

function onControlRequest(request, response) {
	const chunks = [];
	let size = 0;
	request.on('data', (chunk) => {
		size += chunk.length;
		if (size > BODY_SIZE_MAX) request.destroy();
		else chunks.push(chunk);
	});
	request.on('end', async () => {
		const [status, answer] = await route(request, Buffer.concat(chunks).toString('utf8'));
		response.writeHead(status, { 'content-type': 'application/json' });
		response.end(JSON.stringify(answer));
	});
	request.on('error', () => request.destroy());
}

// ---------------------------------------------------------------- start

function listen(server, port) {
	return new Promise((resolve, reject) => {
		server.once('error', reject);
		server.listen(port, '127.0.0.1', () => {
			server.removeListener('error', reject);
			resolve(server.address().port);
		});
	});
}

const smppServer = smpp.createServer(onConnection);
smppServer.on('error', (error) => log('SMPP server:', error.message));
const controlServer = http.createServer(onControlRequest);
let smppPort;

(async () => {
	smppPort = await listen(smppServer, options.port);
	const controlPort = await listen(controlServer, options.control_port);
	process.stdout.write(JSON.stringify({ smpp: smppPort, control: controlPort }) + '\n');
	log('listening: SMPP on 127.0.0.1:' + smppPort + ', control on 127.0.0.1:' + controlPort);
})().catch((error) => {
	process.stderr.write('smsc: ' + error.message + '\n');
	process.exit(1);
});
