// ring.ts — the producer side of a record ring in shared memory.
//
// The layout and the algorithm are runtime/engine/RINGS.md's (the C side is
// runtime/engine/ring.c): a header (RING_HEADER of the generated layout module,
// from runtime/engine/layout.def: write_index, read_index, capacity and dropped,
// each a u32 on its own cache line), then the data area from
// RING_HEADER_BYTES; records are a u32 length, the payload, padding to 4
// bytes, and may wrap. Indices are free-running byte counts, masked with
// capacity - 1.
//
// Threading contract: one producer (the page's main thread, this class) and
// one consumer (the engine, in C). The producer stores only write_index and
// dropped; it reads read_index with Atomics (sequentially consistent, so at
// least the acquire the algorithm needs) and publishes write_index with
// Atomics.store after the bytes are written (at least a release).

import {
  RING_ALIGN,
  RING_HEADER,
  RING_HEADER_BYTES,
  RING_MIN_CAPACITY,
  RING_RECORD_HEADER,
} from '@amp/gen/layout';

const WORD = Uint32Array.BYTES_PER_ELEMENT;
/** The header's fields as indices into a Uint32Array, from the ring's base. */
const WRITE_WORD = RING_HEADER.writeIndex / WORD;
const READ_WORD = RING_HEADER.readIndex / WORD;
const CAPACITY_WORD = RING_HEADER.capacity / WORD;
const DROPPED_WORD = RING_HEADER.dropped / WORD;

export class RingWriter {
  private readonly u32: Uint32Array;
  private readonly bytes: Uint8Array;
  private readonly view: DataView;
  private readonly base: number;
  readonly capacity: number;
  private readonly mask: number;
  private readonly data: number;

  constructor(buffer: ArrayBufferLike, base: number) {
    this.u32 = new Uint32Array(buffer);
    this.bytes = new Uint8Array(buffer);
    this.view = new DataView(buffer);
    if (base % RING_ALIGN !== 0) throw new Error(`no ring at ${base}: not ${RING_ALIGN}-byte aligned`);
    this.base = base / WORD;
    this.capacity = Atomics.load(this.u32, this.base + CAPACITY_WORD);
    if (this.capacity < RING_MIN_CAPACITY || (this.capacity & (this.capacity - 1)) !== 0)
      throw new Error(`no ring at ${base}: capacity ${this.capacity}`);
    this.mask = this.capacity - 1;
    this.data = base + RING_HEADER_BYTES;
  }

  /** Bytes the consumer has not taken yet. */
  used(): number {
    const w = Atomics.load(this.u32, this.base + WRITE_WORD);
    const r = Atomics.load(this.u32, this.base + READ_WORD);
    return (w - r) >>> 0;
  }

  /** Writes refused so far (the ring was full). */
  dropped(): number {
    return Atomics.load(this.u32, this.base + DROPPED_WORD);
  }

  /** Append one record, whole or not at all. False (and dropped + 1) when
   *  it does not fit now. */
  write(payload: Uint8Array): boolean {
    const len = payload.length;
    const cap = this.capacity;
    const w = Atomics.load(this.u32, this.base + WRITE_WORD);  // own index
    const r = Atomics.load(this.u32, this.base + READ_WORD);   // consumer's progress
    const need = RING_RECORD_HEADER + ((len + 3) & ~3);
    if (len > cap - RING_RECORD_HEADER || need > cap - ((w - r) >>> 0)) {
      Atomics.add(this.u32, this.base + DROPPED_WORD, 1);
      return false;
    }
    // The length word never wraps: it starts at a multiple of 4.
    this.view.setUint32(this.data + (w & this.mask), len, true);
    const start = (w + RING_RECORD_HEADER) & this.mask;
    const first = Math.min(len, cap - start);
    this.bytes.set(payload.subarray(0, first), this.data + start);
    if (first < len) this.bytes.set(payload.subarray(first), this.data);
    Atomics.store(this.u32, this.base + WRITE_WORD, (w + need) >>> 0);  // publish
    return true;
  }
}
