// tracks.tsx — the track headers beside the arrangement: colour, name
// (double click to rename), the instrument (from the engine's library),
// its first sample slot's sample (a WAV file dropped on the header goes
// there; samples.tsx), mute, solo, record arm, delete; dragged by the grip
// to reorder. They scroll with the timeline's lanes (view.scrollY) and
// have its lane height.

import { useEffect, useRef, useState } from 'react';
import type { PatchRef, ProjectDoc, TrackDoc } from '../doc/project';
import { patchRefOf } from '../engine/sink';
import type { Ctx } from './context';
import { useDoc, useLibrary, usePolled, useViewOf } from './hooks';
import { isLibraryRef } from './library';
import { slotsOf, useSampleDrop } from './samples';
import { LANE_HEIGHT, RULER_HEIGHT, TRACK_COLORS } from './view';

export function TrackList({ ctx, armed, onArm }: { ctx: Ctx; armed: number | null; onArm: (id: number | null) => void }): React.JSX.Element {
  const doc = useDoc(ctx);
  const view = { selectedTrack: useViewOf(ctx, (v) => v.selectedTrack) };
  // The headers follow the lanes' vertical scroll without a React render.
  const moveRef = useRef<HTMLDivElement>(null);
  useEffect(() => {
    let y = NaN;
    const follow = (): void => {
      const s = ctx.view.get().scrollY;
      if (s !== y && moveRef.current) moveRef.current.style.transform = `translateY(${-(y = s)}px)`;
    };
    follow();
    return ctx.view.subscribe(follow);
  }, [ctx]);
  const [dragging, setDragging] = useState<{ id: number; y0: number; y: number } | null>(null);
  const listRef = useRef<HTMLDivElement>(null);

  const onWheel = (e: React.WheelEvent): void => {
    const v = ctx.view.get();
    const maxY = Math.max(0, doc.tracks.length * LANE_HEIGHT - ((listRef.current?.clientHeight ?? 0)) + 40);
    ctx.view.set({ scrollY: Math.min(maxY, Math.max(0, v.scrollY + e.deltaY)) });
  };

  const dropIndex = (d: { id: number; y0: number; y: number }): number => {
    const from = doc.tracks.findIndex((t) => t.id === d.id);
    return Math.max(0, Math.min(doc.tracks.length - 1, from + Math.round((d.y - d.y0) / LANE_HEIGHT)));
  };

  return (
    <div className="tracklist" onWheel={onWheel}>
      <div className="tracklist-head" style={{ height: RULER_HEIGHT }}>
        <AddTrackMenu ctx={ctx} />
      </div>
      <div className="tracklist-body" ref={listRef}>
        <div ref={moveRef}>
          {doc.tracks.map((t) => (
            <TrackHeader key={t.id} ctx={ctx} doc={doc} track={t} selected={t.id === view.selectedTrack}
                         armed={armed === t.id} onArm={onArm}
                         offset={dragging?.id === t.id ? dragging.y - dragging.y0 : 0}
                         onGrip={(e) => {
                           const el = e.currentTarget;
                           el.setPointerCapture(e.pointerId);
                           setDragging({ id: t.id, y0: e.clientY, y: e.clientY });
                         }}
                         onGripMove={(e) => setDragging((d) => (d ? { ...d, y: e.clientY } : d))}
                         onGripUp={() => {
                           setDragging((d) => {
                             if (d) {
                               const to = dropIndex(d);
                               if (to !== doc.tracks.findIndex((x) => x.id === d.id)) ctx.act.moveTrack(d.id, to);
                             }
                             return null;
                           });
                         }} />
          ))}
        </div>
      </div>
    </div>
  );
}

function AddTrackMenu({ ctx }: { ctx: Ctx }): React.JSX.Element {
  const add = (kind: 'instrument' | 'audio' | 'bus'): void => {
    const first = ctx.patches.find((p) => p.meta.kind === 'instrument');
    const id = ctx.act.addTrack(kind, kind === 'instrument' && first ? patchRefOf(first) : undefined);
    if (id === null) ctx.say('A project holds at most 64 tracks.');
    else ctx.view.set({ selectedTrack: id });
  };
  return (
    <div className="add-track">
      <button type="button" className="btn small" data-testid="add-instrument" onClick={() => add('instrument')}
              title="Add an instrument track">+ Instrument</button>
      <button type="button" className="btn small" data-testid="add-audio" onClick={() => add('audio')}
              title="Add an audio track">+ Audio</button>
      <button type="button" className="btn small" data-testid="add-bus" onClick={() => add('bus')}
              title="Add a bus (for sends)">+ Bus</button>
    </div>
  );
}

