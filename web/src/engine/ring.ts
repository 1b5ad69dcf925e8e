// ring.ts — the producer side of a record ring in shared memory.
//
// The layout and the algorithm are runtime/RINGS.md's (the C side is
// runtime/ring.c): header words at byte offsets 0 (write_index), 64
// (read_index), 128 (capacity), 192 (dropped), data from 256; records are a
// u32 length, the payload, padding to 4 bytes, and may wrap. Indices are
// free-running byte counts, masked with capacity - 1.
//
// Threading contract: one producer (the page's main thread, this class) and
// one consumer (the engine, in C). The producer stores only write_index and
// dropped; it reads read_index with Atomics (sequentially consistent, so at
// least the acquire the algorithm needs) and publishes write_index with
// Atomics.store after the bytes are written (at least a release).

const WRITE_WORD = 0;   // byte 0
const READ_WORD = 16;   // byte 64
const CAPACITY_WORD = 32; // byte 128
const DROPPED_WORD = 48;  // byte 192
const DATA_OFFSET = 256;

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
    this.base = base >> 2;
    this.capacity = Atomics.load(this.u32, this.base + CAPACITY_WORD);
    if (this.capacity < 8 || (this.capacity & (this.capacity - 1)) !== 0)
      throw new Error(`no ring at ${base}: capacity ${this.capacity}`);
    this.mask = this.capacity - 1;
    this.data = base + DATA_OFFSET;
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
    const need = 4 + ((len + 3) & ~3);
    if (len > cap - 4 || need > cap - ((w - r) >>> 0)) {
      Atomics.add(this.u32, this.base + DROPPED_WORD, 1);
      return false;
    }
    // The length word never wraps: it starts at a multiple of 4.
    this.view.setUint32(this.data + (w & this.mask), len, true);
    const start = (w + 4) & this.mask;
    const first = Math.min(len, cap - start);
    this.bytes.set(payload.subarray(0, first), this.data + start);
    if (first < len) this.bytes.set(payload.subarray(first), this.data);
    Atomics.store(this.u32, this.base + WRITE_WORD, (w + need) >>> 0);  // publish
    return true;
  }
}
