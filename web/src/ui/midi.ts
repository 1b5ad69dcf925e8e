// midi.ts — notes from Web MIDI inputs, when the browser has Web MIDI and
// the user allows it. Each message keeps its timestamp (performance.now()
// time), which the page maps to the engine time it should sound at, so a
// quick run of notes keeps its rhythm to the sample.

export interface MidiSink {
  press(key: number, velocity: number, timeStamp: number, timed: boolean): void;
  release(key: number, timeStamp: number, timed: boolean): void;
}

/** Listen to every MIDI input, now and as devices come and go. Resolves to
 *  a line for the status bar. */
export async function connectMidi(sink: MidiSink): Promise<string> {
  if (typeof navigator.requestMIDIAccess !== 'function') return 'MIDI: not in this browser';
  let access: MIDIAccess;
  try {
    access = await navigator.requestMIDIAccess();
  } catch {
    return 'MIDI: not allowed';
  }
  const listen = (): number => {
    let n = 0;
    access.inputs.forEach((input) => {
      input.onmidimessage = (e: MIDIMessageEvent) => handle(e, sink);
      n++;
    });
    return n;
  };
  const count = listen();
  access.onstatechange = () => void listen();
  return count ? `MIDI: ${count} input${count === 1 ? '' : 's'}` : 'MIDI: no inputs';
}

function handle(e: MIDIMessageEvent, sink: MidiSink): void {
  const data = e.data;
  if (!data || data.length < 3) return;
  const status = (data[0] ?? 0) & 0xf0;
  const key = (data[1] ?? 0) & 0x7f;
  const velocity = (data[2] ?? 0) & 0x7f;
  if (status === 0x90 && velocity > 0) sink.press(key, velocity / 127, e.timeStamp, true);
  else if (status === 0x80 || status === 0x90) sink.release(key, e.timeStamp, true);
}
