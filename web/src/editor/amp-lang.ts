// amp-lang.ts — the .amp language for CodeMirror: a stream highlighter
// (lang/SPEC.md's tokens: keywords, unit suffixes, numbers, strings,
// comments, operators), completion of keywords and of the library's nodes
// with their ports and params, and hover help for a node's name.

import { StreamLanguage, type StreamParser } from '@codemirror/language';
import type { Completion, CompletionContext, CompletionResult } from '@codemirror/autocomplete';
import { hoverTooltip, type Tooltip } from '@codemirror/view';
import { tags } from '@lezer/highlight';

/** The keywords of lang/lex.re. */
export const KEYWORDS = [
  'import', 'node', 'patch', 'in', 'out', 'param', 'state', 'let', 'process', 'voice', 'voices', 'steal',
  'smooth', 'step', 'table', 'delay', 'as', 'faust',
];
/** The unit suffixes a number may carry. */
export const UNITS = ['hz', 'khz', 'ms', 's', 'db'];
/** Names every patch sees (SPEC.md): the note's fields, the rate, pi. */
const BUILTINS = ['note', 'SR', 'pi', 'out', 'voices'];
const FUNCTIONS = ['sin', 'cos', 'tan', 'exp', 'log', 'log2', 'pow', 'sqrt', 'abs', 'min', 'max', 'clamp', 'fract',
  'floor', 'ceil', 'tanh', 'select', 'mix', 'db2lin', 'lin2db', 'mtof'];

interface State { comment: boolean; depth: number }

const keywordSet = new Set(KEYWORDS);
const unitSet = new Set(UNITS);
const builtinSet = new Set(BUILTINS);

const parser: StreamParser<State> = {
  name: 'amp',
  startState: () => ({ comment: false, depth: 0 }),
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
    if (stream.match(/^(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/)) return 'number';
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
      if (keywordSet.has(w)) return 'keyword';
      if (unitSet.has(w)) return 'unit';
      if (builtinSet.has(w)) return 'atom';
      if (stream.match(/^\s*\(/, false)) return 'function';
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
  tokenTable: { unit: tags.unit },
};

export const ampLanguage = StreamLanguage.define(parser);

// ---- the library: nodes, their ports and params ------------------------------------

export interface NodeInfo {
  name: string;
  kind: 'node' | 'patch';
  file: string;
  inputs: string[];
  outputs: string[];
  params: { name: string; text: string }[];
  doc: string;
}

/** The nodes and patches a library file defines, read off its text (a
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
  return out;
}

export function signature(n: NodeInfo): string {
  const args = n.params.map((p) => p.name).concat(n.inputs);
  return `${n.name}(${args.map((a) => `${a}:`).join(', ')})`;
}

/** Completion: keywords, units, built-in names, library nodes (inserted as
 *  a call with its params), and after `x.` the outputs of x's node. */
export function ampCompletions(library: () => NodeInfo[]) {
  return (context: CompletionContext): CompletionResult | null => {
    const member = context.matchBefore(/[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_0-9]*/);
    const nodes = library();
    if (member) {
      const [inst] = member.text.split('.');
      const text = context.state.doc.toString();
      const bound = text.match(new RegExp(`\\b${inst}\\s*=\\s*([A-Za-z_][A-Za-z0-9_]*)\\s*\\(`));
      const node = bound ? nodes.find((n) => n.name === bound[1]) : undefined;
      let options: Completion[] = [];
      if (inst === 'note') options = ['freq', 'gate', 'vel', 'key'].map((l) => ({ label: l, type: 'property' }));
      else if (node) options = node.outputs.map((o) => ({ label: o, type: 'property', detail: `${node.name} output` }));
      if (!options.length) return null;
      return { from: member.from + inst!.length + 1, options, validFor: /^[A-Za-z0-9_]*$/ };
    }
    const word = context.matchBefore(/[A-Za-z_][A-Za-z0-9_]*/);
    if (!word && !context.explicit) return null;
    // Inside a call: the node's params and inputs as `name:`.
    const before = context.state.sliceDoc(Math.max(0, context.pos - 400), context.pos);
    const call = before.match(/([A-Za-z_][A-Za-z0-9_]*)\s*\(([^()]*)$/);
    const options: Completion[] = [];
    if (call) {
      const node = nodes.find((n) => n.name === call[1]);
      if (node) {
        for (const p of node.params) options.push({ label: `${p.name}:`, type: 'property', detail: p.text, boost: 5 });
        for (const i of node.inputs) options.push({ label: `${i}:`, type: 'property', detail: 'input', boost: 4 });
      }
    }
    for (const k of KEYWORDS) options.push({ label: k, type: 'keyword' });
    for (const u of UNITS) options.push({ label: u, type: 'constant', detail: 'unit' });
    for (const b of BUILTINS) options.push({ label: b, type: 'variable' });
    for (const f of FUNCTIONS) options.push({ label: f, type: 'function' });
    for (const n of nodes) {
      options.push({
        label: n.name, type: n.kind === 'node' ? 'class' : 'namespace', detail: `${n.file}`,
        info: `${signature(n)}${n.outputs.length ? ` → ${n.outputs.join(', ')}` : ''}${n.doc ? `\n\n${n.doc}` : ''}`,
      });
    }
    return { from: word ? word.from : context.pos, options, validFor: /^[A-Za-z0-9_]*$/ };
  };
}

/** Hover on a library node's name: its file, signature, outputs, comment. */
export function ampHover(library: () => NodeInfo[]) {
  return hoverTooltip((view, pos): Tooltip | null => {
    const line = view.state.doc.lineAt(pos);
    let start = pos, end = pos;
    while (start > line.from && /\w/.test(line.text[start - line.from - 1]!)) start--;
    while (end < line.to && /\w/.test(line.text[end - line.from]!)) end++;
    if (start === end) return null;
    const word = line.text.slice(start - line.from, end - line.from);
    const node = library().find((n) => n.name === word);
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
        from.textContent = `${node.kind} in ${node.file}`;
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
