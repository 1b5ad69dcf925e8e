// keyboard.ts — notes from the computer keyboard.
//
// The computer keyboard is two rows of a piano, by physical key (so it is
// the same on AZERTY or Dvorak): the home row plays the white keys from C
// (A S D F G H J K L ; '), the row above the black keys between them
// (W E  T Y U  O P). Z and X move the octave down and up. The DAW calls
// down() and up() from its one key handler while computer-keyboard playing
// is on (the letters are shortcuts otherwise).

export interface NoteSink {
  press(key: number, velocity: number, timeStamp: number): void;
  release(key: number, timeStamp: number): void;
}

/** Physical key -> semitones above the keyboard's C. */
const KEY_SEMITONES: Readonly<Record<string, number>> = {
  KeyA: 0, KeyW: 1, KeyS: 2, KeyE: 3, KeyD: 4, KeyF: 5, KeyT: 6, KeyG: 7,
  KeyY: 8, KeyH: 9, KeyU: 10, KeyJ: 11, KeyK: 12, KeyO: 13, KeyL: 14,
  KeyP: 15, Semicolon: 16, Quote: 17,
};

const DEFAULT_VELOCITY = 0.8;
const LOWEST_OCTAVE = 0;   // C0 = key 12
const HIGHEST_OCTAVE = 8;

export class ComputerKeyboard {
  private octave = 4;   // C4 = 60
  private readonly held = new Map<string, number>();   // code -> MIDI key
  private readonly sink: NoteSink;
  private readonly onOctave: (octave: number) => void;

  constructor(sink: NoteSink, onOctave: (octave: number) => void) {
    this.sink = sink;
    this.onOctave = onOctave;
  }

  get baseKey(): number {
    return 12 * (this.octave + 1);
  }

  /** A key went down: true when it was the keyboard's (a note or Z/X). */
  down(e: KeyboardEvent): boolean {
    if (e.ctrlKey || e.metaKey || e.altKey || isTyping(e.target)) return false;
    if (e.code === 'KeyZ' || e.code === 'KeyX') {
      if (!e.repeat) this.shift(e.code === 'KeyZ' ? -1 : 1);
      e.preventDefault();
      return true;
    }
    const semitones = KEY_SEMITONES[e.code];
    if (semitones === undefined) return false;
    e.preventDefault();
    if (e.repeat || this.held.has(e.code)) return true;
    const key = this.baseKey + semitones;
    if (key > 127) return true;
    this.held.set(e.code, key);
    this.sink.press(key, DEFAULT_VELOCITY, e.timeStamp);
    return true;
  }

  up(e: KeyboardEvent): boolean {
    const key = this.held.get(e.code);
    if (key === undefined) return false;
    this.held.delete(e.code);
    this.sink.release(key, e.timeStamp);
    return true;
  }

  private shift(by: number): void {
    this.octave = Math.min(HIGHEST_OCTAVE, Math.max(LOWEST_OCTAVE, this.octave + by));
    this.onOctave(this.octave);
  }

  releaseAll(timeStamp: number): void {
    for (const key of this.held.values()) this.sink.release(key, timeStamp);
    this.held.clear();
  }
}

export function isTyping(target: EventTarget | null): boolean {
  return target instanceof HTMLElement &&
    (target.tagName === 'INPUT' && (target as HTMLInputElement).type === 'text' ||
     target.tagName === 'TEXTAREA' || target.isContentEditable);
}
