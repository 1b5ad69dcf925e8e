// app.tsx — the DAW's screen: the transport bar on top, the track list and
// the arrangement in the middle, a dock at the bottom (piano roll or
// mixer), the status line. Components render from the stores (document,
// view, UI state); what moves 60 times a second (playhead, meters,
// position) is drawn or polled on animation frames, not through React
// state.

import { useEffect, useMemo, useRef, useState, useSyncExternalStore } from 'react';
import type { ProjectSummary } from '../api/ampd';
import type { SaveState } from '../api/autosave';
import type { ProjectDoc } from '../doc/project';
import { engineSizing, limitProblems, type BuildLimits, type EngineSizing } from '../engine/client';
import { describeLimits, type EngineLimits, type EngineMemoryModel, type ProjectStats } from '../engine/limits';
import type { Daw, UiState } from './daw';
import { useDoc, usePolled, useViewOf } from './hooks';
import { FaultNotice } from './faults';
import { HelpDialog } from './help';
import { Meter } from './meters';
import { InstrumentPanel } from './instrument';
import { Mixer } from './mixer';
import { PatchesDialog } from './patches';
import { PianoRoll } from './pianoroll';
import { barsOf, findClip, positionText, tempoAt } from './song';
import { Timeline } from './timeline';
import { TrackList } from './tracks';
import { HEADER_WIDTH, SNAPS, type SnapName } from './view';

function useUi(daw: Daw): UiState {
  return useSyncExternalStore(daw.ui.subscribe, daw.ui.get);
}

function useSaveState(daw: Daw): SaveState {
  return useSyncExternalStore((fn) => daw.persist.autosave.subscribe(() => fn()), () => daw.persist.state);
}

export function App({ daw }: { daw: Daw }): React.JSX.Element {
  const ui = useUi(daw);
  const view = { dock: useViewOf(daw.ctx, (v) => v.dock) };
  const [drop, setDrop] = useState(false);
  return (
    <div className={`daw${drop ? ' dropping' : ''}`}
         onDragOver={(e) => { if (e.dataTransfer.types.includes('Files')) { e.preventDefault(); setDrop(true); } }}
         onDragLeave={() => setDrop(false)}
         onDrop={(e) => {
           e.preventDefault();
           setDrop(false);
           const f = e.dataTransfer.files[0];
           if (f) void daw.dropFile(f);
         }}>
      <TopBar daw={daw} ui={ui} />
      <div className="arrangement" style={{ gridTemplateColumns: `${HEADER_WIDTH}px 1fr` }}>
        <TrackList ctx={daw.ctx} armed={ui.armed} onArm={(armed) => daw.ui.set({ armed })} />
        <div className="timeline-wrap"><Timeline ctx={daw.ctx} /></div>
      </div>
      <div className="dock">
        <div className="dock-tabs">
          <button type="button" className={`tab${view.dock === 'roll' ? ' on' : ''}`}
                  onClick={() => daw.view.set({ dock: 'roll' })}>Piano roll</button>
          <button type="button" className={`tab${view.dock === 'mixer' ? ' on' : ''}`}
                  onClick={() => daw.view.set({ dock: 'mixer' })}>Mixer</button>
          <button type="button" className={`tab${view.dock === 'instrument' ? ' on' : ''}`} data-testid="instrument-tab"
                  onClick={() => daw.view.set({ dock: 'instrument' })}>Instrument</button>
          <DockInfo daw={daw} />
        </div>
        <div className="dock-body">
          {view.dock === 'roll' ? <PianoRoll ctx={daw.ctx} /> : view.dock === 'mixer' ? <Mixer ctx={daw.ctx} />
            : <InstrumentPanel ctx={daw.ctx} />}
        </div>
      </div>
      <StatusLine daw={daw} ui={ui} />
      {ui.dialog === 'projects' && <ProjectsDialog daw={daw} />}
      {ui.dialog === 'help' && <HelpDialog daw={daw} />}
      {ui.dialog === 'patches' && <PatchesDialog daw={daw} />}
      {ui.dialog === 'conflict' && <ConflictDialog daw={daw} ui={ui} />}
      {ui.marker && <MarkerMenu daw={daw} at={ui.marker} />}
    </div>
  );
}

// ---- the top bar -------------------------------------------------------------------

