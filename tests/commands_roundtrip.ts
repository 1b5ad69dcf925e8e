// commands_roundtrip.ts — the generated TypeScript encoder against the C decoder.
//
//   node commands_roundtrip.js VECTORS.json RECORDS.bin
//
// VECTORS.json comes from `check_commands --write-vectors`: the test vectors
// of tests/check_commands.c, by schema field names. Each valid one is
// encoded here with the generated encoder (runtime/gen/gen_commands_ts.c) and
// written to RECORDS.bin as a u32 length and the record's bytes;
// `check_commands --check-encoded` then compares every record with what C
// writes, byte for byte, and decodes every field. Each invalid one (a value
// that cmd_decode refuses: a field just outside its range, NaN, a bad time,
// a broken rule) must make the encoder throw a RangeError, so the two sides
// agree on what is valid too. This file also checks what only the
// TypeScript side does: writing nothing when the view has no room, zeroing
// padding over old bytes, encoding at any offset.
//
// Built by runtime/gen/gen.mk with the strict web/tsconfig.json, beside a
// copy of the generated commands.ts; it needs nothing but node, so the few
// node APIs it uses are declared here rather than taken from @types/node.

import {
  COMMAND_SIZE_MAX,
  CommandType,
  TIME_MAX,
  TrackKind,
  commandInfo,
  commandSize,
  encodeCommand,
  encodeLoop,
  encodeNoteOn,
  encodePlay,
  encodeSetMute,
  encodeSetPan,
  encodeSetSend,
  encodeTimeSignature,
  encodeAddTrack,
  encodeAllNotesOff,
  encodePlaceRegion,
  encodePlaceRegionSlot,
  encodeSeekBeat,
  encodeSetMasterGain,
  encodeSetVoiceMode,
  encodeTempoChange,
  NotePriority,
  VoiceMode,
  type Command,
  type CommandInfo,
} from './commands.js';

interface FileSystem {
  readFileSync(path: string, encoding: 'utf8'): string;
  writeFileSync(path: string, data: Uint8Array): void;
}
declare const process: { readonly argv: readonly string[]; exitCode?: number };

let passed = 0;
let failed = 0;

function check(what: string, ok: boolean): void {
  if (ok) {
    passed++;
  } else {
    failed++;
    console.log(`FAILED: ${what}`);
  }
}

function throwsRange(what: string, encode: () => number): void {
  try {
    encode();
    check(`${what} throws`, false);
  } catch (e: unknown) {
    check(`${what} throws a RangeError`, e instanceof RangeError);
  }
}

// ---- what only the encoder does -------------------------------------------

