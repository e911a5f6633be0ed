#!/usr/bin/env python3
"""Helpers for benches/run.sh: test data, signed requests, exact-count load
clients and the results table.

Signatures follow badgegate's scheme (src/signature/scheme.rs): HMAC-SHA256,
keyed with the secret, of `{secret}|{encodeURIComponent(url)}|{request_id}|{timestamp}`,
in lowercase hex. Every run checks this module's signer against two of the
vectors in that file's tests before it writes anything.

Request files have one request per line, `signature<TAB>timestamp<TAB>body`,
with `-` for both when the request is sent unsigned. benches/scripts/requests.lua
reads the same format.
"""

import argparse
import asyncio
import hashlib
import hmac
import json
import statistics
import sys
import time
import urllib.parse
from datetime import datetime, timezone

# Characters that JavaScript's encodeURIComponent leaves as they are, besides
# letters, digits and `_.-~`, which urllib.parse.quote never encodes.
URI_COMPONENT_SAFE = "!*'()"

# (secret, url, request_id, timestamp, expected HMAC) from the tests in
# src/signature/scheme.rs.
SIGNATURE_VECTORS = [
    (
        "k",
        "http://127.0.0.1:8080/justcall/contact-badge",
        "ABC123",
        "2026-12-04 10:00:00",
        "7c7e058676b962400169d1154c5704e1d783dcc9c4e65470dde1bdd7e13145dd",
    ),
    (
        "another-Secret_42",
        "https://crm-gw.example.org/badge?tenant=acme&x=1 2",
        "req8842AbC",
        "1774112902",
        "7fdae4ebb2beea49c1f3c4b22d261af3dd90bf4fbf6c074c2d9ba747dec3ca98",
    ),
]

# US area codes in service, so every generated number is a plausible caller.
AREA_CODES = [
    201, 202, 203, 206, 212, 213, 214, 215, 305, 310, 312, 313,
    404, 415, 503, 602, 617, 702, 713, 718, 773, 801, 818, 917,
]
# Exchanges 200-999 without the N11 service codes (211, 311, ...) and 555.
EXCHANGES = [e for e in range(200, 1000) if e % 100 != 11 and e != 555]

FIRST_NAMES = [
    "Ada", "Grace", "Marcus", "Priya", "Daniel", "Sofia", "Kenji", "Amara",
    "Lucas", "Elena", "Omar", "Hannah", "Mateo", "Aisha", "Noah", "Ingrid",
]
LAST_NAMES = [
    "Lovelace", "Hopper", "Whitfield", "Raman", "Okafor", "Lindqvist", "Tanaka", "Mensah",
    "Ferreira", "Kowalski", "Haddad", "Schmidt", "Alvarez", "Nakamura", "Bergstrom", "Delacroix",
]

BADGE_PATH = "/justcall/contact-badge"


def encode_uri_component(text):
    return urllib.parse.quote(text, safe=URI_COMPONENT_SAFE)


def sign(secret, url, request_id, timestamp):
    message = f"{secret}|{encode_uri_component(url)}|{request_id}|{timestamp}"
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def check_signer():
    for secret, url, request_id, timestamp, expected in SIGNATURE_VECTORS:
        actual = sign(secret, url, request_id, timestamp)
        if actual != expected:
            sys.exit(
                f"error: the signer gives {actual} for {url!r}, but src/signature/scheme.rs "
                f"expects {expected}; fix sign() in {__file__}"
            )


