// main.tsx — the page's entry: load the engine files, make the DAW
// (daw.ts), open the project (the address, this browser's autosave, or a
// new one) and render the screen (app.tsx).
//
// The page owns no audio: every note, edit and transport move becomes
// engine commands through the sync layer (engine/sync.ts), and everything
// shown of the engine comes from its state region.

import { createRoot } from 'react-dom/client';
import { loadEngineFiles, EngineClient } from '../engine/client';
import { exportPerformance } from '../engine/exporter';
import { performanceProject } from '../engine/performance';
import { loadModuleIntoWorklet } from '../engine/modules';
import { App } from './app';
import { Daw } from './daw';

function fail(text: string): void {
  const root = document.getElementById('root');
  if (!root) return;
  root.innerHTML = '';
  const box = document.createElement('div');
  box.className = 'fatal';
  box.setAttribute('role', 'alert');
  box.id = 'isolation';
  box.textContent = text;
  root.appendChild(box);
}

async function main(): Promise<void> {
  // The building blocks, for the console and the end-to-end tests (which
  // render in an OfflineAudioContext of their own).
  (globalThis as unknown as { ampLib: object }).ampLib =
    { EngineClient, loadEngineFiles, exportPerformance, performanceProject, loadModuleIntoWorklet };
  if (!globalThis.crossOriginIsolated) {
    fail('This page is not cross-origin isolated, so the audio engine cannot run: it needs shared memory, ' +
         'which browsers allow only when the server sends "Cross-Origin-Opener-Policy: same-origin" and ' +
         '"Cross-Origin-Embedder-Policy: require-corp". Open the page through ampd (make run), not from a ' +
         'plain file server.');
    return;
  }
  let files;
  try {
    files = await loadEngineFiles(new URL('./', location.href));
  } catch (e) {
    fail(`The audio engine could not be loaded: ${String(e)}`);
    return;
  }
  const daw = new Daw(files);
  (globalThis as unknown as { amp: object }).amp = {
    daw,
    /** The state the end-to-end tests look at. */
    debug: () => ({ files, session: daw.audio.client ? { client: daw.audio.client } : null, daw }),
  };
  await daw.boot();
  daw.attachKeys();
  const root = document.getElementById('root');
  if (!root) throw new Error('the page has no #root');
  createRoot(root).render(<App daw={daw} />);
  document.body.dataset['ready'] = '1';
}

void main();
