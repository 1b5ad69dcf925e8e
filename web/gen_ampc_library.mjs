// gen_ampc_library.mjs — the library for ampc.wasm in the editor's worker
// (web/src/editor/ampc-worker.ts): every .amp and .dsp file under the
// library folder, as ampd's compile service sees it through its `lib`
// link (server/api_compile.c), in one JSON document:
//
//   node web/gen_ampc_library.mjs LIBRARY_DIR > ampc-library.json
//   { "root": "lib", "files": { "lib/std/osc.amp": "<text>", ... } }
//
// Paths are sorted and use '/'; the texts are the files' bytes as UTF-8.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

const root = process.argv[2];
if (!root) {
  console.error('usage: node web/gen_ampc_library.mjs LIBRARY_DIR');
  process.exit(2);
}
const files = {};
function walk(dir, rel) {
  for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) walk(path.join(dir, e.name), r);
    else if (e.isFile() && /\.(amp|dsp)$/.test(e.name)) files[`lib/${r}`] = readFileSync(path.join(dir, e.name), 'utf8');
  }
}
walk(root, '');
process.stdout.write(`${JSON.stringify({ root: 'lib', files }, null, 1)}\n`);