function TopBar({ daw, ui }: { daw: Daw; ui: UiState }): React.JSX.Element {
  const doc = useDoc(daw.ctx);
  const view = { snap: useViewOf(daw.ctx, (v) => v.snap) };
  const save = useSaveState(daw);
  const store = daw.store;
  const playing = usePolled(() => daw.audio.playing() || daw.audio.transportRequested);
  const name = typeof doc.ui?.name === 'string' ? doc.ui.name : 'Untitled';
  return (
    <header className="topbar">
      <div className="brand" title="Amplitude">◢<span className="brand-name"> amp</span></div>
      <div className="group project">
        <input className="project-name" type="text" aria-label="Project name" defaultValue={name} key={name}
               onBlur={(e) => { if (e.target.value.trim() && e.target.value !== name) daw.act.setName(e.target.value.trim()); }}
               onKeyDown={(e) => { if (e.key === 'Enter') e.currentTarget.blur(); e.stopPropagation(); }} />
        <SaveBadge state={save} dirty={store.dirty} busy={ui.busy} />
      </div>
      <div className="group">
        <button type="button" className="icon" data-testid="undo" disabled={!store.canUndo} onClick={() => store.undo()}
                title={store.undoLabel ? `Undo ${store.undoLabel} (Ctrl+Z)` : 'Nothing to undo'}>↶</button>
        <button type="button" className="icon" data-testid="redo" disabled={!store.canRedo} onClick={() => store.redo()}
                title={store.redoLabel ? `Redo ${store.redoLabel} (Ctrl+Shift+Z)` : 'Nothing to redo'}>↷</button>
      </div>
      <div className="group transport">
        <button type="button" className="icon" data-testid="stop" title="Stop (back to the start when stopped)"
                onClick={() => { if (ui.recording !== 'off') daw.stopRecording(); daw.audio.stop(); }}>■</button>
        <button type="button" className={`icon play${playing ? ' on' : ''}`} data-testid="play"
                title={playing ? 'Pause (Space)' : 'Play (Space)'} onClick={() => daw.togglePlay()}>{playing ? '❚❚' : '▶'}</button>
        <button type="button" className={`icon rec${ui.recording !== 'off' ? ' on' : ''}`} data-testid="record"
                title="Record on the armed or selected instrument track (R)" onClick={() => void daw.toggleRecord()}>●</button>
        <Position daw={daw} />
      </div>
      <div className="group">
        <Tempo daw={daw} doc={doc} />
        <Signature daw={daw} doc={doc} />
        <button type="button" className={`toggle${doc.loop?.enabled ? ' on' : ''}`} data-testid="loop"
                title="Loop (L); drag on the ruler to set the region" onClick={() => daw.toggleLoop()}>⟲</button>
        <button type="button" className={`toggle${doc.metronome?.enabled ? ' on' : ''}`} data-testid="metronome"
                title="Metronome" onClick={() => daw.act.setMetronome({ enabled: !doc.metronome?.enabled })}>♩</button>
      </div>
      <div className="group">
        <label className="field" title="Snap grid (hold Alt while dragging to ignore it)">
          <select aria-label="Snap" data-testid="snap" value={view.snap}
                  onChange={(e) => daw.view.set({ snap: e.target.value as SnapName })}>
            {SNAPS.map((s) => <option key={s} value={s}>{s === 'bar' ? 'Snap: bar' : s === 'beat' ? 'Snap: beat' : s === 'off' ? 'Snap off' : `Snap: ${s}`}</option>)}
          </select>
        </label>
        <button type="button" className={`toggle${ui.tool === 'split' ? ' on' : ''}`} data-testid="split-tool"
                title="Split tool: click a clip to cut it (S splits at the playhead)"
                onClick={() => daw.ui.set({ tool: ui.tool === 'split' ? 'pointer' : 'split' })}>✂</button>
        <button type="button" className={`toggle${ui.keysOn ? ' on' : ''}`} data-testid="keys"
                title="Play the selected track from the computer keyboard (M): A W S E D F T G Y H U J K, Z/X octave"
                onClick={() => daw.ui.set({ keysOn: !ui.keysOn })}>⌨ C{ui.octave}</button>
        <button type="button" className={`toggle${ui.inputQuantize ? ' on' : ''}`} data-testid="rec-quantize" title="Quantize recorded notes to the snap grid"
                onClick={() => daw.ui.set({ inputQuantize: !ui.inputQuantize })}>Q rec</button>
      </div>
      <div className="spacer" />
      <div className="group">
        <Cpu daw={daw} />
        <Meter ctx={daw.ctx} target="master" horizontal id="meter" />
      </div>
      <div className="group">
        <FileMenu daw={daw} />
      </div>
    </header>
  );
}

