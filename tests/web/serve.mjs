// serve.mjs — a tiny static server for the browser tests, until ampd
// serves the app: the files of one folder, with the headers that make the
// page cross-origin isolated (COOP same-origin, COEP require-corp), the
// right MIME types (application/wasm for .wasm), and no way out of the
// folder (a path that resolves outside it is refused with 403).
//
//   node tests/web/serve.mjs DIR [PORT]     prints http://127.0.0.1:PORT/
//
// Also a module: startStaticServer(dir, port, { isolate }) -> { url, close() };
// isolate: false leaves the isolation headers out (to see the page say it
// cannot run).

import { createServer } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.wav': 'audio/wav',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

const ISOLATION = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

export function startStaticServer(dir, port = 0, { isolate = true } = {}) {
  const root = path.resolve(dir);
  const headers = isolate ? ISOLATION : {};
  const reply = (res, status, text) => {
    res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', ...headers });
    res.end(text + '\n');
  };
  const server = createServer(async (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return reply(res, 405, 'method not allowed');
    const raw = (req.url ?? '/').split('?')[0];
    let rel;
    try {
      rel = decodeURIComponent(raw);
    } catch {
      return reply(res, 400, 'bad path');
    }
    // Refuse ".." as sent, before any normalisation could hide it.
    if (!rel.startsWith('/') || rel.split(/[/\\]/).includes('..') || rel.includes('\0'))
      return reply(res, 403, 'forbidden');
    if (rel.endsWith('/')) rel += 'index.html';
    const file = path.resolve(root, '.' + rel);
    if (file !== root && !file.startsWith(root + path.sep)) return reply(res, 403, 'forbidden');
    try {
      if (!(await stat(file)).isFile()) return reply(res, 404, 'not found');
      const body = await readFile(file);
      res.writeHead(200, {
        'Content-Type': TYPES[path.extname(file)] ?? 'application/octet-stream',
        'Content-Length': body.length,
        'Cache-Control': 'no-cache',
        ...headers,
      });
      res.end(req.method === 'HEAD' ? undefined : body);
    } catch {
      reply(res, 404, 'not found');
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const { port: actual } = server.address();
      resolve({ url: `http://127.0.0.1:${actual}/`, close: () => new Promise((r) => server.close(r)) });
    });
  });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [dir, port] = process.argv.slice(2);
  if (!dir) {
    console.error('usage: node tests/web/serve.mjs DIR [PORT]');
    process.exit(2);
  }
  const { url } = await startStaticServer(dir, Number(port ?? 0));
  console.log(url);
}
