// hooks.ts — React reads the document store and the view store through
// useSyncExternalStore, so a component re-renders when (and only when) the
// value it reads changed identity.

import { useSyncExternalStore } from 'react';
import type { ProjectDoc } from '../doc/project';
import type { Ctx } from './context';
import type { ViewState } from './view';

export function useDoc(ctx: Ctx): ProjectDoc {
  return useSyncExternalStore((fn) => ctx.store.subscribe(() => fn()), () => ctx.store.doc);
}

export function useView(ctx: Ctx): ViewState {
  return useSyncExternalStore(ctx.view.subscribe, ctx.view.get);
}

/** One value of the view state (a primitive or a value kept by identity):
 *  the component re-renders when that value changes, not on every scroll
 *  or zoom (which the canvases draw without React). */
export function useViewOf<T>(ctx: Ctx, pick: (v: ViewState) => T): T {
  return useSyncExternalStore(ctx.view.subscribe, () => pick(ctx.view.get()));
}

/** The patch library's list (ui/library.ts): re-renders after each
 *  refresh. */
export function useLibrary(ctx: Ctx): number {
  return useSyncExternalStore(ctx.library.subscribe, () => ctx.library.version);
}

/** A value that changes on its own (the transport, CPU): polled on
 *  animation frames, re-rendering only when `read` returns something new. */
export function usePolled<T>(read: () => T): T {
  return useSyncExternalStore(subscribeFrames, read);
}

function subscribeFrames(fn: () => void): () => void {
  let raf = requestAnimationFrame(function tick() {
    fn();
    raf = requestAnimationFrame(tick);
  });
  return () => cancelAnimationFrame(raf);
}
