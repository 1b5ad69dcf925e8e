// patches.tsx — the patch library dialog (File > Patch library…): the
// user's patches on ampd (Edit opens one in the editor page; a saved
// revision comes back to the tracks using it, instrument.tsx) and the
// built-in library (ampd's --library folder, the repository's nodes/),
// which can be opened in the editor as a copy or forked straight into the
// user's library (POST /api/patches with the file's text).

import { useEffect, useState } from 'react';
import type { Daw } from './daw';
import { useLibrary } from './hooks';

export function PatchesDialog({ daw }: { daw: Daw }): React.JSX.Element {
  useLibrary(daw.ctx);
  const [busy, setBusy] = useState('');
  const library = daw.library;
  useEffect(() => { if (library.enabled) void library.refresh(); }, [library]);
  const close = (): void => daw.ui.set({ dialog: 'none' });
  const mine = library.userPatches();
  const builtins = library.entries.filter((e) => e.builtin && e.path);
  const fork = async (path: string): Promise<void> => {
    setBusy(path);
    try {
      const text = await library.api.libraryFile(path);
      const name = path.replace(/\.amp$/, '').replace(/\//g, '_');
      const p = await library.api.createPatch(name, text);
      await library.refresh();
      daw.say(`Forked ${path} into your library as "${p.name}" (r${p.revision}).`);
    } catch (e) {
      daw.say(`Could not fork ${path}: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      setBusy('');
    }
  };
  return (
    <div className="modal-back" onPointerDown={(e) => { if (e.target === e.currentTarget) close(); }}>
      <div className="modal" role="dialog" aria-label="Patch library" data-testid="patches-dialog">
        <div className="modal-head"><h2>Patch library</h2><button type="button" className="icon" onClick={close} aria-label="Close">✕</button></div>
        {!library.available && <p className="warn">The patch library lives on ampd; no server answered.</p>}
        <h3>My patches</h3>
        {mine.length === 0 && <p className="dim">None yet: write one in the editor, or fork a built-in below.</p>}
        {mine.length > 0 &&
          <table className="projects">
            <tbody>
              {mine.map((p) => (
                <tr key={p.id} data-patch={p.id}>
                  <td>{p.name}</td><td>r{p.revision}</td>
                  <td className="actions">
                    <button type="button" className="btn small" onClick={() => daw.editPatch({ library: p.id!, revision: p.revision ?? 1 })}>Edit</button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>}
        <h3>Built-in library</h3>
        <table className="projects">
          <tbody>
            {builtins.map((p) => (
              <tr key={p.path} data-builtin={p.path}>
                <td>{p.name}</td>
                <td className="actions">
                  <button type="button" className="btn small" onClick={() => daw.editPatch({ builtin: p.path! })}>Open a copy</button>
                  <button type="button" className="btn small" data-testid="fork" disabled={busy === p.path}
                          onClick={() => void fork(p.path!)}>{busy === p.path ? 'Forking…' : 'Fork'}</button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}
