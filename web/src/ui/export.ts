// export.ts — the Export menu's work: the whole arrangement as WAV (the
// mix, and the stems in one zip file) rendered by the export worker with
// the C of `amp render` (`render-project`, src/engine/exporter.ts), and the
// notes as a Standard MIDI File.
//
// The worker gets the document exactly as the page would save it (format
// version 2, built-in patches) and the bytes of every ampd asset its audio
// regions and sample slots name, so the mix is the file `amp render PROJECT.json --library
// nodes` writes for the saved project: `--format f32`, `--format s24`, or
// `--format s16 --dither` (TPDF from the seeded generator of
// runtime/formats/wav.h). Stems are `amp render --stems`: one WAV per
// instrument and audio track (the track soloed, its sends and their buses
// included), packed with the mix into one uncompressed zip, so the browser
// asks for one download, not a dozen.

import type { ProjectDoc } from '../doc/project';
import type { EngineFiles } from '../engine/client';
import { exportProject } from '../engine/exporter';
import type { ModuleRequest } from '../engine/modules';
import type { ProjectRenderRequest } from '../engine/render';
import { writeSmf } from './smf';

export type WavChoice = 's16' | 's24' | 'f32';

export interface ExportFile {
  name: string;
  blob: Blob;
}

export interface ExportOutcome {
  files: ExportFile[];
  note: string;
  /** The rendered mix's length (the tests compare it with amp render). */
  frames: number;
  rate: number;
}

export function safeName(s: string): string {
  return s.replace(/[^A-Za-z0-9 _.-]+/g, '').trim() || 'song';
}

export function projectName(doc: ProjectDoc): string {
  return typeof doc.ui?.name === 'string' ? doc.ui.name : 'Untitled';
}

export function exportMidi(doc: ProjectDoc): ExportFile {
  const bytes = writeSmf(doc);
  return { name: `${safeName(projectName(doc))}.mid`, blob: new Blob([bytes.slice().buffer], { type: 'audio/midi' }) };
}

/** Every ampd asset hash the document's audio regions and instruments'
 *  sample slots name. A region or slot by file path cannot be exported
 *  from the page (nor saved to ampd). */
export function assetHashes(doc: ProjectDoc): string[] {
  const out = new Set<string>();
  for (const t of doc.tracks) {
    for (const r of t.regions ?? []) {
      if (r.asset) out.add(r.asset);
      else throw new Error(`track "${t.name ?? t.id}" has an audio region naming a file, not an uploaded asset`);
    }
    for (const [slot, s] of Object.entries(t.samples ?? {})) {
      if (s.asset) out.add(s.asset);
      else throw new Error(`track "${t.name ?? t.id}" binds sample slot ${slot} to a file, not an uploaded asset`);
    }
  }
  return [...out];
}

export const FORMAT_NAMES: Record<WavChoice, string> = {
  s16: '16-bit (dithered)', s24: '24-bit', f32: '32-bit float',
};

