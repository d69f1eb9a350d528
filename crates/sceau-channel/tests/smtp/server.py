#!/usr/bin/env python3
"""A real SMTP server for sceau's e-mail tests, on aiosmtpd (Debian: python3-aiosmtpd).

Listens on 127.0.0.1 on a port the system picks and prints "listening PORT" once ready.
Each message it accepts is parsed by Python's own e-mail package and written, before the
server answers 250, as DIR/N.json: the envelope, whether the session was authenticated and
encrypted, the decoded headers, every leaf part (type, charset, decoded content) and the
raw message; with --dkim-dns (a JSON object: DNS name -> TXT record), whether its DKIM
signature verifies (dkimpy, Debian: python3-dkim) against those records. Recipients whose local part starts with "refused" get a 550, with "later" a
451. A message to a recipient whose local part starts with "held" is held before its
answer until the file DIR/release exists; DIR/held.json says how many are held now and
at most. Runs until its standard input closes (the test holding it ends).
"""

import argparse
import asyncio
import email
import email.policy
import json
import logging
import os
import ssl
import sys

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class Recorder:
    def __init__(self, directory, dkim_dns):
        self.directory = directory
        self.dkim_dns = dkim_dns
        self.count = 0
        self.held = 0
        self.held_max = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@")[0]
        if local.startswith("refused"):
            return "550 5.1.1 no such mailbox here"
        if local.startswith("later"):
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if any(rcpt.split("@")[0].startswith("held") for rcpt in envelope.rcpt_tos):
            await self.hold()
        raw = envelope.original_content or envelope.content
        message = email.message_from_bytes(raw, policy=email.policy.default)
        parts = []
        for part in message.walk():
            if part.is_multipart():
                continue
            parts.append(
                {
                    "content_type": part.get_content_type(),
                    "charset": part.get_content_charset(),
                    "content": part.get_content(),
                }
            )
        tls = session.ssl is not None or (
            server.transport is not None
            and server.transport.get_extra_info("sslcontext") is not None
        )
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "authenticated": bool(session.authenticated),
            "tls": tls,
            "content_type": message.get_content_type(),
            "headers": [[name, str(value)] for name, value in message.items()],
            "parts": parts,
            "raw": raw.decode("utf-8", "replace"),
            "dkim_verified": self.dkim_verified(raw),
        }
        self.count += 1
        path = os.path.join(self.directory, f"{self.count}.json")
        with open(path + ".part", "w", encoding="utf-8") as file:
            json.dump(record, file, ensure_ascii=False)
        os.replace(path + ".part", path)
        return "250 2.0.0 OK queued"


    async def hold(self):
        self.held += 1
        self.held_max = max(self.held_max, self.held)
        self.write_held()
        release = os.path.join(self.directory, "release")
        while not os.path.exists(release):
            await asyncio.sleep(0.005)
        self.held -= 1
        self.write_held()

    def write_held(self):
        path = os.path.join(self.directory, "held.json")
        with open(path + ".part", "w", encoding="utf-8") as file:
            json.dump({"now": self.held, "max": self.held_max}, file)
        os.replace(path + ".part", path)

    def dkim_verified(self, raw):
        if self.dkim_dns is None:
            return None
        import dkim

        def lookup(name, timeout=5):
            return self.dkim_dns.get(name.decode().rstrip("."), "").encode()

        # Why a signature fails goes to standard error, which the test shows.
        return bool(dkim.verify(raw, logger=logging.getLogger("dkim"), dnsfunc=lookup))


def authenticator(user, password):
    def check(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == user.encode()
            and auth_data.password == password.encode()
        )
        # handled=False: the server answers the refusal itself (535).
        return AuthResult(success=ok, handled=False)

    return check


def tls_context(cert, key):
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


async def serve(args):
    loop = asyncio.get_running_loop()
    dkim_dns = None
    if args.dkim_dns:
        with open(args.dkim_dns, encoding="utf-8") as file:
            dkim_dns = json.load(file)
    recorder = Recorder(args.dir, dkim_dns)
    context = tls_context(args.cert, args.key) if args.cert else None
    options = {"hostname": "smtp.test", "enable_SMTPUTF8": True}
    if args.mode == "starttls":
        options.update(tls_context=context, require_starttls=True)
    if args.user:
        options.update(
            authenticator=authenticator(args.user, args.password),
            auth_required=True,
            # With implicit TLS the whole session is encrypted already.
            auth_require_tls=args.mode == "starttls",
        )
    server = await loop.create_server(
        lambda: SMTP(recorder, **options),
        host="127.0.0.1",
        port=0,
        ssl=context if args.mode == "tls" else None,
    )
    port = server.sockets[0].getsockname()[1]
    print(f"listening {port}", flush=True)
    await loop.run_in_executor(None, sys.stdin.read)
    server.close()


def main():
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    logging.getLogger("dkim").setLevel(logging.DEBUG)
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", required=True)
    parser.add_argument("--mode", choices=["plain", "starttls", "tls"], default="plain")
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--user")
    parser.add_argument("--password")
    parser.add_argument("--dkim-dns")
    asyncio.run(serve(parser.parse_args()))


if __name__ == "__main__":
    main()