def caller_number(index):
    """Returns the index-th generated US number as (E.164 digits, stored form)."""
    area = AREA_CODES[index % len(AREA_CODES)]
    rest = index // len(AREA_CODES)
    exchange = EXCHANGES[rest // 10000]
    line = rest % 10000
    return f"1{area}{exchange}{line:04d}", f"+1 ({area}) {exchange}-{line:04d}"


def request_id(index, salt):
    """A 26-character id shaped like JustCall's ULIDs, unique per (index, salt)."""
    return f"01J{salt:05d}{index:018d}"


def cmd_contacts(args):
    totals = {"name": 0, "email": 0, "profile_link": 0}
    with open(args.out, "w", encoding="utf-8") as out:
        out.write("name,phone,email,profile_link\n")
        for index in range(args.count):
            first = FIRST_NAMES[index % len(FIRST_NAMES)]
            last = LAST_NAMES[(index // len(FIRST_NAMES)) % len(LAST_NAMES)]
            name = f"{first} {last}"
            email = f"{first}.{last}@example.com".lower()
            link = f"https://acme.crm.example.com/app/contacts/{1_000_000 + index}/overview"
            _, stored = caller_number(index)
            out.write(f"{name},{stored},{email},{link}\n")
            totals["name"] += len(name)
            totals["email"] += len(email)
            totals["profile_link"] += len(link)
    means = {field: round(total / max(args.count, 1), 1) for field, total in totals.items()}
    print(json.dumps({"contacts": args.count, "mean_chars": means}))


def cmd_requests(args):
    if args.number:
        numbers = [args.number] * args.count
    elif args.same:
        numbers = [caller_number(args.first)[0]] * args.count
    else:
        numbers = [caller_number(args.first + i)[0] for i in range(args.count)]
    timestamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    with open(args.out, "w", encoding="utf-8") as out:
        for i, number in enumerate(numbers):
            rid = request_id(args.first + i, args.salt)
            body = json.dumps({"request_id": rid, "contact_number": number}, separators=(",", ":"))
            if args.unsigned:
                out.write(f"-\t-\t{body}\n")
            else:
                out.write(f"{sign(args.secret, args.url, rid, timestamp)}\t{timestamp}\t{body}\n")


def cmd_search_body(args):
    """Writes one unsigned line with a HubSpot search body like the adapter's."""
    digits, _ = caller_number(args.index)
    national = digits[1:]
    forms = [f"+{digits}", digits, national, f"({national[:3]}) {national[3:6]}-{national[6:]}",
             f"+1 {national[:3]}-{national[3:6]}-{national[6:]}"]
    body = {
        "filterGroups": [
            {"filters": [{"propertyName": "hs_searchable_calculated_phone_number",
                          "operator": "EQ", "value": national}]},
            {"filters": [{"propertyName": "hs_searchable_calculated_mobile_number",
                          "operator": "EQ", "value": national}]},
            {"filters": [{"propertyName": "hs_searchable_calculated_international_phone_number",
                          "operator": "EQ", "value": digits}]},
            {"filters": [{"propertyName": "phone", "operator": "IN", "values": forms}]},
            {"filters": [{"propertyName": "mobilephone", "operator": "IN", "values": forms}]},
        ],
        "properties": ["firstname", "lastname", "email", "phone", "mobilephone"],
        "limit": 20,
    }
    with open(args.out, "w", encoding="utf-8") as out:
        out.write(f"-\t-\t{json.dumps(body, separators=(',', ':'))}\n")


def read_requests(path, host, port):
    """Reads a request file into raw HTTP/1.1 requests."""
    raw = []
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            line = line.rstrip("\n")
            if not line:
                continue
            signature, timestamp, body = line.split("\t", 2)
            body_bytes = body.encode()
            head = [
                f"POST {BADGE_PATH} HTTP/1.1",
                f"Host: {host}:{port}",
                "Content-Type: application/json",
                f"Content-Length: {len(body_bytes)}",
            ]
            if signature != "-":
                head += [
                    f"X-JustCall-Signature: {signature}",
                    "X-JustCall-Signature-Version: v1",
                    f"X-JustCall-Request-Timestamp: {timestamp}",
                ]
            raw.append(("\r\n".join(head) + "\r\n\r\n").encode() + body_bytes)
    return raw


async def exchange(reader, writer, request):
    """Sends one request on a keep-alive connection; returns (status, body)."""
    writer.write(request)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = None
    for header in head.split(b"\r\n")[1:]:
        name, _, value = header.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    if length is None:
        raise RuntimeError("the response has no Content-Length; this client reads only sized bodies")
    body = await reader.readexactly(length)
    return status, body


class Tally:
    def __init__(self):
        self.statuses = {}
        self.found = 0

    def add(self, status, body):
        self.statuses[str(status)] = self.statuses.get(str(status), 0) + 1
        if b'"success":true' in body:
            self.found += 1

    def summary(self, **extra):
        return {"sent": sum(self.statuses.values()), "statuses": self.statuses,
                "found": self.found, **extra}


async def send_all(args):
    requests = read_requests(args.file, args.host, args.port)
    tally = Tally()
    next_index = 0

    async def worker():
        nonlocal next_index
        reader, writer = await asyncio.open_connection(args.host, args.port)
        try:
            while next_index < len(requests):
                request = requests[next_index]
                next_index += 1
                tally.add(*await exchange(reader, writer, request))
        finally:
            writer.close()

    started = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(args.connections)))
    print(json.dumps(tally.summary(seconds=round(time.monotonic() - started, 3))))


async def burst(args):
    requests = read_requests(args.file, args.host, args.port)
    connections = [await asyncio.open_connection(args.host, args.port) for _ in requests]
    start = asyncio.Event()
    tally = Tally()

    async def one(connection, request):
        reader, writer = connection
        await start.wait()
        try:
            tally.add(*await exchange(reader, writer, request))
        finally:
            writer.close()

    tasks = [asyncio.create_task(one(c, r)) for c, r in zip(connections, requests)]
    await asyncio.sleep(0.2)  # lets every task reach start.wait()
    started = time.monotonic()
    start.set()
    await asyncio.gather(*tasks)
    print(json.dumps(tally.summary(connections=len(connections),
                                   seconds=round(time.monotonic() - started, 3))))


def cmd_send(args):
    asyncio.run(send_all(args))


def cmd_burst(args):
    asyncio.run(burst(args))


def cmd_count_log(args):
    """Counts the `answered` lines of a JSON log by their cache field."""
    counts = {}
    with open(args.log, encoding="utf-8") as lines:
        for line in lines:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            # flatten_event puts the fields at the top level; without it they sit under "fields".
            fields = event.get("fields", event)
            if fields.get("message") == "answered":
                cache = fields.get("cache", "?")
                counts[cache] = counts.get(cache, 0) + 1
    print(json.dumps(counts))


def append_result(path, result):
    with open(path, "a", encoding="utf-8") as out:
        out.write(json.dumps(result, sort_keys=True) + "\n")


def cmd_record(args):
    """Reads wrk's output on stdin, checks it and appends its WRK_RESULT with the tags."""
    output = sys.stdin.read()
    lines = [line for line in output.splitlines() if line.startswith("WRK_RESULT ")]
    if not lines:
        sys.exit(f"error: wrk printed no WRK_RESULT line; its output was:\n{output}")
    result = {**json.loads(args.tags), **json.loads(lines[-1][len("WRK_RESULT "):])}
    problems = []
    if result["requests"] == 0:
        problems.append("no request completed")
    if result["non_2xx"]:
        problems.append(f"{result['non_2xx']} responses were not 2xx")
    if result["connect_errors"]:
        problems.append(f"{result['connect_errors']} connections failed")
    if problems:
        sys.exit(f"error: {json.loads(args.tags)}: {'; '.join(problems)}; wrk printed:\n{output}")
    for name in ("read_errors", "write_errors", "timeouts"):
        if result[name]:
            print(f"warning: {result[name]} {name.replace('_', ' ')} in this run", file=sys.stderr)
    if result["wraps"]:
        print(f"warning: the request list ran out {result['wraps']} times, so numbers repeated; "
              "generate more requests", file=sys.stderr)
    append_result(args.results, result)
    print(f"  {result['rps']:>10,.0f} req/s  p50 {result['p50_us']:>7,} us  p99 {result['p99_us']:>7,} us"
          f"  ({result['requests']:,} requests)")


def cmd_add(args):
    append_result(args.results, json.loads(args.json))


def cmd_criterion(args):
    """Appends the median of every criterion benchmark found under CRITERION_HOME."""
    import pathlib

    found = 0
    for benchmark in sorted(pathlib.Path(args.home).glob("**/new/benchmark.json")):
        identity = json.loads(benchmark.read_text())
        estimates = json.loads((benchmark.parent / "estimates.json").read_text())
        append_result(args.results, {
            "test": "criterion",
            "name": identity["full_id"],
            "median_ns": estimates["median"]["point_estimate"],
            "mean_ns": estimates["mean"]["point_estimate"],
        })
        found += 1
    if not found:
        sys.exit(f"error: no criterion results under {args.home}")


def median(values):
    return statistics.median(values) if values else None


def load_results(path):
    with open(path, encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def select(results, **tags):
    return [r for r in results if all(r.get(k) == v for k, v in tags.items())]


def fmt(value, digits=0):
    if value is None:
        return "not measured"
    return f"{value:,.{digits}f}"


def verdict(ok):
    if ok is None:
        return "not measured"
    return "met" if ok else "MISSED"


def cmd_report(args):
    """Prints the markdown results table from results.jsonl, with medians over rounds."""
    results = load_results(args.results)
    rows = []

    def hit_medians(server):
        runs = select(results, test="hit", server=server)
        return (median([r["rps"] for r in runs]), median([r["p50_us"] for r in runs]),
                median([r["p99_us"] for r in runs]), len(runs))

    def paired_ratio(server, field):
        """Median over rounds of server / baseline, each pair measured back to back.

        The machine's speed drifts between rounds by more than the gap being
        measured, so a ratio of two medians taken minutes apart is noisier
        than the median of ratios taken seconds apart."""
        base = {r["round"]: r[field] for r in select(results, test="hit", server="baseline")}
        ratios = [r[field] / base[r["round"]]
                  for r in select(results, test="hit", server=server)
                  if base.get(r["round"])]
        return median(ratios) if ratios else None

    base_rps, base_p50, base_p99, base_n = hit_medians("baseline")
    for server, label, _, judged in HIT_SERVERS[1:]:
        rps, p50, p99, n = hit_medians(server)
        if not n:
            continue
        rps_ratio = paired_ratio(server, "rps")
        p99_ratio = paired_ratio(server, "p99_us")
        # Without signature checks the gateway does less than the targets
        # ask, so its row only shows what the checks cost.
        rps_target, rps_verdict = "-", "-"
        p99_target, p99_verdict = "-", "-"
        if judged:
            rps_target = ">= 0.9 x baseline"
            rps_verdict = verdict(rps_ratio >= 0.9 if rps_ratio else None)
            p99_target = "<= 1.2 x baseline"
            p99_verdict = verdict(p99_ratio <= 1.2 if p99_ratio else None)
        rows.append((f"Cache-hit throughput, {label} ({n} round{'' if n == 1 else 's'})",
                     f"{fmt(rps_ratio, 2)} x baseline (median of per-round ratios; "
                     f"medians {fmt(rps)} against {fmt(base_rps)} req/s)",
                     rps_target, rps_verdict))
        rows.append((f"Cache-hit p50 latency, {label}",
                     f"{fmt(p50)} us (baseline {fmt(base_p50)} us)", "-", "-"))
        rows.append((f"Cache-hit p99 latency, {label}",
                     f"{fmt(p99_ratio, 2)} x baseline (median of per-round ratios; "
                     f"medians {fmt(p99)} against {fmt(base_p99)} us)",
                     p99_target, p99_verdict))

    for cpus, label in (("idle", "cores idle between requests"),
                        ("awake", "cores kept awake")):
        def runs(server):
            return [r for r in select(results, test="miss", server=server)
                    if r.get("cpus", "idle") == cpus]
        miss, direct = runs("gateway"), runs("upstream-direct")
        if not (miss and direct):
            continue
        p50 = median([r["p50_us"] for r in miss]) - median([r["p50_us"] for r in direct])
        p99 = median([r["p99_us"] for r in miss]) - median([r["p99_us"] for r in direct])
        rows.append((f"Cache-miss overhead, median, {label} ({len(miss)} round{'' if len(miss) == 1 else 's'})",
                     f"{fmt(p50)} us (gateway {fmt(median([r['p50_us'] for r in miss]))} us - "
                     f"upstream {fmt(median([r['p50_us'] for r in direct]))} us)",
                     "< 300 us", verdict(p50 < 300)))
        rows.append((f"Cache-miss overhead, p99, {label}",
                     f"{fmt(p99)} us (gateway {fmt(median([r['p99_us'] for r in miss]))} us - "
                     f"upstream {fmt(median([r['p99_us'] for r in direct]))} us)",
                     "< 300 us", verdict(p99 < 300)))
        relay = runs("relay")
        if relay:
            relay_p50 = median([r["p50_us"] for r in relay]) - median([r["p50_us"] for r in direct])
            relay_p99 = median([r["p99_us"] for r in relay]) - median([r["p99_us"] for r in direct])
            rows.append((f"Bare TCP relay's overhead (the floor for any proxy), median, {label}",
                         f"{fmt(relay_p50)} us (relay {fmt(median([r['p50_us'] for r in relay]))} us - "
                         f"upstream {fmt(median([r['p50_us'] for r in direct]))} us)", "-", "-"))
            rows.append((f"Bare TCP relay's overhead, p99, {label}", f"{fmt(relay_p99)} us", "-", "-"))
            rows.append((f"Cache-miss overhead beyond the relay's, median, {label}",
                         f"{fmt(p50 - relay_p50)} us", "-", "-"))

    for variant, label in (("signed", "signed lookups, signature memory included"),
                           ("unverified", "verification off, cache only")):
        for r in select(results, test="memory", variant=variant):
            rows.append((f"Memory per cached contact, {label}",
                         f"{fmt(r['bytes_per_entry'])} bytes ({fmt(r['rss_growth_kib'])} KiB "
                         f"for {fmt(r['entries'])} entries)",
                         "<= 400 bytes", verdict(r["bytes_per_entry"] <= 400)))

    for r in select(results, test="memory-hits"):
        rows.append(("RSS growth per cache-hit request (admin listener off)",
                     f"{fmt(r['bytes_per_request'], 1)} bytes ({fmt(r['rss_growth_kib'])} KiB "
                     f"for {fmt(r['requests'])} requests)", "-", "-"))

    for r in select(results, test="coalescing"):
        rows.append((f"Upstream calls for {r['requests']} concurrent requests for one number",
                     f"{r['upstream_calls']} ({r['found']} badges; "
                     f"{r.get('cache_labels', {})} by cache status)",
                     "exactly 1", verdict(r["upstream_calls"] == 1)))

    for r in select(results, test="criterion"):
        rows.append((f"Micro: {r['name']}", f"{fmt(r['median_ns'])} ns median", "-", "-"))

    print("| Figure | Measured | Target | Verdict |")
    print("| --- | --- | --- | --- |")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print_hit_rounds(results)
    print_miss_rounds(results)


# The servers of the hit step: name in results.jsonl, label, short label for
# the table of rounds, and whether the targets apply to it.
HIT_SERVERS = (("baseline", "baseline", "baseline", False),
               ("gateway", "badgegate, log.level = warn", "warn", True),
               ("gateway-info", "badgegate, log.level = info", "info", True),
               ("gateway-unverified", "badgegate, log.level = warn, signatures not checked",
                "warn, unchecked", False))


def print_hit_rounds(results):
    """Prints each round of the hit step: every server's figures, then its
    throughput ratio to the baseline of the same round."""
    hits = {(r["round"], r["server"]): r for r in select(results, test="hit")}
    rounds = sorted({round_ for round_, _ in hits})
    servers = [(server, short) for server, _, short, _ in HIT_SERVERS
               if any((round_, server) in hits for round_ in rounds)]
    if not rounds or servers[:1] != [("baseline", "baseline")]:
        return
    print()
    print("Cache hits by round: requests per second, p50 and p99 in us, and the "
          "throughput ratio to the round's baseline. warn and info are badgegate's "
          "log.level; unchecked is badgegate with signature checks off.")
    print()
    print("| Round | " + " | ".join(short for _, short in servers) + " | "
          + " | ".join(f"Ratio, {short}" for _, short in servers[1:]) + " |")
    print("|" + " --- |" * (1 + 2 * len(servers) - 1))
    for round_ in rounds:
        base = hits.get((round_, "baseline"))
        cells, ratios = [], []
        for server, _ in servers:
            run = hits.get((round_, server))
            cells.append(f"{fmt(run['rps'])}, {fmt(run['p50_us'])}, {fmt(run['p99_us'])}"
                         if run else "not measured")
            if server != "baseline":
                ratios.append(fmt(run["rps"] / base["rps"], 2) if run and base else "not measured")
        print(f"| {round_} | " + " | ".join(cells + ratios) + " |")


def print_miss_rounds(results):
    """Prints the p50 latency of each round of the miss step, in us."""
    misses = {(r["round"], r.get("cpus", "idle"), r["server"]): r
              for r in select(results, test="miss")}
    rounds = sorted({round_ for round_, _, _ in misses})
    if not rounds:
        return
    columns = [(cpus, server, f"{label}, {cpus}")
               for cpus in ("idle", "awake")
               for server, label in (("upstream-direct", "upstream alone"),
                                     ("relay", "relay"), ("gateway", "badgegate"))
               if any((round_, cpus, server) in misses for round_ in rounds)]
    print()
    print("Cache misses by round: p50 latency in us.")
    print()
    print("| Round | " + " | ".join(label for _, _, label in columns) + " |")
    print("|" + " --- |" * (1 + len(columns)))
    for round_ in rounds:
        cells = [fmt(misses[(round_, cpus, server)]["p50_us"])
                 if (round_, cpus, server) in misses else "not measured"
                 for cpus, server, _ in columns]
        print(f"| {round_} | " + " | ".join(cells) + " |")


def main():
    check_signer()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    contacts = commands.add_parser("contacts", help="write a contacts CSV of generated US numbers")
    contacts.add_argument("--count", type=int, required=True)
    contacts.add_argument("--out", required=True)
    contacts.set_defaults(run=cmd_contacts)

    requests = commands.add_parser("requests", help="write a file of signed badge requests")
    requests.add_argument("--url", required=True, help="the URL the gateway verifies against")
    requests.add_argument("--secret", required=True)
    requests.add_argument("--count", type=int, required=True)
    requests.add_argument("--first", type=int, default=0,
                          help="index of the first generated number (default 0)")
    requests.add_argument("--number", help="send this number in every request instead")
    requests.add_argument("--same", action="store_true",
                          help="send the number at --first in every request")
    requests.add_argument("--salt", type=int, default=0, help="makes the request ids of one run unique")
    requests.add_argument("--unsigned", action="store_true", help="write no signatures")
    requests.add_argument("--out", required=True)
    requests.set_defaults(run=cmd_requests)

    search = commands.add_parser("search-body", help="write one HubSpot search body as a request line")
    search.add_argument("--index", type=int, default=0)
    search.add_argument("--out", required=True)
    search.set_defaults(run=cmd_search_body)

    for name, run, help_text in (
        ("send", cmd_send, "send every request of a file once, over keep-alive connections"),
        ("burst", cmd_burst, "send every request of a file at the same moment, one per connection"),
    ):
        client = commands.add_parser(name, help=help_text)
        client.add_argument("file")
        client.add_argument("--host", default="127.0.0.1")
        client.add_argument("--port", type=int, required=True)
        client.add_argument("--connections", type=int, default=16,
                            help="concurrent connections for send (default 16)")
        client.set_defaults(run=run)

    count_log = commands.add_parser("count-log", help="count answered requests in a JSON log by cache status")
    count_log.add_argument("log")
    count_log.set_defaults(run=cmd_count_log)

    record = commands.add_parser("record", help="check wrk's output (stdin) and append its result")
    record.add_argument("results")
    record.add_argument("--tags", required=True, help="JSON object of labels for this run")
    record.set_defaults(run=cmd_record)

    add = commands.add_parser("add", help="append one JSON result")
    add.add_argument("results")
    add.add_argument("--json", required=True)
    add.set_defaults(run=cmd_add)

    criterion = commands.add_parser("criterion", help="append the medians of criterion's results")
    criterion.add_argument("results")
    criterion.add_argument("--home", required=True, help="the CRITERION_HOME the benchmarks wrote to")
    criterion.set_defaults(run=cmd_criterion)

    report = commands.add_parser("report", help="print the markdown results table")
    report.add_argument("results")
    report.set_defaults(run=cmd_report)

    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