export async function exportAudio(files: EngineFiles, doc: ProjectDoc, format: WavChoice, stems: boolean,
                                  fetchAsset: (hash: string) => Promise<ArrayBuffer>,
                                  onProgress?: (fraction: number) => void,
                                  modules: readonly Omit<ModuleRequest, 'type' | 'id'>[] = []): Promise<ExportOutcome> {
  const base = safeName(projectName(doc));
  const assets: Record<string, ArrayBuffer> = {};
  for (const hash of assetHashes(doc)) assets[hash] = await fetchAsset(hash);
  const r = await exportProject(new URL('export-worker.js', location.href).href,
                                // modules: loaded into the worker's engine before it renders
                                // (export-worker.ts; library patches, ui/library.ts).
                                { json: JSON.stringify(doc), assets, format, stems, ...(modules.length ? { modules } : {}) } as ProjectRenderRequest,
                                { module: files.module, manifest: files.manifest,
                                  onProgress: (done, total) => onProgress?.(total > 0 ? done / total : 0) });
  const seconds = r.frames / r.rate;
  const speed = `rendered ${seconds.toFixed(2)} s in ${r.elapsedMs.toFixed(0)} ms`;
  if (!stems)
    return { files: [{ name: `${base}.wav`, blob: new Blob([r.mix], { type: 'audio/wav' }) }],
             note: `Exported the mix as ${FORMAT_NAMES[format]} WAV (${speed}).`, frames: r.frames, rate: r.rate };
  const entries = [{ name: `${base} - mix.wav`, data: new Uint8Array(r.mix) },
                   ...r.stems.map((s) => ({ name: `${base} - ${String(s.index + 1).padStart(2, '0')} ${safeName(s.name || String(s.id))}.wav`,
                                            data: new Uint8Array(s.wav) }))];
  return { files: [{ name: `${base} - stems.zip`, blob: new Blob([zipStored(entries)], { type: 'application/zip' }) }],
           note: `Exported the mix and ${r.stems.length} stems as ${FORMAT_NAMES[format]} WAV in one zip file (${speed}).`,
           frames: r.frames, rate: r.rate };
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

// ---- a zip file without compression (PKWARE APPNOTE 4.3: local headers,
// the central directory, its end record; method 0, CRC-32) -------------------

let crcTable: Uint32Array | null = null;

function crc32(data: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = crcTable[(c ^ data[i]!) & 255]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

export function zipStored(entries: { name: string; data: Uint8Array }[]): ArrayBuffer {
  const enc = new TextEncoder();
  const names = entries.map((e) => enc.encode(e.name));
  const crcs = entries.map((e) => crc32(e.data));
  let size = 22;
  entries.forEach((e, i) => { size += 30 + names[i]!.length + e.data.length + 46 + names[i]!.length; });
  const out = new ArrayBuffer(size);
  const v = new DataView(out);
  const bytes = new Uint8Array(out);
  let at = 0;
  const offsets: number[] = [];
  // DOS time and date of 1 January 2000, 00:00: the zip is the same bytes for the same export.
  const dosDate = (20 << 9) | (1 << 5) | 1;
  entries.forEach((e, i) => {
    offsets.push(at);
    v.setUint32(at, 0x04034b50, true); v.setUint16(at + 4, 20, true); v.setUint16(at + 6, 0x0800, true);
    v.setUint16(at + 8, 0, true); v.setUint16(at + 10, 0, true); v.setUint16(at + 12, dosDate, true);
    v.setUint32(at + 14, crcs[i]!, true); v.setUint32(at + 18, e.data.length, true); v.setUint32(at + 22, e.data.length, true);
    v.setUint16(at + 26, names[i]!.length, true); v.setUint16(at + 28, 0, true);
    bytes.set(names[i]!, at + 30);
    bytes.set(e.data, at + 30 + names[i]!.length);
    at += 30 + names[i]!.length + e.data.length;
  });
  const dir = at;
  entries.forEach((e, i) => {
    v.setUint32(at, 0x02014b50, true); v.setUint16(at + 4, 20, true); v.setUint16(at + 6, 20, true);
    v.setUint16(at + 8, 0x0800, true); v.setUint16(at + 10, 0, true); v.setUint16(at + 12, 0, true);
    v.setUint16(at + 14, dosDate, true); v.setUint32(at + 16, crcs[i]!, true);
    v.setUint32(at + 20, e.data.length, true); v.setUint32(at + 24, e.data.length, true);
    v.setUint16(at + 28, names[i]!.length, true);
    // extra, comment, disk, internal and external attributes: 0
    v.setUint32(at + 42, offsets[i]!, true);
    bytes.set(names[i]!, at + 46);
    at += 46 + names[i]!.length;
  });
  v.setUint32(at, 0x06054b50, true);
  v.setUint16(at + 8, entries.length, true); v.setUint16(at + 10, entries.length, true);
  v.setUint32(at + 12, at - dir, true); v.setUint32(at + 16, dir, true);
  return out;
}
