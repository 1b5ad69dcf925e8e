// help.tsx — the keyboard shortcuts and gestures (? or the ? button; Esc
// or ? again closes it).

import type { Daw } from './daw';

const SECTIONS: [string, [string, string][]][] = [
  ['Transport', [
    ['Space', 'play / stop'], ['R', 'record (one bar of count-in)'], ['L', 'loop on / off'], ['Home', 'back to the start'],
    ['click the ruler', 'move the playhead'], ['drag on the ruler', 'set the loop'], ['right click the ruler', 'tempo and time-signature changes'],
  ]],
  ['Arrangement', [
    ['double click a lane', 'new clip (opens in the piano roll)'], ['drag a clip', 'move; its edges resize, the top-right corner loops'],
    ['S', 'split the selected clip at the playhead'], ['Ctrl+D', 'duplicate'], ['Ctrl+C / Ctrl+V', 'copy / paste at the playhead'],
    ['Delete', 'delete'], ['+ / -', 'zoom'], ['Ctrl+wheel', 'zoom at the pointer'], ['wheel, Shift+wheel', 'scroll'], ['Alt while dragging', 'ignore the snap'],
    ['drop a WAV file on a sampler track', 'load it into its sample slot (or Load… in the Instrument tab)'],
  ]],
  ['Piano roll', [
    ['click or drag on the grid', 'draw a note (it sounds)'], ['Ctrl+drag / Shift+drag', 'rubber-band select'], ['drag a note / its end', 'move / resize'],
    ['arrows', 'move the selection (Shift: an octave)'], ['Q', 'quantize to the snap'], ['Ctrl+A', 'select all'], ['velocity lane', 'drag to set velocities'],
  ]],
  ['Playing and editing', [
    ['M or ⌨', 'play the selected track from the computer keyboard'], ['A S D F G H J K L', 'white keys from C (W E T Y U O P: black)'], ['Z / X', 'octave down / up'],
    ['Ctrl+Z / Ctrl+Shift+Z', 'undo / redo'], ['Ctrl+S', 'save'], ['?', 'this help'],
  ]],
];

export function HelpDialog({ daw }: { daw: Daw }): React.JSX.Element {
  const close = (): void => daw.ui.set({ dialog: 'none' });
  return (
    <div className="modal-back" onClick={close}>
      <div className="modal help" role="dialog" aria-label="Keyboard shortcuts" data-testid="help" onClick={(e) => e.stopPropagation()}>
        <div className="modal-head">
          <h2>Keyboard shortcuts</h2>
          <button type="button" className="btn small" aria-label="Close" onClick={close}>✕</button>
        </div>
        <div className="help-grid">
          {SECTIONS.map(([title, rows]) => (
            <section key={title}>
              <h3>{title}</h3>
              <table><tbody>
                {rows.map(([k, what]) => <tr key={k}><td className="help-key">{k}</td><td>{what}</td></tr>)}
              </tbody></table>
            </section>
          ))}
        </div>
      </div>
    </div>
  );
}
