// export.ts — the Export menu's work: the mix (or stems) as WAV through the
// export worker, and the notes as a Standard MIDI File.
//
// The worker's project render ({type: 'render-project', json, assets,
// format, stems}, replying {type: 'done', wav} or {type: 'done', stems:
// [{name, wav}]}) is being added to export-worker.ts on another branch.
// Until it is there the worker answers that message with an error, and the
// page falls back to the worker's performance render: the armed or
// selected instrument track's notes with its instrument and params, no
// mixer (each instrument track for stems), which the worker writes as a
// 32-bit float WAV; the page converts it to 16-bit (TPDF dither) or 24-bit
// when asked. The status line says which one ran.

import type { ProjectDoc, TrackDoc } from '../doc/project';
import type { EngineFiles } from '../engine/client';
import { exportPerformance } from '../engine/exporter';
import { manifestRegistry } from '../engine/sink';
import type { Performance } from '../engine/performance';
import { secondsAt, songEnd } from './song';
import { trackNotes, writeSmf } from './smf';

export type WavChoice = 's16' | 's24' | 'f32';

export interface ExportFile {
  name: string;
  blob: Blob;
}

export interface ExportOutcome {
  files: ExportFile[];
  note: string;
  /** The performance rendered by the fallback (for the tests). */
  performance?: Performance;
}

function safeName(s: string): string {
  return s.replace(/[^A-Za-z0-9 _.-]+/g, '').trim() || 'song';
}

export function projectName(doc: ProjectDoc): string {
  return typeof doc.ui?.name === 'string' ? doc.ui.name : 'Untitled';
}

export function exportMidi(doc: ProjectDoc): ExportFile {
  const bytes = writeSmf(doc);
  return { name: `${safeName(projectName(doc))}.mid`, blob: new Blob([bytes.slice().buffer], { type: 'audio/midi' }) };
}

/** Render through the worker's project render; null when the worker does
 *  not know the message (the fallback then runs). */
function renderProject(files: EngineFiles, doc: ProjectDoc, format: WavChoice, stems: boolean):
  Promise<{ wav?: ArrayBuffer; stems?: { name: string; wav: ArrayBuffer }[] } | null> {
  const worker = new Worker(new URL('export-worker.js', location.href).href, { type: 'module', name: 'amp-export' });
  return new Promise((resolve, reject) => {
    worker.onmessage = (event: MessageEvent) => {
      const data = event.data as { type: string; wav?: ArrayBuffer; stems?: { name: string; wav: ArrayBuffer }[]; message?: string };
      worker.terminate();
      if (data.type === 'done' && (data.wav || data.stems)) resolve({ ...(data.wav ? { wav: data.wav } : {}), ...(data.stems ? { stems: data.stems } : {}) });
      else resolve(null);
    };
    worker.onerror = (e) => {
      worker.terminate();
      reject(new Error(e.message || 'the export worker failed to start'));
    };
    worker.postMessage({ type: 'render-project', module: files.module, memoryPages: files.manifest.memoryPages,
                         json: JSON.stringify(doc), assets: {}, format, stems });
  });
}

/** One instrument track's notes as a Performance (the fallback). */
export function trackPerformance(files: EngineFiles, doc: ProjectDoc, track: TrackDoc, sampleRate: number): Performance | null {
  const registry = manifestRegistry(files.manifest.patches);
  const index = registry.indexOf(track.patch);
  const patch = files.manifest.patches.find((p) => p.index === index);
  if (!patch) return null;
  const frame = (beat: number): number => Math.round(secondsAt(doc, beat) * sampleRate);
  const notes = trackNotes(track)
    .sort((a, b) => a.start - b.start || a.key - b.key)
    .map((n) => ({ key: n.key, start: frame(n.start), end: Math.max(frame(n.start) + 1, frame(n.end)), velocity: Math.fround(n.velocity) }));
  const end = Math.max(frame(songEnd(doc)), ...notes.map((n) => n.end));
  const startParams = Object.entries(track.params ?? {}).flatMap(([name, value]) => {
    const p = patch.meta.params.find((q) => q.name === name);
    return p ? [{ param: p.index, name, value }] : [];
  });
  return {
    patch: patch.index,
    patchName: patch.unit,
    source: patch.source,
    sampleRate,
    startParams,
    paramNames: patch.meta.params.map((p) => p.name),
    paramDefaults: patch.meta.params.map((p) => p.default),
    notes,
    changes: [],
    frames: end + sampleRate,
  };
}

