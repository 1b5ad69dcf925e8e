// commands.ts — the commands this page sends, written into the command ring.
//
// The encoding is the schema's (runtime/commands.def): the generated
// encoder $(B)/gen/web/commands.ts writes each record exactly as the
// engine's cmd_decode reads it. This module is the one place the page
// touches that encoder, so the rest of the app deals in "note on at frame
// t", not in bytes. Every command goes to track 0: until the multi-track
// engine lands, the engine plays one patch (runtime/wasm_main.c).

import {
  COMMAND_SIZE_MAX,
  encodeNoteOff,
  encodeNoteOn,
  encodeSetInstrument,
  encodeSetParam,
  encodeStop,
} from '@amp/gen/commands';
import type { RingWriter } from './ring';

const TRACK = 0;
const INSTRUMENT_SLOT = 0;

export class CommandSender {
  private readonly scratch = new Uint8Array(COMMAND_SIZE_MAX);
  private readonly view = new DataView(this.scratch.buffer);
  private readonly ring: RingWriter;
  /** FNV-1a of every record written, in order: the engine keeps the same
   *  hash of what it applied (state region, command_hash). */
  hash = 0x811c9dc5;
  sent = 0;

  constructor(ring: RingWriter) {
    this.ring = ring;
  }

  /** Start a note at engine time `time` (0: as soon as possible). */
  noteOn(time: number, noteId: number, key: number, velocity: number): boolean {
    return this.send(encodeNoteOn(this.view, 0, time, TRACK, noteId, key, velocity));
  }

  noteOff(time: number, noteId: number): boolean {
    return this.send(encodeNoteOff(this.view, 0, time, TRACK, noteId));
  }

  /** Param `param` of the playing patch, in its unit. */
  setParam(time: number, param: number, value: number): boolean {
    return this.send(encodeSetParam(this.view, 0, time, TRACK, INSTRUMENT_SLOT, param, value));
  }

  /** Play registry entry `index` (-1: nothing). */
  selectPatch(time: number, index: number): boolean {
    return this.send(encodeSetInstrument(this.view, 0, time, TRACK, index + 1));
  }

  /** Release every sounding note. */
  allNotesOff(time: number): boolean {
    return this.send(encodeStop(this.view, 0, time));
  }

  private send(length: number): boolean {
    const record = this.scratch.subarray(0, length);
    if (!this.ring.write(record)) return false;
    for (const b of record) this.hash = Math.imul(this.hash ^ b, 16777619) >>> 0;
    this.sent++;
    return true;
  }
}
