// mixer.tsx — one strip per track and the master: meter (canvas, from
// telemetry), fader in dB, pan, mute and solo, and the sends to buses.
// A fader gesture is one undo step (coalesced while the pointer is down).

import type { TrackDoc } from '../doc/project';
import type { Ctx } from './context';
import { addInsert, removeInsert } from '../doc/edits';
import { patchRefOf } from '../engine/sink';
import { patchLabel } from './faults';
import { useDoc, useLibrary, usePolled, useViewOf } from './hooks';
import { title } from './tracks';
import { Meter } from './meters';

const FADER_MIN = -60;   // the fader's bottom; below it, -inf (the document's -150)
const FADER_MAX = 6;

function dbText(db: number): string {
  if (db <= FADER_MIN) return '-∞';
  return `${db > 0 ? '+' : ''}${db.toFixed(1)}`;
}

function panText(pan: number): string {
  if (Math.abs(pan) < 0.005) return 'C';
  return `${Math.round(Math.abs(pan) * 100)}${pan < 0 ? 'L' : 'R'}`;
}

export function Mixer({ ctx }: { ctx: Ctx }): React.JSX.Element {
  const doc = useDoc(ctx);
  const view = { selectedTrack: useViewOf(ctx, (v) => v.selectedTrack) };
  const buses = doc.tracks.filter((t) => t.kind === 'bus');
  const master = doc.master?.gain_db ?? 0;
  return (
    <div className="mixer" data-testid="mixer">
      <div className="strips">
        {doc.tracks.map((t) => <Strip key={t.id} ctx={ctx} track={t} buses={buses} selected={t.id === view.selectedTrack} />)}
        {doc.tracks.length === 0 && <div className="empty-hint">No tracks yet.</div>}
      </div>
      <div className="strip master">
        <div className="strip-name">Master</div>
        <div className="strip-body">
          <Meter ctx={ctx} target="master" />
          <Fader value={master} label="Master volume"
                 onChange={(db, key) => ctx.act.setMasterGain(db, key)} onEnd={() => ctx.store.endCoalesce()} />
        </div>
        <div className="strip-value">{dbText(master)} dB</div>
        <LimitBadge ctx={ctx} />
      </div>
    </div>
  );
}

function Strip({ ctx, track, buses, selected }: { ctx: Ctx; track: TrackDoc; buses: TrackDoc[]; selected: boolean }): React.JSX.Element {
  const fader = track.fader ?? {};
  const gain = fader.gain_db ?? 0, pan = fader.pan ?? 0;
  const targets = buses.filter((b) => b.id !== track.id && (track.kind !== 'bus' || isAfter(ctx, track.id, b.id)));
  const sends = track.sends ?? [];
  return (
    <div className={`strip${selected ? ' selected' : ''}`} data-track={track.id}
         onPointerDown={() => ctx.view.set({ selectedTrack: track.id })}>
      <div className="strip-name" style={{ borderColor: track.ui?.color ?? '#4cc2ff' }} title={track.name}>{track.name}</div>
      <div className="pan-row">
        <input type="range" className="pan" min={-1} max={1} step={0.01} value={pan} aria-label="Pan"
               onChange={(e) => ctx.act.setPan(track.id, Number(e.target.value), `pan-${track.id}`)}
               onPointerUp={() => ctx.store.endCoalesce()}
               onDoubleClick={() => ctx.act.setPan(track.id, 0)} />
        <span className="pan-value">{panText(pan)}</span>
      </div>
      <div className="strip-body">
        <Meter ctx={ctx} target={track.id} />
        <Fader value={gain} label={`${track.name ?? 'Track'} volume`}
               onChange={(db, key) => ctx.act.setGain(track.id, db, `${key}-${track.id}`)}
               onEnd={() => ctx.store.endCoalesce()} />
      </div>
      <div className="strip-value">{dbText(gain)} dB</div>
      <div className="strip-buttons">
        <button type="button" className={`tbtn mute${fader.mute ? ' on' : ''}`}
                onClick={() => ctx.act.setMute(track.id, !fader.mute)}>M</button>
        <button type="button" className={`tbtn solo${fader.solo ? ' on' : ''}`}
                onClick={() => ctx.act.setSolo(track.id, !fader.solo)}>S</button>
      </div>
      <Inserts ctx={ctx} track={track} />
      <div className="sends">
        {sends.map((s) => {
          const bus = targets.find((b) => b.id === s.bus);
          return (
            <div className="send" key={s.bus}>
              <span className="send-name" title={bus?.name}>{bus?.name ?? `Bus ${s.bus}`}</span>
              <input type="range" min={FADER_MIN} max={FADER_MAX} step={0.5} value={Math.max(FADER_MIN, s.level_db)}
                     aria-label={`Send to ${bus?.name ?? s.bus}`}
                     onChange={(e) => ctx.act.setSend(track.id, s.bus, toDb(Number(e.target.value)), `send-${track.id}-${s.bus}`)}
                     onPointerUp={() => ctx.store.endCoalesce()} />
              <button type="button" className="tbtn tiny" title="Remove send"
                      onClick={() => ctx.act.setSend(track.id, s.bus, null)}>✕</button>
            </div>
          );
        })}
        {targets.some((b) => !sends.some((s) => s.bus === b.id)) &&
          <select className="add-send" value="" aria-label="Add a send"
                  onChange={(e) => { if (e.target.value) ctx.act.setSend(track.id, Number(e.target.value), -12); }}>
            <option value="">+ Send</option>
            {targets.filter((b) => !sends.some((s) => s.bus === b.id))
              .map((b) => <option key={b.id} value={b.id}>{b.name}</option>)}
          </select>}
      </div>
    </div>
  );
}

