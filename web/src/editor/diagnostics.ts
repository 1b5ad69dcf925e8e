// diagnostics.ts — ampc's messages (`patch.amp:LINE:COL: error: MESSAGE`,
// then the source line and a caret) as editor diagnostics.

export interface AmpcDiagnostic {
  /** The file ampc named (patch.amp for the editor's text, else an import). */
  file: string;
  line: number;
  col: number;
  severity: 'error' | 'warning' | 'info';
  message: string;
}

const HEAD = /^([^:\n]+):(\d+):(\d+): (error|warning|note): (.*)$/;

/** Every `FILE:LINE:COL: SEVERITY: MESSAGE` line of ampc's output, in
 *  order (the quoted source and caret lines are skipped). */
export function parseAmpcDiagnostics(text: string): AmpcDiagnostic[] {
  const out: AmpcDiagnostic[] = [];
  for (const line of text.split('\n')) {
    const m = HEAD.exec(line);
    if (!m) continue;
    const sev = m[4] === 'note' ? 'info' : (m[4] as 'error' | 'warning');
    out.push({ file: m[1]!, line: Number(m[2]), col: Number(m[3]), severity: sev, message: m[5]! });
  }
  return out;
}

/** Document offsets of a diagnostic: its column on its line (1-based, in
 *  bytes as ampc counts; the editor's text is UTF-16, so non-ASCII before
 *  the column shifts it: counted here) to the end of the word there. A
 *  diagnostic of another file (an import) goes on line 1. */
export function diagnosticRange(doc: { lines: number; line(n: number): { from: number; to: number; text: string } },
                                d: AmpcDiagnostic, mainFile = 'patch.amp'): { from: number; to: number } {
  if (d.file !== mainFile) {
    const l = doc.line(1);
    return { from: l.from, to: l.to };
  }
  const l = doc.line(Math.min(Math.max(1, d.line), doc.lines));
  const bytes = new TextEncoder().encode(l.text);
  const prefix = new TextDecoder().decode(bytes.subarray(0, Math.max(0, d.col - 1)));
  const from = l.from + Math.min(prefix.length, l.text.length);
  const rest = l.text.slice(from - l.from);
  const word = /^[A-Za-z0-9_.]+/.exec(rest);
  const to = word ? from + word[0].length : Math.min(from + 1, l.to);
  return { from, to: Math.max(to, from) };
}