export async function exportAudio(files: EngineFiles, doc: ProjectDoc, format: WavChoice, stems: boolean,
                                  preferTrack: number | null, sampleRate: number): Promise<ExportOutcome> {
  const base = safeName(projectName(doc));
  const full = await renderProject(files, doc, format, stems).catch(() => null);
  if (full?.stems)
    return { files: full.stems.map((s) => ({ name: `${base} - ${safeName(s.name)}.wav`, blob: new Blob([s.wav], { type: 'audio/wav' }) })),
             note: `Exported ${full.stems.length} stems.` };
  if (full?.wav) return { files: [{ name: `${base}.wav`, blob: new Blob([full.wav], { type: 'audio/wav' }) }], note: 'Exported the mix.' };

  const instruments = doc.tracks.filter((t) => t.kind === 'instrument' && (t.clips ?? []).some((c) => c.notes.length));
  const chosen = instruments.find((t) => t.id === preferTrack) ?? instruments[0];
  if (!chosen) throw new Error('there are no notes to export');
  const tracks = stems ? instruments : [chosen];
  const out: ExportFile[] = [];
  let performance: Performance | undefined;
  let audioMs = 0, elapsedMs = 0;
  for (const t of tracks) {
    const p = trackPerformance(files, doc, t, sampleRate);
    if (!p) continue;
    performance ??= p;
    const r = await exportPerformance(new URL('export-worker.js', location.href).href, files.module, files.manifest.memoryPages, p);
    audioMs += r.audioMs;
    elapsedMs += r.elapsedMs;
    const wav = format === 'f32' ? r.wav : floatWavToPcm(r.wav, format === 's16' ? 16 : 24);
    out.push({ name: `${base}${stems || tracks.length > 1 ? ` - ${safeName(t.name ?? p.patchName)}` : ''}.wav`,
               blob: new Blob([wav], { type: 'audio/wav' }) });
  }
  const what = stems ? `${out.length} track stems` : `the track "${chosen.name ?? ''}"`;
  const kind = format === 'f32' ? '32-bit float' : format === 's16' ? '16-bit (dithered)' : '24-bit';
  return {
    files: out,
    note: `Exported ${what} as ${kind} WAV (rendered ${(audioMs / 1000).toFixed(2)} s in ${elapsedMs.toFixed(0)} ms): ` +
          "this build's export worker renders one instrument track at a time, without the mixer (the whole-mix render is not in it yet).",
    ...(performance ? { performance } : {}),
  };
}

export function download(file: ExportFile): void {
  const url = URL.createObjectURL(file.blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = file.name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

/** A 32-bit float WAV (wav.ts's layout: a 44-byte header, interleaved
 *  samples) as 16-bit PCM with TPDF dither (two uniform values of one LSB
 *  each, from a fixed-seed generator, so an export is repeatable) or as
 *  24-bit PCM, rounded. Samples beyond full scale clip. */
export function floatWavToPcm(wav: ArrayBuffer, bits: 16 | 24): ArrayBuffer {
  const src = new DataView(wav);
  const channels = src.getUint16(22, true);
  const rate = src.getUint32(24, true);
  const samples = (wav.byteLength - 44) / 4;
  const bytes = bits / 8;
  const dataBytes = samples * bytes;
  const out = new ArrayBuffer(44 + dataBytes);
  const v = new DataView(out);
  const text = (offset: number, s: string): void => {
    for (let i = 0; i < s.length; i++) v.setUint8(offset + i, s.charCodeAt(i));
  };
  text(0, 'RIFF');
  v.setUint32(4, 36 + dataBytes, true);
  text(8, 'WAVE');
  text(12, 'fmt ');
  v.setUint32(16, 16, true);
  v.setUint16(20, 1, true);                  // WAVE_FORMAT_PCM
  v.setUint16(22, channels, true);
  v.setUint32(24, rate, true);
  v.setUint32(28, rate * channels * bytes, true);
  v.setUint16(32, channels * bytes, true);
  v.setUint16(34, bits, true);
  text(36, 'data');
  v.setUint32(40, dataBytes, true);
  const full = bits === 16 ? 32767 : 8388607;
  let seed = 0x12345678;
  const uniform = (): number => {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    return seed / 4294967296;
  };
  for (let i = 0; i < samples; i++) {
    let x = src.getFloat32(44 + i * 4, true) * full;
    if (bits === 16) x += uniform() - uniform();
    const q = Math.max(-full - 1, Math.min(full, Math.round(x)));
    if (bits === 16) v.setInt16(44 + i * 2, q, true);
    else {
      const o = 44 + i * 3;
      v.setUint8(o, q & 255);
      v.setUint8(o + 1, (q >> 8) & 255);
      v.setUint8(o + 2, (q >> 16) & 255);
    }
  }
  return out;
}