/** A track's insert chain: each effect by name (a click on it opens it in
 *  the editor), ✕ removes it; "+ Effect" adds a built-in effect or one of
 *  the user's library patches (compiled first: library.ts). */
function Inserts({ ctx, track }: { ctx: Ctx; track: TrackDoc }): React.JSX.Element {
  useLibrary(ctx);
  const inserts = track.inserts ?? [];
  const effects = ctx.patches.filter((p) => p.meta.kind === 'effect');
  const mine = ctx.library.userPatches();
  return (
    <div className="inserts" data-testid="inserts">
      {inserts.map((ins, i) => (
        <div className="insert" key={i} data-slot={i + 1}>
          <button type="button" className="link insert-name" title="Edit this effect's patch"
                  onClick={() => ctx.editPatch(ins.patch)}>
            {patchLabel(ins.patch, (id) => ctx.library.nameOf(id))}</button>
          <button type="button" className="tbtn tiny" title="Remove the effect"
                  onClick={() => ctx.store.transact('Remove effect', (doc) => removeInsert(doc, track.id, i + 1))}>✕</button>
        </div>
      ))}
      {inserts.length < 8 &&
        <select className="add-insert" value="" aria-label="Add an effect" data-testid="add-insert"
                onFocus={() => ctx.library.refreshSoon()} onPointerDown={() => ctx.library.refreshSoon()}
                onChange={(e) => {
                  const v = e.target.value;
                  if (v.startsWith('lib:')) { void ctx.useLibraryPatch(track.id, v.slice(4), 1); return; }
                  const p = effects.find((x) => x.unit === v);
                  if (p) ctx.store.transact(`Add ${p.unit}`, (doc) => addInsert(doc, track.id, patchRefOf(p)));
                }}>
          <option value="">+ Effect</option>
          <optgroup label="Built-in">
            {effects.map((p) => <option key={p.unit} value={p.unit}>{title(p.unit)}</option>)}
          </optgroup>
          {mine.length > 0 &&
            <optgroup label="My patches">
              {mine.map((m) => <option key={m.id} value={`lib:${m.id}`}>{m.name} (r{m.revision})</option>)}
            </optgroup>}
        </select>}
    </div>
  );
}

/** "LIMIT" while the master's safety limit clips (faults.tsx). */
function LimitBadge({ ctx }: { ctx: Ctx }): React.JSX.Element | null {
  const on = usePolled(() => ctx.audio.meter('master')?.limited === true);
  return on ? <span className="limit-badge" data-testid="master-limit" title="The master's safety limit is clipping the mix at +12 dBFS">LIMIT</span> : null;
}

function isAfter(ctx: Ctx, trackId: number, busId: number): boolean {
  const tracks = ctx.store.doc.tracks;
  return tracks.findIndex((t) => t.id === busId) > tracks.findIndex((t) => t.id === trackId);
}

function toDb(v: number): number {
  return v <= FADER_MIN ? -150 : v;
}

function Fader({ value, label, onChange, onEnd }: {
  value: number; label: string; onChange: (db: number, key: string) => void; onEnd: () => void;
}): React.JSX.Element {
  return (
    <input type="range" className="fader" min={FADER_MIN} max={FADER_MAX} step={0.1}
           value={Math.max(FADER_MIN, Math.min(FADER_MAX, value))} aria-label={label}
           onChange={(e) => onChange(toDb(Number(e.target.value)), 'fader')}
           onPointerUp={onEnd} onKeyUp={onEnd}
           onDoubleClick={() => { onChange(0, 'fader-reset'); onEnd(); }} />
  );
}