interface HeaderProps {
  ctx: Ctx;
  doc: ProjectDoc;
  track: TrackDoc;
  selected: boolean;
  armed: boolean;
  onArm: (id: number | null) => void;
  offset: number;
  onGrip: (e: React.PointerEvent<HTMLElement>) => void;
  onGripMove: (e: React.PointerEvent<HTMLElement>) => void;
  onGripUp: (e: React.PointerEvent<HTMLElement>) => void;
}

function TrackHeader(p: HeaderProps): React.JSX.Element {
  const { ctx, track } = p;
  const [editing, setEditing] = useState(false);
  const [palette, setPalette] = useState(false);
  const color = track.ui?.color ?? TRACK_COLORS[0];
  const instruments = ctx.patches.filter((x) => x.meta.kind === 'instrument');
  const current = instruments.find((x) => samePatch(patchRefOf(x), track.patch, x.source));
  useLibrary(ctx);
  const faulted = usePolled(() => ctx.audio.faulted(track.id));
  const mine = ctx.library.userPatches();
  const libRef = isLibraryRef(track.patch) ? track.patch : null;
  const playing = libRef?.revision;
  const value = libRef ? `lib:${libRef.library}` : current?.unit ?? '';
  const fader = track.fader ?? {};
  const kindLabel = track.kind === 'instrument' ? 'MIDI' : track.kind === 'audio' ? 'Audio' : 'Bus';
  // A patch with sample slots: the first slot's sample on the header, and
  // a WAV file dropped on the header goes into that slot.
  const slots = slotsOf(ctx, track);
  const slot = slots[0];
  const drop = useSampleDrop(ctx, track.id, slot);
  const sample = slot !== undefined ? track.samples?.[slot] : undefined;
  return (
    <div className={`track-header${p.selected ? ' selected' : ''}${p.offset ? ' dragging' : ''}${drop.over ? ' sample-over' : ''}`}
         style={{ height: LANE_HEIGHT, transform: p.offset ? `translateY(${p.offset}px)` : undefined }}
         data-track={track.id} onPointerDown={() => ctx.view.set({ selectedTrack: track.id })} {...drop.handlers}>
      <div className="track-color" style={{ background: color }} />
      <div className="grip" title="Drag to reorder" onPointerDown={p.onGrip} onPointerMove={p.onGripMove}
           onPointerUp={p.onGripUp} onPointerCancel={p.onGripUp}>⋮⋮</div>
      <div className="track-main">
        <div className="track-row">
          <button type="button" className="swatch" style={{ background: color }} title="Track colour"
                  aria-label="Track colour" onClick={() => setPalette(!palette)} />
          {editing
            ? <NameEditor name={track.name ?? ''} onDone={(name) => {
                setEditing(false);
                if (name !== null && name.trim() && name !== track.name) ctx.act.renameTrack(track.id, name.trim());
              }} />
            : <span className="track-name" title="Double-click to rename" onDoubleClick={() => setEditing(true)}>
                {track.name ?? `Track ${track.id}`}</span>}
          {faulted && <span className="fault-mark" data-testid="track-fault"
                            title="The engine silenced a patch of this track (NaN/Inf or an out-of-range level): see the status line">⚠</span>}
          {slot !== undefined &&
            <button type="button" className={`sample-chip${sample ? ' bound' : ''}`} data-testid="track-sample"
                    title={sample ? `${slot}: ${sample.ui?.name ?? sample.asset ?? sample.file} (drop a WAV file on the track to replace it)`
                                  : `Sample slot ${slot} is empty: drop a WAV file on the track, or load one in the Instrument tab`}
                    onClick={() => ctx.view.set({ selectedTrack: track.id, dock: 'instrument' })}>
              <span className="chip-text">{sample ? sample.ui?.name ?? 'sample' : 'no sample'}</span>
              {slots.length > 1 && <span className="chip-more">+{slots.length - 1}</span>}
            </button>}
          <span className="kind">{kindLabel}</span>
        </div>
        <div className="track-row">
          {track.kind === 'instrument'
            ? <select className="instrument" aria-label="Instrument" value={value}
                      onFocus={() => ctx.library.refreshSoon()} onPointerDown={() => ctx.library.refreshSoon()}
                      onChange={(e) => {
                        const v = e.target.value;
                        if (v.startsWith('lib:')) { void ctx.useLibraryPatch(track.id, v.slice(4), 0); return; }
                        const patch = instruments.find((x) => x.unit === v);
                        if (patch) ctx.act.setInstrument(track.id, patchRefOf(patch), patch.meta.samples);
                      }}>
                {!value && <option value="">(choose)</option>}
                <optgroup label="Built-in">
                  {instruments.map((x) => <option key={x.unit} value={x.unit}>{title(x.unit)}</option>)}
                </optgroup>
                {(mine.length > 0 || libRef) &&
                  <optgroup label="My patches">
                    {libRef !== null && !mine.some((m) => m.id === libRef.library) &&
                      <option value={value}>{ctx.library.nameOf(libRef.library) ?? 'Library patch'} (r{libRef.revision})</option>}
                    {mine.map((m) => <option key={m.id} value={`lib:${m.id}`}>
                      {m.name} (r{libRef?.library === m.id ? playing : m.revision})</option>)}
                  </optgroup>}
              </select>
            : <span className="instrument muted">{track.kind === 'bus' ? 'Sends in' : 'Regions'}</span>}
          <button type="button" className={`tbtn mute${fader.mute ? ' on' : ''}`} title="Mute"
                  onClick={() => ctx.act.setMute(track.id, !fader.mute)}>M</button>
          <button type="button" className={`tbtn solo${fader.solo ? ' on' : ''}`} title="Solo"
                  onClick={() => ctx.act.setSolo(track.id, !fader.solo)}>S</button>
          {track.kind === 'instrument' &&
            <button type="button" className={`tbtn arm${p.armed ? ' on' : ''}`} title="Arm for recording"
                    onClick={() => p.onArm(p.armed ? null : track.id)}>●</button>}
          <button type="button" className="tbtn del" title="Delete track" aria-label="Delete track"
                  onClick={() => ctx.act.removeTrack(track.id)}>✕</button>
        </div>
      </div>
      {palette &&
        <div className="palette" onPointerLeave={() => setPalette(false)}>
          {TRACK_COLORS.map((c) => (
            <button key={c} type="button" style={{ background: c }} aria-label={`Colour ${c}`}
                    onClick={() => { ctx.act.colorTrack(track.id, c); setPalette(false); }} />
          ))}
        </div>}
    </div>
  );
}

