// instrument.tsx — the selected instrument track's instrument: one slider
// per param of its patch (engine.json's metadata for a built-in, the
// compile service's for a library patch: range, step, unit), in the
// param's own range. A drag is one undo step (coalesced while the pointer
// is down); a double click puts the default back. The value goes into the
// track's `params` (doc/edits.ts setParam), which Sync sends to the engine
// and the export renders. A patch with sample slots shows them above its
// params (samples.tsx: drop or load a WAV file). "Edit patch" opens the
// patch in the editor (a built-in as a copy to fork into the library);
// when the library has a newer revision of a library patch than the track
// plays, the panel offers it.

import { samePatch } from '../doc/edits';
import type { ParamInfo } from '../engine/layout';
import { patchRefOf } from '../engine/sink';
import type { Ctx } from './context';
import { useDoc, useLibrary, useViewOf } from './hooks';
import { isLibraryRef } from './library';
import { SampleSlots } from './samples';

function valueText(v: number, step: number, unit: string): string {
  const digits = step >= 1 ? 0 : step >= 0.1 ? 1 : step >= 0.01 ? 2 : 3;
  return `${v.toFixed(digits)}${unit ? ` ${unit}` : ''}`;
}

export function InstrumentPanel({ ctx }: { ctx: Ctx }): React.JSX.Element {
  const doc = useDoc(ctx);
  const view = { selectedTrack: useViewOf(ctx, (v) => v.selectedTrack) };
  useLibrary(ctx);
  const track = doc.tracks.find((t) => t.id === view.selectedTrack);
  if (!track || track.kind !== 'instrument')
    return <div className="instrument-panel"><div className="empty-hint">Select an instrument track to see its instrument's controls.</div></div>;
  const lib = isLibraryRef(track.patch) ? track.patch : null;
  let title: string;
  let params: readonly Pick<ParamInfo, 'name' | 'default' | 'min' | 'max' | 'step' | 'unit'>[];
  if (lib) {
    const c = ctx.library.compiledOf(lib.library, lib.revision);
    title = `${ctx.library.nameOf(lib.library) ?? c?.meta.name ?? 'library patch'} r${lib.revision}`;
    params = c?.meta.params ?? [];
    if (!c) void ctx.library.compile(lib.library, lib.revision).then(() => ctx.library.notify(), () => undefined);
  } else {
    const patch = ctx.patches.find((p) => p.meta.kind === 'instrument' && samePatch(patchRefOf(p), track.patch));
    if (!patch) return <div className="instrument-panel"><div className="empty-hint">This track's instrument is not in this engine.</div></div>;
    title = patch.unit.replace(/_/g, ' ');
    params = patch.meta.params;
  }
  const latest = lib ? ctx.library.latestRevision(lib.library) : undefined;
  const set = (name: string, value: number): void => {
    ctx.act.setParam(track.id, name, value, `param-${track.id}-${name}`);
  };
  return (
    <div className="instrument-panel" data-testid="instrument-panel">
      <div className="instrument-title">
        {track.name} · {title}
        <button type="button" className="btn small" data-testid="edit-patch"
                title={lib ? 'Open this patch in the editor (a saved revision comes back here)' : 'Open a copy in the editor to fork it into your library'}
                onClick={() => ctx.editPatch(track.patch)}>{lib ? 'Edit patch' : 'Fork in editor'}</button>
        {lib && latest !== undefined && latest > lib.revision &&
          <button type="button" className="btn small accent" data-testid="update-patch"
                  title={`Revision ${latest} was saved; this track plays revision ${lib.revision}`}
                  onClick={() => void ctx.updatePatch(lib.library, latest)}>Use revision {latest}</button>}
      </div>
      <SampleSlots ctx={ctx} track={track} index={doc.tracks.indexOf(track)} />
      <div className="params">
        {params.map((p) => {
          const v = track.params?.[p.name] ?? p.default;
          const step = p.step > 0 ? p.step : (p.max - p.min) / 1000;   // for the shown digits
          return (
            <label key={p.name} className="param" data-param={p.name} title={`${p.name}: ${p.min} to ${p.max}${p.unit ? ` ${p.unit}` : ''}`}>
              <span className="param-name">{p.name.replace(/_/g, ' ')}</span>
              <input type="range" min={p.min} max={p.max} step={p.step > 0 ? p.step : 'any'} value={v} aria-label={p.name}
                     onChange={(e) => set(p.name, Math.min(p.max, Math.max(p.min, Number(e.target.value))))}
                     onPointerUp={() => ctx.store.endCoalesce()}
                     onDoubleClick={() => set(p.name, p.default)} />
              <span className="param-value">{valueText(v, step, p.unit)}</span>
            </label>
          );
        })}
      </div>
    </div>
  );
}
