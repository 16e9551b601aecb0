#!/usr/bin/env node
// Interop driver: exercise an MCP server with the official TypeScript SDK client.
//
//   .peers/node22/bin/node tests/interop/ts_client.mjs --http http://127.0.0.1:8080/mcp \
//       --call test_tool_with_progress --progress --read test://static-text
//   .peers/node22/bin/node tests/interop/ts_client.mjs --stdio "target/debug/switchboard serve --stdio --demo" \
//       --call add --args '{"a":2,"b":3}'
//   .peers/node22/bin/node tests/interop/ts_client.mjs --sdk v2 --era auto --http http://127.0.0.1:8080/mcp
//
// Options:
//   --http URL | --stdio "CMD ARGS" | --sse URL | --ws URL
//                      transport: Streamable HTTP / stdio / legacy HTTP+SSE (2024-11-05) / WebSocket
//                      (--ws: sdk v1 only, WebSocketClientTransport, subprotocol "mcp", e.g. ws://h:p/ws)
//   --sdk v1|v2        v1 (default) = @modelcontextprotocol/sdk 1.x  (initialize handshake only)
//                      v2           = @modelcontextprotocol/client 2.x
//   --era E            v2 only: legacy | auto (default) | modern (= pin 2026-07-28) | <version> (pin)
//   --call NAME        tool to call;  --args '{json}' its arguments (default {})
//   --progress         pass `onprogress` to callTool; report notifications under "progress"
//   --read URI         resource to read
//   --timeout SECONDS  overall timeout (default 60)
//   --server-stderr inherit|null   stdio server's stderr (default inherit)
//
// Modules are resolved from the peers' node_modules, NOT from the cwd: $PEERS_NODE_MODULES if set,
// else <this file>/../../.peers/node/node_modules. Works with Node >= 22 from any cwd.
//
// Prints ONE JSON line on stdout:
//   {"sdk": "@modelcontextprotocol/sdk"|"@modelcontextprotocol/client", "version": "1.32.2",
//    "era": "legacy"|"modern", "protocol_version": "2025-11-25", "server_info": {...}|null,
//    "tools": [names], "call": {content, structuredContent, isError}|null,
//    "progress": [{progress, total, message}, ...] (only with --progress), "read": [contents]|null}
// A tool result with isError=true is reported in "call" and is NOT a failure.
// Failure: exit 1, {"error": {...}} on stderr.  Usage error: exit 2.

import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const NODE_MODULES = process.env.PEERS_NODE_MODULES || path.resolve(HERE, '../../.peers/node/node_modules');

function usage(msg) {
    process.stderr.write(JSON.stringify({ error: { type: 'UsageError', message: msg } }) + '\n');
    process.exit(2);
}

function parseArgs(argv) {
    const o = { sdk: 'v1', era: undefined, args: '{}', timeout: 60, serverStderr: 'inherit', progress: false };
    const takes = new Set(['--http', '--stdio', '--sse', '--ws', '--sdk', '--era', '--call', '--args', '--read', '--timeout', '--server-stderr']);
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        if (a === '--progress') { o.progress = true; continue; }
        if (a === '-h' || a === '--help') {
            const src = readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n');
            process.stdout.write(src.slice(1, src.findIndex((l) => l.startsWith('import'))).map((l) => l.replace(/^\/\/ ?/, '')).join('\n') + '\n');
            process.exit(0);
        }
        if (!takes.has(a)) usage(`unknown argument ${a}`);
        if (i + 1 >= argv.length) usage(`${a} needs a value`);
        const key = a.slice(2).replace(/-(\w)/g, (_, c) => c.toUpperCase());
        o[key] = argv[++i];
    }
    const targets = ['http', 'stdio', 'sse', 'ws'].filter((k) => o[k] !== undefined);
    if (targets.length !== 1) usage('exactly one of --http URL, --stdio "CMD", --sse URL, --ws URL is required');
    if (!['v1', 'v2'].includes(o.sdk)) usage('--sdk must be v1 or v2');
    if (o.ws && o.sdk !== 'v1') usage('--ws needs --sdk v1 (@modelcontextprotocol/client 2.x has no WebSocket transport)');
    if (o.sdk === 'v1' && o.era !== undefined && o.era !== 'legacy') usage('--era needs --sdk v2 (sdk 1.x only has the legacy initialize handshake)');
    o.era ??= o.sdk === 'v1' ? 'legacy' : 'auto';
    try { o.toolArgs = JSON.parse(o.args); } catch (e) { usage(`--args is not valid JSON: ${e.message}`); }
    if (!o.toolArgs || typeof o.toolArgs !== 'object' || Array.isArray(o.toolArgs)) usage('--args must be a JSON object');
    o.timeout = Number(o.timeout);
    return o;
}

