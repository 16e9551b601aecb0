#!/usr/bin/env node
// The benchmark's minimal MCP server written with the official TypeScript SDK
// (@modelcontextprotocol/sdk 1.x, McpServer + StreamableHTTPServerTransport): tools `echo {message}`
// and `add {a, b}` at /mcp, JSON responses (enableJsonResponse), one session per `initialize`
// (the SDK's documented stateful pattern). SDK 1.x speaks only the legacy era (latest 2025-11-25),
// so modern (2026-07-28) requests are answered 400 by the SDK's header check.
//
//   .peers/node22/bin/node bench/peers/ts-echo.mjs 127.0.0.1:PORT
//
// Modules come from $PEERS_NODE_MODULES, else <repo>/.peers/node/node_modules.
import http from 'node:http';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { fileURLToPath, pathToFileURL } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const NODE_MODULES = process.env.PEERS_NODE_MODULES || path.resolve(HERE, '../../.peers/node/node_modules');
const load = (p) => import(pathToFileURL(path.join(NODE_MODULES, p)).href);
const { McpServer } = await load('@modelcontextprotocol/sdk/dist/esm/server/mcp.js');
const { StreamableHTTPServerTransport } = await load('@modelcontextprotocol/sdk/dist/esm/server/streamableHttp.js');
const { isInitializeRequest } = await load('@modelcontextprotocol/sdk/dist/esm/types.js');
const { z } = await load('zod/index.js');

function makeServer() {
    const server = new McpServer({ name: 'ts-echo', version: '1.0.0' });
    server.registerTool('echo', { description: 'Echoes the message back.', inputSchema: { message: z.string() } },
        async ({ message }) => ({ content: [{ type: 'text', text: message }] }));
    server.registerTool('add', { description: 'Adds two numbers.', inputSchema: { a: z.number(), b: z.number() } },
        async ({ a, b }) => ({ content: [{ type: 'text', text: String(a + b) }] }));
    return server;
}

const sessions = new Map();

async function readBody(req) {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

const httpServer = http.createServer(async (req, res) => {
    try {
        if (req.url !== '/mcp') { res.writeHead(404).end(); return; }
        const sid = req.headers['mcp-session-id'];
        if (sid) {
            const transport = sessions.get(sid);
            if (!transport) { res.writeHead(404).end(); return; }
            const body = req.method === 'POST' ? await readBody(req) : undefined;
            await transport.handleRequest(req, res, body);
            return;
        }
        if (req.method !== 'POST') { res.writeHead(405).end(); return; }
        const body = await readBody(req);
        if (!isInitializeRequest(body)) {
            res.writeHead(400, { 'content-type': 'application/json' })
                .end(JSON.stringify({ jsonrpc: '2.0', id: body?.id ?? null, error: { code: -32000, message: 'no session: initialize first' } }));
            return;
        }
        const transport = new StreamableHTTPServerTransport({
            sessionIdGenerator: () => randomUUID(),
            enableJsonResponse: true,
            onsessioninitialized: (id) => sessions.set(id, transport),
        });
        transport.onclose = () => { if (transport.sessionId) sessions.delete(transport.sessionId); };
        await makeServer().connect(transport);
        await transport.handleRequest(req, res, body);
    } catch (e) {
        if (!res.headersSent) res.writeHead(500).end(String(e));
    }
});
httpServer.keepAliveTimeout = 60_000;

const [host, port] = (process.argv[2] || '127.0.0.1:0').split(':');
httpServer.listen(Number(port), host, () => {
    const a = httpServer.address();
    process.stderr.write(`listening on http://${a.address}:${a.port}/mcp\n`);
});
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
