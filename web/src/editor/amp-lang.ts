// amp-lang.ts — the .amp language for CodeMirror: a stream highlighter
// (lang/SPEC.md's tokens: keywords, unit suffixes, numbers, strings,
// comments, operators, `..`, the reductions, a function's or a table's
// name where it is defined), completion of keywords, of the library's nodes
// with their ports and params, of the text's own functions and tables and,
// after `lib.`, of the nodes and functions of the file imported `as lib`;
// hover help for a node's or function's name and for the keywords of
// functions, tables, loops and named imports (lang/SPEC.md §4, §8, §9).

import { StreamLanguage, type StreamParser } from '@codemirror/language';
import type { Completion, CompletionContext, CompletionResult } from '@codemirror/autocomplete';
import { hoverTooltip, type Tooltip } from '@codemirror/view';
import { tagHighlighter, tags } from '@lezer/highlight';

/** The keywords of lang/lex.re. */
export const KEYWORDS = [
  'import', 'node', 'patch', 'in', 'out', 'param', 'state', 'let', 'process', 'voice', 'voices', 'steal',
  'smooth', 'step', 'table', 'delay', 'as', 'faust', 'fn', 'for',
];
/** The reductions of §9 (`min` and `max` with two arguments are the usual
 *  functions). */
export const REDUCTIONS = ['sum', 'product', 'min', 'max'];
/** The unit suffixes a number may carry. */
export const UNITS = ['hz', 'khz', 'ms', 's', 'db'];
/** Names every patch sees (SPEC.md): the note's fields, the rate, pi. */
const BUILTINS = ['note', 'SR', 'pi', 'out', 'voices'];
const FUNCTIONS = ['sin', 'cos', 'tan', 'exp', 'exp2', 'log', 'log2', 'pow', 'sqrt', 'abs', 'clamp', 'fract',
  'floor', 'ceil', 'tanh', 'select', 'mix', 'db2lin', 'lin2db', 'mtof'];

/** Hover help for the keywords of §4, §8 and §9, and for `..`. */
export const KEYWORD_HELP: Record<string, string> = {
  fn: 'fn name(a, b, …) = expr;  — a pure function at the top of a file (§8): its body reads only its parameters, ' +
      'constants, SR, built-in and other functions. Each call is inlined; units flow through the body; no recursion.',
  for: 'for k in a..b { … }  — repeats the instances, connections and loops inside for k = a … b − 1 (§9); ' +
       'the bounds are constants. At most 4096 items in all.',
  in: 'in x, y;  — a node\'s inputs (§2).  param p = v in [lo, hi]  — a param\'s range.  for k in a..b  — a loop\'s range (§9).',
  table: 'table name = [e0, e1, …];  — a table of values (§9); name[k] is entry k (from 0) with its unit, k a constant ' +
         'or a loop variable. table t[64] = expr;  — a sized table read at run time with t.at(x), t.lerp(x).',
  as: 'import "file.amp" as lib;  — loads the file under the name lib (§4): its nodes as lib.node(…), its functions as ' +
      'lib.f(…); its names do not join the common name space.',
  import: 'import "file.amp";  — the nodes, patches and functions of another file join this one\'s names (§4). ' +
          'import "file.amp" as lib;  — under the name lib.',
  '..': 'a..b  — a loop\'s range (§9): a, a + 1, …, b − 1 (0..7 runs seven times).',
  sum: 'sum(t)  — the sum of a table\'s entries, or of one output of an array of instances (sum(saws.y)), ' +
       'as a balanced tree (§9).',
  product: 'product(t)  — the product of a table\'s entries or of one output of an array of instances (§9).',
  min: 'min(t)  — the least entry of a table or output of an array of instances (§9); min(x, y) of two values.',
  max: 'max(t)  — the greatest entry of a table or output of an array of instances (§9); max(x, y) of two values.',
};

/** `prev`: the keyword before this word (a name after `fn` or `table` is
 *  being defined, one after `as` names an import). */
interface State { comment: boolean; depth: number; prev: string }

const keywordSet = new Set(KEYWORDS);
const unitSet = new Set(UNITS);
const builtinSet = new Set(BUILTINS);
const reductionSet = new Set(REDUCTIONS);