function SaveBadge({ state, dirty, busy }: { state: SaveState; dirty: boolean; busy: string }): React.JSX.Element {
  let text: string, cls: string;
  if (busy) { text = busy; cls = 'busy'; }
  else if (state.status === 'conflict') { text = 'Conflict'; cls = 'bad'; }
  else if (state.status === 'error') { text = 'Not saved'; cls = 'bad'; }
  else if (!state.serverId) { text = 'Local'; cls = 'local'; }
  else if (dirty) { text = `Unsaved r${state.revision}`; cls = 'dirty'; }
  else { text = `Saved r${state.revision}`; cls = 'ok'; }
  return <span className={`badge ${cls}`} data-testid="save-state" title={state.serverId ? 'Ctrl+S saves a new revision on the server' : 'Kept in this browser; Ctrl+S saves it to the server'}>{text}</span>;
}

function Position({ daw }: { daw: Daw }): React.JSX.Element {
  const text = usePolled(() => positionText(daw.store.doc, daw.audio.positionBeat()));
  return <output className="position" data-testid="position" title="Bar . beat . tick">{text}</output>;
}

function Cpu({ daw }: { daw: Daw }): React.JSX.Element {
  const text = usePolled(() => {
    const c = daw.audio.cpu();
    return c ? `${Math.round(c.load * 100)}%|${c.voices}` : '–|0';
  });
  const [load, voices] = text.split('|');
  return (
    <span className="readout" data-testid="cpu" title="Audio engine load (highest of the last 1.5 s) and voices sounding">
      CPU {load}<span className="long"> · {voices} voice{voices === '1' ? '' : 's'}</span>
    </span>
  );
}

function Tempo({ daw, doc }: { daw: Daw; doc: ProjectDoc }): React.JSX.Element {
  const tempo = doc.tempo ?? 120;
  return (
    <label className="field" title="Tempo (beats per minute)">
      <input className="num" type="number" min={1} max={1000} step={0.1} aria-label="Tempo" data-testid="tempo"
             defaultValue={tempo} key={`t${tempo}`}
             onBlur={(e) => { const v = Number(e.target.value); if (v > 0 && v !== tempo) daw.act.setTempo(v); }}
             onKeyDown={(e) => { if (e.key === 'Enter') e.currentTarget.blur(); e.stopPropagation(); }} />
      <span className="unit">BPM</span>
    </label>
  );
}

function Signature({ daw, doc }: { daw: Daw; doc: ProjectDoc }): React.JSX.Element {
  const [num, den] = doc.time_signature ?? [4, 4];
  return (
    <label className="field sig" title="Time signature">
      <select aria-label="Beats per bar" data-testid="sig-num" value={num}
              onChange={(e) => daw.act.setTimeSignature(Number(e.target.value), den)}>
        {Array.from({ length: 16 }, (_, i) => i + 1).map((n) => <option key={n} value={n}>{n}</option>)}
      </select>
      <span>/</span>
      <select aria-label="Beat unit" data-testid="sig-den" value={den}
              onChange={(e) => daw.act.setTimeSignature(num, Number(e.target.value))}>
        {[2, 4, 8, 16].map((n) => <option key={n} value={n}>{n}</option>)}
      </select>
    </label>
  );
}

