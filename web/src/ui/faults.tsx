// faults.tsx — what the engine's guards did, said plainly in the status
// line: a track's instrument or insert the signal guard silenced (NaN, Inf
// or a level beyond the guard's ceiling), named by the track and the
// patch, and the master's safety limit clipping the mix. The reports come
// from the telemetry store (engine/telemetry.ts: FaultReport,
// MasterLimitReport); the master meter shows the limit too (meters.tsx).
// A report closes when the user acts (Dismiss, a click on the master
// meter, any edit of the song) or a few seconds after the engine stopped
// counting.

import type { PatchRef, ProjectDoc } from '../doc/project';
import type { TelemetrySnapshot } from '../engine/telemetry';
import type { Daw } from './daw';
import { useDoc, usePolled } from './hooks';

/** A patch reference as the page names it: a built-in's unit (or its file
 *  name without .amp), a library patch's name when the page knows it. */
export function patchLabel(ref: PatchRef | undefined, libraryName?: (id: string, revision: number) => string | undefined): string {
  if (ref === undefined) return 'no patch';
  if (typeof ref === 'string') return fileStem(ref);
  if ('library' in ref) return ref.unit ?? libraryName?.(ref.library, ref.revision) ?? `library patch ${ref.library.slice(0, 8)}…`;
  if ('builtin' in ref) return ref.unit ?? fileStem(ref.builtin);
  return ref.unit ?? fileStem(ref.file);
}

function fileStem(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1).replace(/\.amp$/, '');
}

/** The sentences of the open reports, oldest first. */
export function faultLines(doc: ProjectDoc, t: TelemetrySnapshot,
                           libraryName?: (id: string, revision: number) => string | undefined): string[] {
  const lines: string[] = [];
  for (const r of t.faultReports) {
    const track = doc.tracks.find((x) => x.id === r.trackId);
    if (!track) continue;
    const name = `Track "${track.name ?? `#${track.id}`}"`;
    // A slot not seen (its bit cleared before the frame read it) is the
    // instrument's or the regions' when the track has no inserts.
    const slot = r.slot < 0 && !track.inserts?.length ? 0 : r.slot;
    let what: string;
    if (slot === 0 && track.kind === 'audio') what = 'its audio';
    else if (slot === 0) what = `instrument "${patchLabel(track.patch, libraryName)}"`;
    else if (slot > 0) {
      const ins = track.inserts?.[slot - 1];
      what = ins ? `insert ${slot} "${patchLabel(ins.patch, libraryName)}"` : `insert ${slot}`;
    } else what = 'a patch';
    lines.push(`${name}: ${what} gave NaN/Inf or an out-of-range level and was silenced` +
               ` (${r.calls} block${r.calls === 1 ? '' : 's'} muted).`);
  }
  if (t.masterLimit.active)
    lines.push(`Master safety limit: ${t.masterLimit.samples} samples clipped at +12 dBFS. Turn the loudest track or bus down.`);
  return lines;
}

/** The reports in the status line, with a Dismiss button. */
export function FaultNotice({ daw }: { daw: Daw }): React.JSX.Element | null {
  const doc = useDoc(daw.ctx);
  // Re-render when the reports open, close or change, not every frame.
  const key = usePolled(() => {
    const s = daw.audio.telemetry?.snapshot;
    return s ? `${s.faultVersion}:${s.faultReports.reduce((n, r) => n + r.calls, 0)}:${s.masterLimit.samples}` : '';
  });
  const t = daw.audio.telemetry?.snapshot;
  if (!t || !key) return null;
  const lines = faultLines(doc, t, (id, rev) => daw.libraryName(id, rev));
  if (!lines.length) return null;
  return (
    <span className="fault" role="alert" data-testid="fault" title={lines.join('\n')}>
      <span className="fault-text">⚠ {lines.join(' ')}</span>
      <button type="button" className="btn small" data-testid="fault-dismiss"
              onClick={() => daw.audio.telemetry?.dismissFaults()}>Dismiss</button>
    </span>
  );
}