const parser: StreamParser<State> = {
  name: 'amp',
  startState: () => ({ comment: false, depth: 0, prev: '' }),
  copyState: (s) => ({ ...s }),
  token(stream, state) {
    if (state.comment) {
      if (stream.skipTo('*/')) { stream.pos += 2; state.comment = false; } else stream.skipToEnd();
      return 'comment';
    }
    if (stream.eatSpace()) return null;
    if (stream.match('//')) { stream.skipToEnd(); return 'comment'; }
    if (stream.match('/*')) { state.comment = true; return 'comment'; }
    if (stream.match(/^"(?:[^"\\]|\\.)*"?/)) return 'string';
    const prev = state.prev;
    state.prev = '';
    if (stream.match('..')) return 'range';   // before a number: `0..9` is 0, .., 9
    if (stream.match(/^(?:\d+(?:\.(?!\.)\d*)?|\.\d+)(?:[eE][+-]?\d+)?/)) return 'number';
    if (stream.match('->')) return 'operator';
    if (stream.match(/^[+\-*/%<>=!&|^?:]+/)) return 'operator';
    const punct = stream.match(/^[{}()[\],;.]/) as RegExpMatchArray | null;
    if (punct) {
      if (punct[0] === '{' || punct[0] === '(' || punct[0] === '[') state.depth++;
      else if (punct[0] === '}' || punct[0] === ')' || punct[0] === ']') state.depth = Math.max(0, state.depth - 1);
      return 'punctuation';
    }
    const word = stream.match(/^[A-Za-z_][A-Za-z0-9_]*/) as RegExpMatchArray | null;
    if (word) {
      const w = word[0];
      if (keywordSet.has(w)) {
        state.prev = w;
        return 'keyword';
      }
      if (prev === 'fn') return 'fnName';
      if (prev === 'table') return 'tableName';
      if (prev === 'as') return 'namespace';
      if (unitSet.has(w)) return 'unit';
      if (builtinSet.has(w)) return 'atom';
      if (reductionSet.has(w) && stream.match(/^\s*\(/, false)) return 'reduction';
      if (stream.match(/^\s*\(/, false)) return 'variableName.function';
      return 'variableName';
    }
    stream.next();
    return null;
  },
  /** One unit per open bracket; a line starting with a closing one goes
   *  back one. */
  indent(state, textAfter, context) {
    if (state.comment) return null;
    const close = /^\s*[}\])]/.test(textAfter) ? 1 : 0;
    return Math.max(0, state.depth - close) * context.unit;
  },
  languageData: {
    indentOnInput: /^\s*[}\])]$/, commentTokens: { line: '//', block: { open: '/*', close: '*/' } }, closeBrackets: { brackets: ['(', '[', '{', '"'] } },
  tokenTable: {
    unit: tags.unit, range: tags.special(tags.operator), reduction: tags.standard(tags.function(tags.variableName)),
    fnName: tags.definition(tags.function(tags.variableName)), tableName: tags.definition(tags.variableName),
    namespace: tags.namespace,
  },
};

export const ampLanguage = StreamLanguage.define(parser);

/** Plain class names for the tokens (amp-tok-*), alongside the page's
 *  colours: what a test (or a user style sheet) reads. */
export const ampTokenClasses = tagHighlighter([
  { tag: tags.keyword, class: 'amp-tok-keyword' },
  { tag: tags.unit, class: 'amp-tok-unit' },
  { tag: tags.number, class: 'amp-tok-number' },
  { tag: tags.string, class: 'amp-tok-string' },
  { tag: tags.comment, class: 'amp-tok-comment' },
  { tag: tags.special(tags.operator), class: 'amp-tok-range' },
  { tag: tags.operator, class: 'amp-tok-operator' },
  { tag: tags.atom, class: 'amp-tok-atom' },
  { tag: tags.standard(tags.function(tags.variableName)), class: 'amp-tok-reduction' },
  { tag: tags.definition(tags.function(tags.variableName)), class: 'amp-tok-fn-def' },
  { tag: tags.function(tags.variableName), class: 'amp-tok-call' },
  { tag: tags.definition(tags.variableName), class: 'amp-tok-table-def' },
  { tag: tags.namespace, class: 'amp-tok-namespace' },
  { tag: tags.variableName, class: 'amp-tok-name' },
]);