function FileMenu({ daw }: { daw: Daw }): React.JSX.Element {
  const [open, setOpen] = useState(false);
  const fileRef = useRef<HTMLInputElement>(null);
  const item = (label: string, fn: () => void, testid?: string): React.JSX.Element => (
    <button type="button" className="menu-item" data-testid={testid} onClick={() => { setOpen(false); fn(); }}>{label}</button>
  );
  useEffect(() => {
    if (!open) return;
    const close = (e: PointerEvent): void => {
      if (!(e.target as HTMLElement).closest('.menu')) setOpen(false);
    };
    addEventListener('pointerdown', close);
    return () => removeEventListener('pointerdown', close);
  }, [open]);
  return (
    <div className="menu">
      <button type="button" className="btn" data-testid="save" title="Save to the server (Ctrl+S)" onClick={() => void daw.save()}>Save</button>
      <button type="button" className="btn" data-testid="file-menu" onClick={() => setOpen(!open)}>File ▾</button>
      <button type="button" className="btn" data-testid="help-button" title="Keyboard shortcuts (?)" aria-label="Keyboard shortcuts"
              onClick={() => daw.ui.set({ dialog: 'help' })}>?</button>
      <input ref={fileRef} type="file" accept=".mid,.midi,audio/midi" hidden data-testid="import-file"
             onChange={(e) => { const f = e.target.files?.[0]; if (f) void daw.importMidi(f); e.target.value = ''; }} />
      {open &&
        <div className="menu-list">
          {item('New project', () => daw.newProject(), 'new-project')}
          {item('Open…', () => daw.ui.set({ dialog: 'projects' }), 'open-projects')}
          {item('Save  (Ctrl+S)', () => void daw.save())}
          <div className="menu-sep" />
          {item('Import MIDI file…', () => fileRef.current?.click(), 'import-midi')}
          <div className="menu-sep" />
          <div className="menu-label">Export</div>
          {item('WAV · 16-bit (dithered)', () => void daw.exportAudio('s16', false), 'export-s16')}
          {item('WAV · 24-bit', () => void daw.exportAudio('s24', false), 'export-s24')}
          {item('WAV · 32-bit float', () => void daw.exportAudio('f32', false), 'export-f32')}
          {item('Stems (one WAV per track)', () => void daw.exportAudio('f32', true), 'export-stems')}
          {item('MIDI file', () => daw.exportMidi(), 'export-midi')}
          <div className="menu-sep" />
          {item('Patch editor (new tab)…', () => { window.open('editor.html', '_blank', 'noopener'); }, 'open-editor')}
          {item('Patch library…', () => daw.ui.set({ dialog: 'patches' }), 'open-patches')}
        </div>}
    </div>
  );
}

// ---- the dock and the status line --------------------------------------------------

function DockInfo({ daw }: { daw: Daw }): React.JSX.Element {
  const doc = useDoc(daw.ctx);
  const view = { dock: useViewOf(daw.ctx, (v) => v.dock), openClip: useViewOf(daw.ctx, (v) => v.openClip),
                 selectedNotes: useViewOf(daw.ctx, (v) => v.selectedNotes) };
  if (view.dock !== 'roll') return <span className="dock-info" />;
  const open = view.openClip ? findClip(doc, view.openClip) : null;
  if (!open) return <span className="dock-info">No clip open</span>;
  const n = open.clip.notes.length;
  return (
    <span className="dock-info">
      <span className="dot" style={{ background: open.track.ui?.color ?? '#4cc2ff' }} />
      {open.track.name} · {open.clip.ui?.name ?? 'Clip'} · {n} note{n === 1 ? '' : 's'}
      {view.selectedNotes.length ? ` · ${view.selectedNotes.length} selected` : ''}
      <button type="button" className="btn small" data-testid="quantize" title="Quantize to the snap grid (Q)"
              onClick={() => daw.quantize()}>Quantize</button>
    </span>
  );
}

/** What this browser lacks, in plain words. */
function browserLimits(): string[] {
  const lacks: string[] = [];
  if (typeof SharedArrayBuffer === 'undefined') lacks.push('no SharedArrayBuffer');
  if (!globalThis.crossOriginIsolated) lacks.push('no cross-origin isolation (open the page through ampd)');
  if (typeof AudioWorkletNode === 'undefined') lacks.push('no AudioWorklet');
  if (typeof navigator.requestMIDIAccess !== 'function') lacks.push('no Web MIDI');
  return lacks;
}

/** The limits line. An engine sized for the project (engineSizing(manifest,
 *  doc) answering with `engine` limits and `stats`, the sized build) shows
 *  what the project uses of what it holds (describeLimits: "clips 120 /
 *  3,000"); the fixed build shows its sizes. */
function limitsLine(daw: Daw, doc: ProjectDoc): { limits: BuildLimits; line: { text: string; title: string } } {
  // The running engine's own limits (amp_limits_json) against this song.
  const client = daw.audio.client;
  const lines = client?.limitLines(doc) ?? [];
  if (client && lines.length) {
    const sized = engineSizing(daw.files.manifest, doc, { sampleRate: client.sampleRate });
    return { limits: sized.limits, line: { text: lines.slice(0, 3).join(' · '),
      title: `This project in the running engine (a bigger song gets a bigger engine):\n${lines.join('\n')}\nno live audio input` } };
  }
  const sizingOf = engineSizing as unknown as (m: unknown, p?: ProjectDoc, o?: { sampleRate?: number }) =>
    EngineSizing & { engine?: EngineLimits | null; stats?: ProjectStats | null };
  const sizing = sizingOf(daw.files.manifest, doc, { sampleRate: daw.audio.client?.sampleRate ?? doc.sample_rate ?? 48000 });
  const limits = sizing.limits;
  if (sizing.engine && sizing.stats) {
    const model = (daw.files.manifest as { memory?: EngineMemoryModel }).memory;
    const parts = describeLimits(sizing.engine, sizing.stats, model);
    return { limits, line: { text: parts.slice(0, 3).join(' · '),
                             title: `This project in the engine sized for it:\n${parts.join('\n')}\nno live audio input` } };
  }
  return { limits, line: {
    text: `${doc.tracks.length}/${limits.tracks} tracks · ${limits.insertsPerTrack} inserts a track · ${limits.clips} clips · ` +
          `${Math.round(limits.sampleBytes / 1048576)} MB of samples · no live audio input`,
    title: 'What the engine of this build holds at most' } };
}

