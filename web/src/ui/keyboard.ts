// keyboard.ts — notes from the computer keyboard and the on-screen piano.
//
// The computer keyboard is two rows of a piano, by physical key (so it is
// the same on AZERTY or Dvorak): the home row plays the white keys from C
// (A S D F G H J K L ; '), the row above the black keys between them
// (W E  T Y U  O P). Z and X move the octave down and up.

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

  attach(target: Window): void {
    target.addEventListener('keydown', (e) => this.down(e));
    target.addEventListener('keyup', (e) => this.up(e));
    // Keys held while the window loses focus would never see their keyup.
    target.addEventListener('blur', () => this.releaseAll(performance.now()));
  }

  private down(e: KeyboardEvent): void {
    if (e.ctrlKey || e.metaKey || e.altKey || isTyping(e.target)) return;
    if (e.code === 'KeyZ' || e.code === 'KeyX') {
      if (!e.repeat) this.shift(e.code === 'KeyZ' ? -1 : 1);
      e.preventDefault();
      return;
    }
    const semitones = KEY_SEMITONES[e.code];
    if (semitones === undefined) return;
    e.preventDefault();
    if (e.repeat || this.held.has(e.code)) return;
    const key = this.baseKey + semitones;
    if (key > 127) return;
    this.held.set(e.code, key);
    this.sink.press(key, DEFAULT_VELOCITY, e.timeStamp);
  }

  private up(e: KeyboardEvent): void {
    const key = this.held.get(e.code);
    if (key === undefined) return;
    this.held.delete(e.code);
    this.sink.release(key, e.timeStamp);
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

function isTyping(target: EventTarget | null): boolean {
  return target instanceof HTMLElement &&
    (target.tagName === 'INPUT' && (target as HTMLInputElement).type === 'text' ||
     target.tagName === 'TEXTAREA' || target.isContentEditable);
}

const BLACK = new Set([1, 3, 6, 8, 10]);
const NAMES = ['C', 'C#', 'D', 'D#', 'E', 'F', 'F#', 'G', 'G#', 'A', 'A#', 'B'];

export function keyName(key: number): string {
  return `${NAMES[key % 12] ?? '?'}${Math.floor(key / 12) - 1}`;
}

/** The on-screen piano: `first`..`last` (MIDI keys), played with the mouse
 *  or a touch; dragging across keys plays each in turn. */
export class ScreenKeyboard {
  readonly element: HTMLElement;
  private readonly keys = new Map<number, HTMLElement>();
  private readonly sink: NoteSink;
  private readonly pointerKey = new Map<number, number>();   // pointer id -> MIDI key

  constructor(sink: NoteSink, first: number, last: number) {
    this.sink = sink;
    this.element = document.createElement('div');
    this.element.className = 'piano';
    this.element.setAttribute('role', 'group');
    this.element.setAttribute('aria-label', 'Piano keyboard');
    let white = 0;
    for (let key = first; key <= last; key++) {
      const k = document.createElement('div');
      const black = BLACK.has(key % 12);
      k.className = black ? 'key black' : 'key white';
      k.dataset['key'] = String(key);
      k.title = keyName(key);
      if (black) k.style.left = `calc(${white} * var(--white-width) - var(--black-width) / 2)`;
      else white++;
      this.keys.set(key, k);
      this.element.appendChild(k);
    }
    this.element.style.setProperty('--whites', String(white));
    this.element.addEventListener('pointerdown', (e) => this.pointerDown(e));
    this.element.addEventListener('pointermove', (e) => this.pointerMove(e));
    for (const type of ['pointerup', 'pointercancel', 'lostpointercapture'] as const)
      this.element.addEventListener(type, (e) => this.pointerUp(e));
  }

  /** Show `key` as held or not (whatever played it). */
  light(key: number, on: boolean): void {
    this.keys.get(key)?.classList.toggle('down', on);
  }

  private keyAt(e: PointerEvent): number | undefined {
    const hit = document.elementFromPoint(e.clientX, e.clientY);
    if (!(hit instanceof HTMLElement) || !this.element.contains(hit)) return undefined;
    const key = hit.dataset['key'];
    return key === undefined ? undefined : Number(key);
  }

  private pointerDown(e: PointerEvent): void {
    const key = this.keyAt(e);
    if (key === undefined) return;
    e.preventDefault();
    this.element.setPointerCapture(e.pointerId);
    this.pointerKey.set(e.pointerId, key);
    // Lower on the key is louder, as on a real one.
    const rect = (e.target as HTMLElement).getBoundingClientRect();
    const velocity = Math.min(1, Math.max(0.2, (e.clientY - rect.top) / Math.max(1, rect.height)));
    this.sink.press(key, velocity, e.timeStamp);
  }

  private pointerMove(e: PointerEvent): void {
    const held = this.pointerKey.get(e.pointerId);
    if (held === undefined) return;
    const key = this.keyAt(e);
    if (key === undefined || key === held) return;
    this.sink.release(held, e.timeStamp);
    this.pointerKey.set(e.pointerId, key);
    this.sink.press(key, 0.8, e.timeStamp);
  }

  private pointerUp(e: PointerEvent): void {
    const held = this.pointerKey.get(e.pointerId);
    if (held === undefined) return;
    this.pointerKey.delete(e.pointerId);
    this.sink.release(held, e.timeStamp);
  }
}