// Resolve `pkg` + subpath through the package's "exports" map (import condition) and import it by file URL.
function pkgInfo(pkg) {
    const dir = path.join(NODE_MODULES, pkg);
    const pj = path.join(dir, 'package.json');
    if (!existsSync(pj)) throw new Error(`${pkg} not found under ${NODE_MODULES} (set PEERS_NODE_MODULES)`);
    return { dir, json: JSON.parse(readFileSync(pj, 'utf8')) };
}
function pickImport(target) {
    if (typeof target === 'string') return target;
    if (Array.isArray(target)) { for (const t of target) { const r = pickImport(t); if (r) return r; } return undefined; }
    if (target && typeof target === 'object') {
        for (const cond of ['node', 'import', 'default']) if (cond in target) { const r = pickImport(target[cond]); if (r) return r; }
    }
    return undefined;
}
async function importFrom(pkg, subpath = '.') {
    const { dir, json } = pkgInfo(pkg);
    const exp = json.exports;
    let rel;
    if (exp && exp[subpath] !== undefined) rel = pickImport(exp[subpath]);
    else if (exp) {
        for (const [k, v] of Object.entries(exp)) {
            const star = k.indexOf('*');
            if (star < 0) continue;
            const pre = k.slice(0, star), post = k.slice(star + 1);
            if (subpath.startsWith(pre) && subpath.endsWith(post)) {
                const mid = subpath.slice(pre.length, subpath.length - post.length);
                rel = pickImport(v)?.replace('*', mid);
                break;
            }
        }
    }
    if (!rel) throw new Error(`cannot resolve ${pkg}/${subpath} for import`);
    return import(pathToFileURL(path.join(dir, rel)).href);
}

function splitCmdline(s) {
    // Minimal POSIX-ish splitting: whitespace, '…', "…", backslash escapes.
    const out = []; let cur = ''; let q = null; let has = false;
    for (let i = 0; i < s.length; i++) {
        const c = s[i];
        if (q) {
            if (c === q) q = null;
            else if (c === '\\' && q === '"' && i + 1 < s.length) cur += s[++i];
            else cur += c;
        } else if (c === "'" || c === '"') { q = c; has = true; }
        else if (c === '\\' && i + 1 < s.length) { cur += s[++i]; has = true; }
        else if (/\s/.test(c)) { if (has || cur) out.push(cur); cur = ''; has = false; }
        else cur += c;
    }
    if (q) usage('--stdio: unbalanced quote');
    if (has || cur) out.push(cur);
    return out;
}

function describe(e) {
    const err = { type: e?.constructor?.name ?? typeof e, message: String(e?.message ?? e) };
    if (e && typeof e === 'object') {
        if (e.code !== undefined) err.code = e.code;
        if (e.data !== undefined) err.data = e.data;
        if (e.cause) err.cause = String(e.cause?.message ?? e.cause);
    }
    return err;
}