function NameEditor({ name, onDone }: { name: string; onDone: (name: string | null) => void }): React.JSX.Element {
  const ref = useRef<HTMLInputElement>(null);
  useEffect(() => { ref.current?.select(); }, []);
  return (
    <input ref={ref} className="name-edit" type="text" defaultValue={name} autoFocus aria-label="Track name"
           onBlur={(e) => onDone(e.target.value)}
           onKeyDown={(e) => {
             if (e.key === 'Enter') onDone(e.currentTarget.value);
             else if (e.key === 'Escape') onDone(null);
             e.stopPropagation();
           }} />
  );
}

export function title(unit: string): string {
  return unit.split('_').map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join(' ');
}

/** Whether a document's patch reference names registry patch `ref` (by
 *  file name and unit). */
function samePatch(ref: PatchRef, doc: PatchRef | undefined, source: string): boolean {
  if (doc === undefined) return false;
  const base = (s: string): string => s.slice(s.lastIndexOf('/') + 1);
  const name = base(source);
  if (typeof doc === 'string') return base(doc) === name;
  if ('file' in doc) return base(doc.file) === name && (doc.unit === undefined || typeof ref === 'string' || doc.unit === ref.unit);
  if ('builtin' in doc) return base(doc.builtin) === name;
  return false;
}
