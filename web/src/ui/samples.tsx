// samples.tsx — the sample slots of an instrument track's patch (patch ABI
// 3: `sample NAME;`, listed in its metadata's "samples"; nodes/sampler.amp
// has one, "p.wav"). Each slot shows the audio the track binds to it (the
// file's name, its length and channels as the engine holds it, and its
// waveform), or an empty drop zone. A WAV file dropped on the slot, or
// chosen with "Load…", is uploaded to ampd as an asset and bound by its
// hash (Daw.bindSampleFile: one undo step); ✕ unbinds it. The document
// holds the binding (a track's "samples", PROJECT.md), the sync layer
// loads it into the engine's pool and sends bind_sample, the export hands
// the worker its bytes.
//
// The waveform is drawn from the asset's bytes, decoded by the browser
// (decodeAudioData decodes off the main thread) and reduced to one min/max
// pair per column once per asset (cached by hash).

import { useEffect, useRef, useState } from 'react';
import { samePatch, samplesError } from '../doc/edits';
import type { TrackDoc } from '../doc/project';
import { patchRefOf } from '../engine/sink';
import type { Ctx } from './context';
import { usePolled } from './hooks';
import { isLibraryRef } from './library';
import { THEME } from './view';

/** The sample slots of a track's instrument, as its patch's metadata lists
 *  them (engine.json for a built-in, the compile service's for a library
 *  patch); undefined while the patch is not known (a library patch not
 *  compiled yet, a patch this engine lacks). */
export function knownSlotsOf(ctx: Ctx, track: TrackDoc): readonly string[] | undefined {
  if (track.kind !== 'instrument') return [];
  if (isLibraryRef(track.patch)) return ctx.library.compiledOf(track.patch.library, track.patch.revision)?.meta.samples ?? undefined;
  const patch = ctx.patches.find((p) => p.meta.kind === 'instrument' && samePatch(patchRefOf(p), track.patch));
  return patch ? patch.meta.samples ?? [] : undefined;
}

/** knownSlotsOf, [] when not known. */
export function slotsOf(ctx: Ctx, track: TrackDoc): readonly string[] {
  return knownSlotsOf(ctx, track) ?? [];
}

/** Whether a drag carries files (the page's own drop handler imports MIDI
 *  files: a drop on a slot stops there). */
function hasFiles(e: React.DragEvent): boolean {
  return e.dataTransfer.types.includes('Files');
}

/** Props for an element that takes a dropped audio file for a slot. */
export function useSampleDrop(ctx: Ctx, trackId: number, slot: string | undefined): {
  over: boolean;
  handlers: Pick<React.HTMLAttributes<HTMLElement>, 'onDragOver' | 'onDragLeave' | 'onDrop'>;
} {
  const [over, setOver] = useState(false);
  if (slot === undefined) return { over: false, handlers: {} };
  return {
    over,
    handlers: {
      onDragOver: (e) => {
        if (!hasFiles(e)) return;
        e.preventDefault();
        e.stopPropagation();
        e.dataTransfer.dropEffect = 'copy';
        setOver(true);
      },
      onDragLeave: () => setOver(false),
      onDrop: (e) => {
        if (!hasFiles(e)) return;
        e.preventDefault();
        e.stopPropagation();
        setOver(false);
        const file = e.dataTransfer.files[0];
        if (file) void ctx.bindSampleFile(trackId, slot, file);
      },
    },
  };
}

/** The slots of the selected instrument track (the Instrument tab). */
export function SampleSlots({ ctx, track, index }: { ctx: Ctx; track: TrackDoc; index: number }): React.JSX.Element | null {
  const slots = knownSlotsOf(ctx, track);
  // A document from elsewhere (another tab, an import) may bind a slot
  // this patch lacks: said with amp render's words, which would refuse it.
  const problem = slots && track.samples ? samplesError(track, index, slots) : null;
  if (!slots?.length && !problem) return null;
  return (
    <div className="sample-slots" data-testid="sample-slots">
      {(slots ?? []).map((slot) => <SampleSlot key={slot} ctx={ctx} track={track} slot={slot} />)}
      {problem && <div className="slot-problem" data-testid="sample-problem">{problem}</div>}
    </div>
  );
}