function StatusLine({ daw, ui }: { daw: Daw; ui: UiState }): React.JSX.Element {
  const lacks = browserLimits();
  const audioState = usePolled(() => daw.audio.state);
  const doc = useDoc(daw.ctx);
  const { limits, line } = useMemo(() => limitsLine(daw, doc), [daw, doc]);
  const problems = limitProblems(doc, limits);
  return (
    <footer className="status">
      <span className="status-left">
        {audioState !== 'running' &&
          <button type="button" id="start" className="btn small accent" disabled={audioState === 'starting'}
                  title="Browsers start sound only after a click or a key: any click in the arrangement or a played key starts it too"
                  onClick={() => daw.audio.start()}>{audioState === 'starting' ? 'Starting audio…' : 'Start audio'}</button>}
        <span className="status-main" role="status" id="status">
          {ui.status || (audioState === 'running' ? 'Ready.' : 'Audio is off until you click or play.')}</span>
        <FaultNotice daw={daw} />
      </span>
      <span className="status-side">
        {lacks.length ? <span className="warn">This browser: {lacks.join(', ')}.</span> : null}
        {problems.length ? <span className="warn" title={problems.join('\n')}>Too big for this engine: {problems[0]}
          {problems.length > 1 ? ` (+${problems.length - 1})` : ''}.</span> : null}
        <span id="midi">{ui.midi}</span>
        <span title={line.title} data-testid="limits">{line.text}</span>
      </span>
    </footer>
  );
}

// ---- the ruler's popover: tempo and time-signature changes -------------------------

function MarkerMenu({ daw, at }: { daw: Daw; at: { beat: number; x: number; y: number } }): React.JSX.Element {
  const doc = useDoc(daw.ctx);
  const bars = barsOf(doc);
  const bar = bars.position(at.beat).bar;
  const [bpm, setBpm] = useState(String(tempoAt(doc, at.beat)));
  const [num0, den0] = bars.signatureAt(at.beat);
  const [num, setNum] = useState(num0);
  const [den, setDen] = useState(den0);
  const tempoIndex = (doc.tempo_changes ?? []).findIndex((c) => Math.abs(c.beat - at.beat) < 1e-9);
  const sigIndex = (doc.time_signature_changes ?? []).findIndex((c) => Math.abs(c.beat - at.beat) < 1e-9);
  const close = (): void => daw.ui.set({ marker: null });
  const left = Math.min(at.x, window.innerWidth - 250);
  return (
    <div className="popover-back" onPointerDown={(e) => { if (e.target === e.currentTarget) close(); }}>
      <div className="popover" style={{ left, top: at.y + 6 }} role="dialog" aria-label={`Bar ${bar}`}
           onKeyDown={(e) => { if (e.key === 'Escape') close(); e.stopPropagation(); }}>
        <div className="popover-title">Bar {bar}</div>
        <div className="popover-row">
          <span>Tempo</span>
          <input className="num" type="number" min={1} max={1000} step={0.1} value={bpm} aria-label="Tempo change"
                 data-testid="marker-bpm" onChange={(e) => setBpm(e.target.value)} />
          <button type="button" className="btn small" data-testid="marker-add-tempo"
                  onClick={() => {
                    const v = Number(bpm);
                    if (!(v > 0)) return;
                    if (at.beat === 0) daw.act.setTempo(v); else daw.act.addTempoChange(at.beat, v);
                    close();
                  }}>{at.beat === 0 ? 'Set' : tempoIndex >= 0 ? 'Change' : 'Add'}</button>
          {tempoIndex >= 0 &&
            <button type="button" className="btn small danger" onClick={() => { daw.act.removeTempoChange(tempoIndex); close(); }}>Remove</button>}
        </div>
        <div className="popover-row">
          <span>Meter</span>
          <select aria-label="Beats per bar" value={num} onChange={(e) => setNum(Number(e.target.value))}>
            {Array.from({ length: 16 }, (_, i) => i + 1).map((n) => <option key={n} value={n}>{n}</option>)}
          </select>
          <span>/</span>
          <select aria-label="Beat unit" value={den} onChange={(e) => setDen(Number(e.target.value))}>
            {[2, 4, 8, 16].map((n) => <option key={n} value={n}>{n}</option>)}
          </select>
          <button type="button" className="btn small" data-testid="marker-add-sig"
                  onClick={() => {
                    if (at.beat === 0) daw.act.setTimeSignature(num, den); else daw.act.addTimeSignatureChange(at.beat, num, den);
                    close();
                  }}>{at.beat === 0 ? 'Set' : sigIndex >= 0 ? 'Change' : 'Add'}</button>
          {sigIndex >= 0 &&
            <button type="button" className="btn small danger" onClick={() => { daw.act.removeTimeSignatureChange(sigIndex); close(); }}>Remove</button>}
        </div>
      </div>
    </div>
  );
}