// ---- the library: nodes, their ports and params ------------------------------------

/** A node, a patch or (kind 'fn') a function of a library file; a
 *  function's parameters are in `inputs`, its body in `body`. */
export interface NodeInfo {
  name: string;
  kind: 'node' | 'patch' | 'fn';
  file: string;
  inputs: string[];
  outputs: string[];
  params: { name: string; text: string }[];
  doc: string;
  body?: string;
}

/** The functions a text defines (`fn NAME(a, b) = body;` at the top). */
export function scanFunctions(file: string, text: string): NodeInfo[] {
  const out: NodeInfo[] = [];
  const re = /^[ \t]*fn\s+([A-Za-z_][A-Za-z0-9_]*)\s*\(([^)]*)\)\s*=\s*([^;]*);/gm;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const args = m[2]!.split(',').map((a) => a.trim()).filter(Boolean);
    out.push({ name: m[1]!, kind: 'fn', file, inputs: args, outputs: [], params: [], doc: '', body: m[3]!.trim() });
  }
  return out;
}

/** The tables a text defines: `table NAME = [` or `table NAME[N]`. */
export function scanTables(text: string): { name: string; text: string }[] {
  const out: { name: string; text: string }[] = [];
  const re = /\btable\s+([A-Za-z_][A-Za-z0-9_]*)\s*(=\s*\[[^\]]*\]?|\[[^\]]*\])/g;
  for (let m = re.exec(text); m; m = re.exec(text)) out.push({ name: m[1]!, text: m[2]!.replace(/\s+/g, ' ').slice(0, 60) });
  return out;
}

/** The named imports of a text: alias -> path as written. */
export function scanImports(text: string): Map<string, string> {
  const out = new Map<string, string>();
  const re = /\bimport\s+"([^"]*)"\s+as\s+([A-Za-z_][A-Za-z0-9_]*)\s*;/g;
  for (let m = re.exec(text); m; m = re.exec(text)) out.set(m[2]!, m[1]!);
  return out;
}

/** Whether an import's path names the library file `file` (the library's
 *  paths are relative to its root: `std/osc.amp`; an import may be written
 *  relative to another file, `../std/osc.amp`). */
function sameFile(imported: string, file: string): boolean {
  const parts: string[] = [];
  for (const p of imported.split('/')) {
    if (p === '..' ) parts.pop();
    else if (p && p !== '.') parts.push(p);
  }
  const norm = parts.join('/');
  return norm === file || norm.endsWith(`/${file}`) || file.endsWith(`/${norm}`);
}

/** The nodes, patches a library file defines, read off its text (a
 *  light scan of `node NAME {` blocks: `in`, `out`, `param` lines). */
export function scanLibrary(file: string, text: string): NodeInfo[] {
  const out: NodeInfo[] = [];
  const lines = text.split('\n');
  let current: NodeInfo | null = null;
  let depth = 0;
  let comments: string[] = [];
  for (const raw of lines) {
    const line = raw.replace(/\/\/.*$/, '').trim();
    const comment = raw.match(/^\s*\/\/\s?(.*)$/);
    if (!current) {
      if (comment) { comments.push(comment[1] ?? ''); continue; }
      const m = line.match(/^(node|patch)\s+([A-Za-z_][A-Za-z0-9_]*)/);
      if (m) {
        current = { name: m[2]!, kind: m[1] as 'node' | 'patch', file, inputs: [], outputs: [], params: [], doc: comments.join(' ').trim() };
        depth = 0;
      }
      if (!line) comments = [];
      if (!m) continue;
    }
    if (current && depth === 1) {
      const io = line.match(/^(in|out)\s+([^;]*);/);
      if (io) {
        const names = io[2]!.split(',').map((s) => s.trim()).filter(Boolean);
        (io[1] === 'in' ? current.inputs : current.outputs).push(...names);
      }
      const p = line.match(/^param\s+([A-Za-z_][A-Za-z0-9_]*)\s*(.*);/);
      if (p) current.params.push({ name: p[1]!, text: p[2]!.trim() });
    }
    for (const ch of line) {
      if (ch === '{') depth++;
      else if (ch === '}') depth--;
    }
    if (current && depth <= 0 && line.includes('}')) {
      out.push(current);
      current = null;
      comments = [];
    }
  }
  out.push(...scanFunctions(file, text));
  return out;
}