function checkEncoderItself(): void {
  const view = new DataView(new ArrayBuffer(COMMAND_SIZE_MAX + 8));

  for (const type of Object.values(commandInfo)) {
    const size = commandSize[type.type];
    check(`${type.name}: size ${size} is whole 8-byte words`, size >= 16 && size % 8 === 0);
    check(`${type.name}: size table agrees with info`, size === type.size);
  }

  // Values the decoder rejects are refused before anything is written.
  throwsRange('key 128', () => encodeNoteOn(view, 0, 0, 0, 1, 128, 0.5));
  throwsRange('key 60.5', () => encodeNoteOn(view, 0, 0, 0, 1, 60.5, 0.5));
  throwsRange('velocity NaN', () => encodeNoteOn(view, 0, 0, 0, 1, 60, NaN));
  throwsRange('velocity Infinity', () => encodeNoteOn(view, 0, 0, 0, 1, 60, Infinity));
  throwsRange('velocity 1.0001', () => encodeNoteOn(view, 0, 0, 0, 1, 60, 1.0001));
  throwsRange('note id 2^32', () => encodeNoteOn(view, 0, 0, 0, 2 ** 32, 60, 0.5));
  throwsRange('track 1024', () => encodeSetPan(view, 0, 0, 1024, 0));
  throwsRange('pan -1.5', () => encodeSetPan(view, 0, 0, 1, -1.5));
  throwsRange('time -1', () => encodePlay(view, 0, -1));
  throwsRange('time past TIME_MAX', () => encodePlay(view, 0, TIME_MAX + 2));
  throwsRange('empty enabled loop', () => encodeLoop(view, 0, 0, 5, 5, true));
  throwsRange('denominator 3', () => encodeTimeSignature(view, 0, 0, 4, 3));
  throwsRange('send to itself', () => encodeSetSend(view, 0, 0, 9, 9, 1));
  throwsRange('kind 3', () => encodeAddTrack(view, 0, 0, 1, 3));
  throwsRange('all notes off of every track names track 3', () => encodeAllNotesOff(view, 0, 0, 3, true));
  throwsRange('voice mode 3', () => encodeSetVoiceMode(view, 0, 0, 1, 3, NotePriority.Last, 0));
  throwsRange('priority 3', () => encodeSetVoiceMode(view, 0, 0, 1, VoiceMode.Mono, 3, 0));
  throwsRange('tempo change at 19 bpm', () => encodeTempoChange(view, 0, 0, 48000, 19));
  throwsRange('tempo change at position -1', () => encodeTempoChange(view, 0, 0, -1, 120));
  throwsRange('master gain 24.01 dB', () => encodeSetMasterGain(view, 0, 0, 24.01));
  throwsRange('master gain NaN', () => encodeSetMasterGain(view, 0, 0, NaN));
  throwsRange('region first frame 2^32 - 1', () => encodePlaceRegion(view, 0, 0, 0, 1, 0, 0, 2 ** 32 - 1, 0, 0));
  throwsRange('region frames 2^32', () => encodePlaceRegion(view, 0, 0, 0, 1, 0, 0, 0, 2 ** 32, 0));
  throwsRange('region gain -145 dB', () => encodePlaceRegion(view, 0, 0, 0, 1, 0, 0, 0, 0, -145));
  throwsRange('offset -1', () => encodePlay(view, -1, 0));
  throwsRange('offset 0.5', () => encodePlay(view, 0.5, 0));

  // A float that rounds into range is accepted as the float it becomes.
  check('pan 1 + 2^-30 rounds to 1', encodeSetPan(view, 0, 0, 1, 1 + 2 ** -30) === 24);
  check('disabled empty loop', encodeLoop(view, 0, 0, 5, 5, false) === 40);
  check('enum value', encodeAddTrack(view, 0, 0, 1, TrackKind.Bus) === 24 && view.getUint8(20) === 2);
  check('voice mode, priority bytes and glide',
        encodeSetVoiceMode(view, 0, 0, 1, VoiceMode.Legato, NotePriority.High, 0.25) === 32 &&
        view.getUint8(20) === 2 && view.getUint8(21) === 2 && view.getFloat32(24, true) === 0.25);
  throwsRange('glide 11 s', () => encodeSetVoiceMode(view, 0, 0, 1, VoiceMode.Legato, NotePriority.High, 11));
  check('all notes off of every track', encodeAllNotesOff(view, 0, 0, 0, true) === 24 && view.getUint8(20) === 1);
  check('a region is 48 bytes', encodePlaceRegion(view, 0, 0, 0, 1, 0, 0, 0, 0, 0) === 48);
  check('the largest command is an engine region', encodePlaceRegionSlot(view, 0, 0, 0, 0, 0, 0, 0, 0, 0) === COMMAND_SIZE_MAX);
  // An f64 holds the number exactly, where an f32 would round it.
  check('f64 exact', encodeSeekBeat(view, 0, 0, 1 / 3) === 24 && view.getFloat64(16, true) === 1 / 3);
  throwsRange('f64 not finite', () => encodeSeekBeat(view, 0, 0, Infinity));

  // No room: 0, and the view is untouched.
  const small = new DataView(new ArrayBuffer(40));
  small.setUint8(8, 0xee);
  check('no room at offset 9', encodeLoop(small, 9, 0, 0, 1, true) === 0);
  check('nothing written', small.getUint8(8) === 0xee);
  check('exactly enough room', encodeLoop(small, 0, 0, 0, 1, true) === 40);

  // A bool is one byte, 0 or 1; padding and flags are zero, even over junk.
  const junk = new DataView(new ArrayBuffer(32));
  for (let i = 0; i < 32; i++) junk.setUint8(i, 0xff);
  check('set_mute writes 24 bytes', encodeSetMute(junk, 0, 7, 3, true) === 24);
  check('flags zero', junk.getUint32(4, true) === 0);
  check('mute byte', junk.getUint8(20) === 1);
  check('padding zero', junk.getUint8(21) === 0 && junk.getUint16(22, true) === 0);
  check('next byte untouched', junk.getUint8(24) === 0xff);
  check('time 2^53 - 1 high word', encodePlay(junk, 0, TIME_MAX) === 16 &&
        junk.getUint32(8, true) === 0xffffffff && junk.getUint32(12, true) === 0x1fffff);
}

// ---- the vectors from C -------------------------------------------------------

interface Vector {
  readonly type: number;
  readonly name: string;
  readonly time: number;
  readonly fields: Readonly<Record<string, unknown>>;
  /** For an invalid vector, what cmd_decode says of it. */
  readonly status?: string;
}

