// layout_check.ts — what the generated layout.ts says, in the form
// `gen_layout --offsets` prints what the C compiler did.
//
//   node layout_check.js LAYOUT.json
//
// Prints one line per number the module exports, from the compiled module
// itself (not from the schema): "NAME value" for a constant or a struct's
// size, "STRUCT.field offset" and "STRUCT.field:type kind[count]" for each
// field. runtime/gen/gen.mk sorts the lines and compares them with the C
// lists (native and wasm32); any difference fails `make test-layout`.
// First it checks that LAYOUT.json (the copy tests/web read) holds exactly
// the module's numbers, and exits 1 if not.
//
// Built by runtime/gen/gen.mk with the strict web/tsconfig.json, beside a
// copy of the generated layout.ts; it needs nothing but node, so the one
// node API it uses is declared here rather than taken from @types/node.

import * as layout from './layout.js';

interface LayoutCheckFs {
  readFileSync(path: string, encoding: 'utf8'): string;
}
declare const process: { readonly argv: readonly string[]; exitCode?: number };

type LayoutNumbers = Record<string, number | Record<string, number>>;

/** The module's numbers: every export but LAYOUT_TYPES. */
function numbers(): LayoutNumbers {
  const out: LayoutNumbers = {};
  for (const [name, value] of Object.entries(layout)) {
    if (name === 'LAYOUT_TYPES') continue;
    if (typeof value === 'number') out[name] = value;
    else out[name] = { ...(value as Record<string, number>) };
  }
  return out;
}

function lines(n: LayoutNumbers): string[] {
  const out: string[] = [];
  for (const [name, value] of Object.entries(n)) {
    if (typeof value === 'number') {
      out.push(`${name} ${value}`);
      continue;
    }
    for (const [field, offset] of Object.entries(value)) out.push(`${name}.${field} ${offset}`);
  }
  for (const [name, fields] of Object.entries(layout.LAYOUT_TYPES))
    for (const [field, type] of Object.entries(fields as Record<string, string>))
      out.push(`${name}.${field}:type ${type}`);
  return out;
}

/** The same names and numbers, in any order. */
function sameNumbers(a: unknown, b: LayoutNumbers): boolean {
  if (typeof a !== 'object' || a === null) return false;
  const x = a as Record<string, unknown>;
  if (Object.keys(x).length !== Object.keys(b).length) return false;
  for (const [name, value] of Object.entries(b)) {
    const other = x[name];
    if (typeof value === 'number') {
      if (other !== value) return false;
      continue;
    }
    if (typeof other !== 'object' || other === null) return false;
    const fields = other as Record<string, unknown>;
    if (Object.keys(fields).length !== Object.keys(value).length) return false;
    for (const [field, offset] of Object.entries(value)) if (fields[field] !== offset) return false;
  }
  return true;
}

async function main(): Promise<void> {
  const jsonPath = process.argv[2];
  if (!jsonPath) throw new Error('usage: node layout_check.js LAYOUT.json');
  const fsName = 'node:fs';
  const fs = (await import(fsName)) as LayoutCheckFs;
  const n = numbers();
  if (!sameNumbers(JSON.parse(fs.readFileSync(jsonPath, 'utf8')), n)) {
    console.error(`layout_check: ${jsonPath} does not hold the numbers of layout.ts`);
    process.exitCode = 1;
    return;
  }
  for (const line of lines(n)) console.log(line);
}

main().catch((e: unknown) => {
  console.error(`layout_check: ${String(e)}`);
  process.exitCode = 1;
});