export function signature(n: NodeInfo): string {
  if (n.kind === 'fn') return `fn ${n.name}(${n.inputs.join(', ')})${n.body ? ` = ${n.body}` : ''}`;
  const args = n.params.map((p) => p.name).concat(n.inputs);
  return `${n.name}(${args.map((a) => `${a}:`).join(', ')})`;
}

function nodeOption(n: NodeInfo, detail = n.file): Completion {
  if (n.kind === 'fn')
    return { label: n.name, type: 'function', detail: `fn ${detail}`, info: signature(n) };
  return {
    label: n.name, type: n.kind === 'node' ? 'class' : 'namespace', detail,
    info: `${signature(n)}${n.outputs.length ? ` → ${n.outputs.join(', ')}` : ''}${n.doc ? `\n\n${n.doc}` : ''}`,
  };
}

/** Completion: keywords, units, built-in names, library nodes (inserted as
 *  a call with its params), the text's own functions and tables; after
 *  `x.` the outputs of x's node, after `lib.` (an `import "…" as lib;`)
 *  that file's nodes and functions. */
export function ampCompletions(library: () => NodeInfo[]) {
  return (context: CompletionContext): CompletionResult | null => {
    const member = context.matchBefore(/[A-Za-z_][A-Za-z0-9_]*(?:\[[^\]]*\])?\.[A-Za-z_0-9]*/);
    const nodes = library();
    const text = context.state.doc.toString();
    if (member) {
      const inst = member.text.slice(0, member.text.lastIndexOf('.'));
      const base = inst.replace(/\[.*$/, '');
      const imported = scanImports(text).get(base);
      let options: Completion[] = [];
      if (imported !== undefined && inst === base) {
        options = nodes.filter((n) => sameFile(imported, n.file)).map((n) => nodeOption(n, `${base} (${n.file})`));
      } else if (base === 'note') {
        options = ['freq', 'gate', 'vel', 'key'].map((l) => ({ label: l, type: 'property' }));
      } else {
        // `x = node(` or `x[k] = node(` or `x = lib.node(`.
        const bound = text.match(new RegExp(`\\b${base}\\s*(?:\\[[^\\]]*\\])?\\s*=\\s*(?:([A-Za-z_][A-Za-z0-9_]*)\\.)?([A-Za-z_][A-Za-z0-9_]*)\\s*\\(`));
        let node: NodeInfo | undefined;
        if (bound) {
          const from = bound[1] ? scanImports(text).get(bound[1]) : undefined;
          node = nodes.find((n) => n.name === bound[2] && n.kind !== 'fn' && (from === undefined || sameFile(from, n.file)));
        }
        if (node) options = node.outputs.map((o) => ({ label: o, type: 'property', detail: `${node!.name} output` }));
      }
      if (!options.length) return null;
      return { from: member.from + inst.length + 1, options, validFor: /^[A-Za-z0-9_]*$/ };
    }
    const word = context.matchBefore(/[A-Za-z_][A-Za-z0-9_]*/);
    if (!word && !context.explicit) return null;
    // Inside a call: the node's params and inputs as `name:`.
    const before = context.state.sliceDoc(Math.max(0, context.pos - 400), context.pos);
    const call = before.match(/([A-Za-z_][A-Za-z0-9_]*)\s*\(([^()]*)$/);
    const options: Completion[] = [];
    const own = scanFunctions('this patch', text);
    if (call) {
      const node = nodes.find((n) => n.name === call[1]) ?? own.find((n) => n.name === call[1]);
      if (node) {
        for (const p of node.params) options.push({ label: `${p.name}:`, type: 'property', detail: p.text, boost: 5 });
        for (const i of node.inputs) options.push({ label: `${i}:`, type: 'property', detail: 'input', boost: 4 });
      }
    }
    for (const k of KEYWORDS) options.push(KEYWORD_HELP[k] ? { label: k, type: 'keyword', info: KEYWORD_HELP[k]! } : { label: k, type: 'keyword' });
    for (const u of UNITS) options.push({ label: u, type: 'constant', detail: 'unit' });
    for (const b of BUILTINS) options.push({ label: b, type: 'variable' });
    for (const f of FUNCTIONS) options.push({ label: f, type: 'function' });
    for (const r of REDUCTIONS) options.push({ label: r, type: 'function', detail: 'reduction', info: KEYWORD_HELP[r]! });
    for (const f of own) options.push({ ...nodeOption(f, 'this patch'), boost: 2 });
    for (const t of scanTables(text)) options.push({ label: t.name, type: 'variable', detail: `table ${t.text}`, boost: 2 });
    for (const alias of scanImports(text).keys()) options.push({ label: alias, type: 'namespace', detail: 'import' });
    const ownNames = new Set(own.map((f) => f.name));
    for (const n of nodes) if (!ownNames.has(n.name)) options.push(nodeOption(n));
    return { from: word ? word.from : context.pos, options, validFor: /^[A-Za-z0-9_]*$/ };
  };
}

/** Hover on a library node's or a function's name: its file, signature,
 *  outputs, comment; on a keyword of §4, §8, §9 (and `..`, a reduction):
 *  its help (KEYWORD_HELP). */
export function ampHover(library: () => NodeInfo[]) {
  return hoverTooltip((view, pos): Tooltip | null => {
    const line = view.state.doc.lineAt(pos);
    let start = pos, end = pos;
    while (start > line.from && /\w/.test(line.text[start - line.from - 1]!)) start--;
    while (end < line.to && /\w/.test(line.text[end - line.from]!)) end++;
    if (start === end) {
      // `..` under the pointer
      const at = pos - line.from;
      const i = line.text.slice(Math.max(0, at - 1), at + 2).indexOf('..');
      if (i < 0) return null;
      start = line.from + Math.max(0, at - 1) + i;
      end = start + 2;
    }
    const word = line.text.slice(start - line.from, end - line.from);
    const text = view.state.doc.toString();
    const before = line.text.slice(0, start - line.from);
    const alias = /([A-Za-z_][A-Za-z0-9_]*)\.$/.exec(before)?.[1];
    const importedFrom = alias ? scanImports(text).get(alias) : undefined;
    const own = scanFunctions('this patch', text);
    const node = importedFrom !== undefined ? library().find((n) => n.name === word && sameFile(importedFrom, n.file))
      : own.find((n) => n.name === word) ?? library().find((n) => n.name === word);
    const help = KEYWORD_HELP[word];
    const isCall = /^\s*\(/.test(line.text.slice(end - line.from));
    if (help && (!node || (REDUCTIONS.includes(word) && isCall)) &&
        (!REDUCTIONS.includes(word) || isCall)) {
      return {
        pos: start, end, above: true,
        create: () => {
          const dom = document.createElement('div');
          dom.className = 'amp-hover amp-hover-keyword';
          const head = document.createElement('div');
          head.className = 'amp-hover-sig';
          head.textContent = word;
          const d = document.createElement('div');
          d.className = 'amp-hover-doc';
          d.textContent = help;
          dom.append(head, d);
          return { dom };
        },
      };
    }
    if (!node) return null;
    return {
      pos: start, end, above: true,
      create: () => {
        const dom = document.createElement('div');
        dom.className = 'amp-hover';
        const head = document.createElement('div');
        head.className = 'amp-hover-sig';
        head.textContent = `${signature(node)}${node.outputs.length ? ` → ${node.outputs.join(', ')}` : ''}`;
        dom.appendChild(head);
        const from = document.createElement('div');
        from.className = 'amp-hover-file';
        from.textContent = node.kind === 'fn' ? `function in ${node.file}` : `${node.kind} in ${node.file}`;
        dom.appendChild(from);
        for (const p of node.params) {
          const row = document.createElement('div');
          row.className = 'amp-hover-param';
          row.textContent = `param ${p.name} ${p.text}`;
          dom.appendChild(row);
        }
        if (node.doc) {
          const d = document.createElement('div');
          d.className = 'amp-hover-doc';
          d.textContent = node.doc;
          dom.appendChild(d);
        }
        return { dom };
      },
    };
  });
}