interface Vectors {
  readonly valid: readonly Vector[];
  readonly invalid: readonly Vector[];
}

function isVector(v: unknown): v is Vector {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  return typeof o['type'] === 'number' && typeof o['name'] === 'string' &&
    typeof o['time'] === 'number' && typeof o['fields'] === 'object' && o['fields'] !== null;
}

function isVectors(v: unknown): v is Vectors {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  const valid = o['valid'], invalid = o['invalid'];
  return Array.isArray(valid) && valid.every(isVector) &&
    Array.isArray(invalid) && invalid.every(isVector);
}

// JSON has no NaN or infinities: the C side writes them as strings.
function fieldValue(value: unknown): unknown {
  if (value === 'NaN') return NaN;
  if (value === 'Infinity') return Infinity;
  if (value === '-Infinity') return -Infinity;
  return value;
}

function infoOf(type: number): CommandInfo | undefined {
  return (commandInfo as Partial<Record<number, CommandInfo>>)[type];
}

// The vector as a Command object. The fields of a valid one are checked
// against the schema's types; an invalid one goes as it is (a bool field
// may hold 2, say), for the encoder to refuse.
function toCommand(v: Vector, valid: boolean): Command {
  const info = infoOf(v.type);
  if (info === undefined || info.schemaName !== v.name)
    throw new Error(`vector of unknown type ${v.type} (${v.name})`);
  const command: Record<string, unknown> = { type: info.type, time: v.time };
  for (const field of info.fields) {
    const value = fieldValue(v.fields[field.schemaName]);
    const want = field.type === 'bool' ? 'boolean' : 'number';
    if (valid && typeof value !== want)
      throw new Error(`${v.name}.${field.schemaName}: ${String(value)} is not a ${want}`);
    command[field.name] = value;
  }
  if (Object.keys(v.fields).length !== info.fields.length)
    throw new Error(`${v.name}: the vector has fields the schema does not`);
  // The checks above are what the union type promises.
  return command as unknown as Command;
}

async function main(): Promise<void> {
  const [vectorsPath, recordsPath] = process.argv.slice(2);
  if (vectorsPath === undefined || recordsPath === undefined)
    throw new Error('usage: commands_roundtrip VECTORS.json RECORDS.bin');
  const fsName: string = 'node:fs';   // a string, so no types are needed for it
  const fs = (await import(fsName)) as FileSystem;

  checkEncoderItself();

  const parsed: unknown = JSON.parse(fs.readFileSync(vectorsPath, 'utf8'));
  if (!isVectors(parsed))
    throw new Error(`${vectorsPath} does not hold valid and invalid vectors`);
  const vectors = parsed.valid;

  const scratch = new DataView(new ArrayBuffer(COMMAND_SIZE_MAX));
  for (const vector of parsed.invalid) {
    const fields = JSON.stringify(vector.fields);
    throwsRange(`${vector.name} ${vector.time} ${fields} (C: ${vector.status ?? '?'})`,
                () => encodeCommand(scratch, 0, toCommand(vector, false)));
  }

  const out = new Uint8Array(vectors.length * (4 + COMMAND_SIZE_MAX));
  const outView = new DataView(out.buffer);
  // Encoded twice: at offset 0 of a clean view and at an odd offset of a
  // dirty one, which must give the same bytes.
  const clean = new DataView(new ArrayBuffer(COMMAND_SIZE_MAX));
  const dirty = new DataView(new ArrayBuffer(COMMAND_SIZE_MAX + 3));
  const seen = new Set<CommandType>();
  let at = 0;
  for (const vector of vectors) {
    const command = toCommand(vector, true);
    seen.add(command.type);
    for (let i = 0; i < dirty.byteLength; i++) dirty.setUint8(i, 0xa5);
    const size = encodeCommand(clean, 0, command);
    check(`${vector.name}: size`, size === commandSize[command.type]);
    check(`${vector.name}: same bytes at offset 3`, encodeCommand(dirty, 3, command) === size &&
          new Uint8Array(clean.buffer, 0, size).every((b, i) => b === dirty.getUint8(3 + i)));
    outView.setUint32(at, size, true);
    out.set(new Uint8Array(clean.buffer, 0, size), at + 4);
    at += 4 + size;
  }
  check('every command type has a vector', seen.size === Object.keys(commandInfo).length);

  fs.writeFileSync(recordsPath, out.subarray(0, at));
  console.log(`commands encoder: ${parsed.invalid.length} invalid vectors tried, ` +
              `${vectors.length} records written to ${recordsPath}`);
  console.log(`commands encoder: ${passed} passed, ${failed} failed`);
  if (failed > 0) process.exitCode = 1;
}

await main();