function SampleSlot({ ctx, track, slot }: { ctx: Ctx; track: TrackDoc; slot: string }): React.JSX.Element {
  const bound = track.samples?.[slot];
  const hash = bound?.asset;
  const drop = useSampleDrop(ctx, track.id, slot);
  const input = useRef<HTMLInputElement>(null);
  const info = usePolled(() => (hash ? ctx.sampleText(hash) : ''));
  const name = bound?.ui?.name ?? (hash ? `${hash.slice(0, 12)}…` : bound?.file);
  return (
    <div className={`sample-slot${bound ? ' bound' : ''}${drop.over ? ' over' : ''}`} data-slot={slot} data-testid="sample-slot"
         title={bound ? `${slot}: ${name}${hash ? ` (asset ${hash})` : ''}. Drop another WAV file here to replace it.`
                      : `Sample slot ${slot}: drop a WAV file here, or Load…`}
         {...drop.handlers}>
      <div className="slot-head">
        <span className="slot-label">Sample</span>
        <span className="slot-name">{slot}</span>
        <span className="slot-actions">
          <button type="button" className="btn small" data-testid="sample-load" onClick={() => input.current?.click()}
                  title="Choose a WAV file for this slot">Load…</button>
          {bound &&
            <button type="button" className="tbtn del" data-testid="sample-clear" aria-label={`Clear ${slot}`}
                    title="Clear this slot (it plays silence)" onClick={() => ctx.act.bindSample(track.id, slot, null)}>✕</button>}
        </span>
        <input ref={input} type="file" accept=".wav,audio/wav,audio/x-wav,audio/wave" hidden data-testid="sample-file"
               aria-label={`Audio file for ${slot}`}
               onChange={(e) => {
                 const file = e.target.files?.[0];
                 e.target.value = '';
                 if (file) void ctx.bindSampleFile(track.id, slot, file);
               }} />
      </div>
      {bound
        ? <div className="slot-body">
            {hash ? <SampleWave hash={hash} /> : <div className="slot-wave" />}
            <div className="slot-meta">
              <span className="slot-file" data-testid="sample-name">{name}</span>
              <span className="slot-info">{info || (hash ? 'loading…' : 'a file: not played in the browser')}</span>
            </div>
          </div>
        : <div className="slot-body empty" data-testid="sample-empty">Empty: drop a WAV file here, or Load…</div>}
    </div>
  );
}

// ---- the waveform ----------------------------------------------------------------------

const COLUMNS = 240;
/** Per asset: COLUMNS (min, max) pairs of its first channel, or null when
 *  it did not decode. */
const peaks = new Map<string, Promise<Float32Array | null>>();

function peaksOf(hash: string): Promise<Float32Array | null> {
  let p = peaks.get(hash);
  if (!p) {
    p = (async () => {
      try {
        const r = await fetch(`/api/assets/${hash}`, { credentials: 'same-origin' });
        if (!r.ok) return null;
        const audio = await new OfflineAudioContext(1, 1, 48000).decodeAudioData(await r.arrayBuffer());
        const x = audio.getChannelData(0);
        const out = new Float32Array(2 * COLUMNS);
        // At most ~4096 reads a column, whatever the file's length.
        for (let c = 0; c < COLUMNS; c++) {
          const from = Math.floor((c * x.length) / COLUMNS);
          const to = Math.max(from + 1, Math.floor(((c + 1) * x.length) / COLUMNS));
          const step = Math.max(1, Math.floor((to - from) / 4096));
          let lo = 0, hi = 0;
          for (let i = from; i < to && i < x.length; i += step) {
            const v = x[i]!;
            if (v < lo) lo = v;
            if (v > hi) hi = v;
          }
          out[2 * c] = lo;
          out[2 * c + 1] = hi;
        }
        return out;
      } catch {
        return null;
      }
    })();
    peaks.set(hash, p);
  }
  return p;
}

function SampleWave({ hash }: { hash: string }): React.JSX.Element {
  const canvas = useRef<HTMLCanvasElement>(null);
  const [data, setData] = useState<Float32Array | null>(null);
  useEffect(() => {
    let live = true;
    setData(null);
    void peaksOf(hash).then((d) => { if (live) setData(d); });
    return () => { live = false; };
  }, [hash]);
  useEffect(() => {
    const c = canvas.current;
    const g = c?.getContext('2d');
    if (!c || !g) return;
    const dpr = window.devicePixelRatio || 1;
    const w = c.clientWidth, h = c.clientHeight;
    c.width = Math.round(w * dpr);
    c.height = Math.round(h * dpr);
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.fillStyle = THEME.lane;
    g.fillRect(0, 0, w, h);
    g.fillStyle = THEME.line;
    g.fillRect(0, Math.floor(h / 2), w, 1);
    if (!data) return;
    g.fillStyle = THEME.accent;
    const mid = h / 2, scale = (h / 2) - 2;
    for (let x = 0; x < w; x++) {
      const c0 = Math.floor((x * COLUMNS) / w);
      const lo = data[2 * c0]!, hi = data[2 * c0 + 1]!;
      const top = mid - Math.min(1, hi) * scale, bottom = mid - Math.max(-1, lo) * scale;
      g.fillRect(x, top, 1, Math.max(1, bottom - top));
    }
  }, [data]);
  return <canvas ref={canvas} className="slot-wave" data-testid="sample-wave" />;
}
