// midi.ts — a Standard MIDI File imported as a project document by
// engine.wasm (runtime/wasm/wasm_midi.c): the C of `amp import SONG.mid
// --builtin` (runtime/formats/smf.c, midi_import.c), so the document is
// the bytes `amp import` writes and the messages are its lines. Runs in
// the export worker ('import-midi', export-worker.ts).
//
// Patches are named as built-in library ids ({"builtin": "pad.amp"}; the
// defaults are pad.amp for the instrument tracks, drums.amp for channel
// 10's). The document is version 2 unless asked otherwise (the DAW's:
// signature changes on bar lines kept, the tail rule); `amp import
// --builtin --project-version 2` writes the same bytes.

import { instantiateEngine, readCString } from './wasm';

/** A patch of the built-in library (PROJECT.md "Built-in patches"). */
export interface BuiltinPatchRef {
  builtin: string;
  unit?: string;
}

export interface MidiImportRequest {
  /** The file's bytes. */
  bytes: ArrayBuffer;
  /** Its name: in messages, warnings and the document's "ui". */
  name?: string;
  /** The instrument tracks' patch (default pad.amp). */
  patch?: BuiltinPatchRef;
  /** The channel-10 tracks' patch (default drums.amp). */
  drums?: BuiltinPatchRef;
  /** The document's version: 2 (default) or 1 (`amp import`'s default). */
  version?: 1 | 2;
  /** The document's sample_rate (default 48000). */
  sampleRate?: number;
}

export interface MidiImportResult {
  /** The project document as text (runtime/formats/PROJECT.md). */
  json: string;
  /** The reader's warnings, one line each, as `amp import` prints them
   *  after "amp: warning: " ("song.mid: 1 note without a note-off ..."). */
  warnings: string[];
}

/** A file the import refuses: `message` is `amp import`'s, without its
 *  "amp: " ("song.mid: track 2: event at byte 318 runs past ..."). */
export class MidiImportError extends Error {
  override name = 'MidiImportError';
}

interface MidiExports {
  amp_alloc(bytes: number): number;
  amp_free(pointer: number): void;
  amp_midi_import(bytes: number, length: number, options: number, optionsLength: number): number;
  amp_midi_json(): number;
  amp_midi_json_size(): number;
  amp_midi_warnings(): number;
  amp_midi_error(): number;
  amp_midi_close(): void;
}

/** The options object amp_midi_import reads. */
function optionsJson(request: MidiImportRequest): string {
  return JSON.stringify({
    ...(request.name !== undefined ? { name: request.name } : {}),
    ...(request.patch ? { patch: request.patch } : {}),
    ...(request.drums ? { drums: request.drums } : {}),
    ...(request.sampleRate !== undefined ? { sample_rate: request.sampleRate } : {}),
    version: request.version ?? 2,
  });
}

/** Import `request.bytes` with a new instance of engine.wasm in `memory`
 *  (a fresh, growable memory: createSizedMemory). Throws MidiImportError
 *  with the import's message. */
export function importMidi(module: WebAssembly.Module, memory: WebAssembly.Memory,
                           request: MidiImportRequest): MidiImportResult {
  const engine = instantiateEngine(module, memory) as unknown as MidiExports;
  const put = (bytes: Uint8Array): number => {
    const at = engine.amp_alloc(Math.max(1, bytes.length));
    if (!at) throw new MidiImportError(`out of memory for ${bytes.length} bytes`);
    new Uint8Array(memory.buffer).set(bytes, at);
    return at;
  };
  const options = new TextEncoder().encode(optionsJson(request));
  const data = new Uint8Array(request.bytes);
  const optionsAt = put(options);
  let dataAt = 0;
  try {
    dataAt = put(data);
    if (engine.amp_midi_import(dataAt, data.length, optionsAt, options.length) !== 0)
      throw new MidiImportError(readCString(memory, engine.amp_midi_error()));
    const at = engine.amp_midi_json();
    const json = new TextDecoder().decode(new Uint8Array(memory.buffer, at, engine.amp_midi_json_size()).slice());
    const warnings = readCString(memory, engine.amp_midi_warnings()).split('\n').filter((line) => line !== '');
    return { json, warnings };
  } finally {
    engine.amp_midi_close();
    engine.amp_free(optionsAt);
    if (dataAt) engine.amp_free(dataAt);
  }
}
