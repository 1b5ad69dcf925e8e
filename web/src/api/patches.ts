// patches.ts — the DAW's calls for the user's patch library
// (server/README.md, Patches and Compiling): the list (the user's patches
// and the built-in files), one revision's text, and the compile service,
// on the editor's client (editor/api.ts EditorApi: the session, the CSRF
// token, 503 busy retried).

import { EditorApi, type CompileAnswer, type PatchEntry } from '../editor/api';

export interface PatchRevisionText {
  revision: number;
  text: string;
}

export class LibraryApi extends EditorApi {
  /** GET /api/patches/{id}/revisions/{n}: the text of that revision. */
  async revisionText(id: string, revision: number): Promise<PatchRevisionText> {
    return this.json(await this.request('GET', `patches/${encodeURIComponent(id)}/revisions/${revision}`));
  }
}

export type { CompileAnswer, PatchEntry };