// ---- dialogs --------------------------------------------------------------------------

function ProjectsDialog({ daw }: { daw: Daw }): React.JSX.Element {
  const [list, setList] = useState<ProjectSummary[] | null>(null);
  const [error, setError] = useState('');
  const load = (): void => {
    daw.persist.list().then(setList, (e: unknown) => setError(daw.persist.server
      ? `The server did not list the projects: ${String(e)}` : 'No server is connected: projects live on ampd.'));
  };
  useEffect(load, [daw]);
  const close = (): void => daw.ui.set({ dialog: 'none' });
  return (
    <div className="modal-back" onPointerDown={(e) => { if (e.target === e.currentTarget) close(); }}>
      <div className="modal" role="dialog" aria-label="Projects">
        <div className="modal-head"><h2>Projects</h2><button type="button" className="icon" onClick={close} aria-label="Close">✕</button></div>
        {error && <p className="warn">{error}</p>}
        {!list && !error && <p className="dim">Loading…</p>}
        {list && list.length === 0 && <p className="dim">No projects on the server yet. Save this one with Ctrl+S.</p>}
        {list && list.length > 0 &&
          <table className="projects">
            <thead><tr><th>Name</th><th>Revision</th><th>Changed</th><th /></tr></thead>
            <tbody>
              {list.map((p) => (
                <tr key={p.id} data-project={p.id}>
                  <td><button type="button" className="link" onClick={() => { close(); void daw.openProject(p.id); }}>{p.name}</button></td>
                  <td>{p.revision}</td>
                  <td>{new Date(p.updated_at * (p.updated_at < 1e12 ? 1000 : 1)).toLocaleString()}</td>
                  <td className="actions">
                    <button type="button" className="btn small" onClick={() => { close(); void daw.openProject(p.id); }}>Open</button>
                    <button type="button" className="btn small" onClick={() => { void daw.persist.client.duplicateProject(p.id, `${p.name} copy`).then(load); }}>Duplicate</button>
                    <button type="button" className="btn small danger"
                            onClick={() => { if (confirm(`Delete "${p.name}" and its history?`)) void daw.persist.client.deleteProject(p.id).then(load); }}>Delete</button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>}
        <div className="modal-foot">
          <button type="button" className="btn" onClick={() => { close(); daw.newProject(); }}>New project</button>
        </div>
      </div>
    </div>
  );
}

function ConflictDialog({ daw, ui }: { daw: Daw; ui: UiState }): React.JSX.Element {
  const close = (): void => daw.ui.set({ dialog: 'none' });
  const id = daw.persist.state.serverId;
  return (
    <div className="modal-back">
      <div className="modal" role="dialog" aria-label="Save conflict">
        <div className="modal-head"><h2>Someone saved this project first</h2></div>
        <p>The server has revision {ui.conflict}, newer than the one your edits are based on.</p>
        <div className="modal-foot">
          <button type="button" className="btn" onClick={() => { close(); void daw.save(true); }}>Keep mine (overwrite)</button>
          <button type="button" className="btn" onClick={() => { close(); if (id) void daw.openProject(id, true); }}>Open theirs</button>
          <button type="button" className="btn" onClick={close}>Cancel</button>
        </div>
      </div>
    </div>
  );
}