async function run(o) {
    const pkg = o.sdk === 'v1' ? '@modelcontextprotocol/sdk' : '@modelcontextprotocol/client';
    const version = pkgInfo(pkg).json.version;
    let Client, StreamableHTTPClientTransport, StdioClientTransport, SSEClientTransport, WebSocketClientTransport;
    if (o.sdk === 'v1') {
        ({ Client } = await importFrom(pkg, './client/index.js'));
        if (o.http) ({ StreamableHTTPClientTransport } = await importFrom(pkg, './client/streamableHttp.js'));
        if (o.sse) ({ SSEClientTransport } = await importFrom(pkg, './client/sse.js'));
        if (o.stdio) ({ StdioClientTransport } = await importFrom(pkg, './client/stdio.js'));
        if (o.ws) ({ WebSocketClientTransport } = await importFrom(pkg, './client/websocket.js'));
    } else {
        ({ Client, StreamableHTTPClientTransport, SSEClientTransport } = await importFrom(pkg, '.'));
        if (o.stdio) ({ StdioClientTransport } = await importFrom(pkg, './stdio'));
    }

    let transport;
    if (o.http) transport = new StreamableHTTPClientTransport(new URL(o.http));
    else if (o.sse) transport = new SSEClientTransport(new URL(o.sse));
    else if (o.ws) transport = new WebSocketClientTransport(new URL(o.ws));
    else {
        const [command, ...args] = splitCmdline(o.stdio);
        if (!command) usage('--stdio: empty command line');
        transport = new StdioClientTransport({ command, args, stderr: o.serverStderr === 'null' ? 'ignore' : 'inherit' });
    }

    // sdk 1.x has no getter for the negotiated version: record what connect() hands the transport.
    let negotiated;
    const origSet = transport.setProtocolVersion?.bind(transport);
    transport.setProtocolVersion = (v) => { negotiated = v; origSet?.(v); };

    const clientInfo = { name: 'switchboard-interop-ts', version: '0.0.0' };
    let client;
    if (o.sdk === 'v1') client = new Client(clientInfo, { capabilities: {} });
    else {
        const mode = o.era === 'legacy' || o.era === 'auto' ? o.era : { pin: o.era === 'modern' ? '2026-07-28' : o.era };
        client = new Client(clientInfo, { capabilities: {}, versionNegotiation: { mode } });
    }
    const errors = [];
    client.onerror = (e) => errors.push(describe(e));

    const out = { sdk: pkg, version };
    try {
        await client.connect(transport);
        out.era = o.sdk === 'v1' ? 'legacy' : client.getProtocolEra?.() ?? null;
        out.protocol_version = (o.sdk === 'v2' ? client.getNegotiatedProtocolVersion?.() : undefined) ?? negotiated ?? transport.protocolVersion ?? null;
        out.server_info = client.getServerVersion() ?? null;

        const tools = [];
        let cursor;
        for (let i = 0; i < 1000; i++) {
            const res = await client.listTools(cursor ? { cursor } : undefined);
            tools.push(...res.tools);
            cursor = res.nextCursor;
            if (!cursor) break;
        }
        out.tools = tools.map((t) => t.name);

        out.call = null;
        if (o.progress) out.progress = [];
        if (o.call) {
            const opts = {};
            if (o.progress) opts.onprogress = (p) => out.progress.push({ progress: p.progress, total: p.total ?? null, message: p.message ?? null });
            // v1: callTool(params, resultSchema?, options); v2: callTool(params, options).
            const params = { name: o.call, arguments: o.toolArgs };
            const res = o.sdk === 'v1' ? await client.callTool(params, undefined, opts) : await client.callTool(params, opts);
            out.call = { content: res.content ?? [], structuredContent: res.structuredContent ?? null, isError: !!res.isError };
        }
        out.read = null;
        if (o.read) {
            const res = await client.readResource({ uri: o.read });
            out.read = res.contents;
        }
    } finally {
        // Don't let a hanging close (e.g. DELETE of the session) block the report; flag it instead.
        const closed = await Promise.race([
            client.close().then(() => true, (e) => { errors.push({ during: 'close', ...describe(e) }); return true; }),
            new Promise((r) => setTimeout(() => r(false), 5000).unref()),
        ]);
        if (!closed) process.stderr.write(JSON.stringify({ warning: 'client.close() did not finish within 5 s' }) + '\n');
    }
    if (errors.length) process.stderr.write(JSON.stringify({ warning: 'client.onerror', errors }) + '\n');
    return out;
}

const opts = parseArgs(process.argv.slice(2));
const timer = setTimeout(() => {
    process.stderr.write(JSON.stringify({ error: { type: 'Timeout', message: `no result within ${opts.timeout} s` } }) + '\n');
    process.exit(1);
}, opts.timeout * 1000);
try {
    const out = await run(opts);
    clearTimeout(timer);
    process.stdout.write(JSON.stringify(out) + '\n', () => process.exit(0));
} catch (e) {
    process.stderr.write(JSON.stringify({ error: describe(e) }) + '\n');
    if (process.env.TS_CLIENT_TRACEBACK) console.error(e);
    process.exit(1);
}

