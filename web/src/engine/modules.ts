// modules.ts — load a patch module into an engine.wasm instance that is
// already running (runtime/wasm/wasm_modules.c; "Loadable patch modules" in
// runtime/wasm/README.md).
//
// A patch module is one patch compiled on its own (runtime/wasm/
// patch_module.sh) into a position-independent WebAssembly module: it
// imports the engine's shared memory and function table and is told where
// its data and its table entries go. Tables belong to each instance, so a
// module is instantiated on the thread of the engine that will call it:
// the AudioWorklet (a 'patch-module' port message, worklet.ts →
// loadModuleRequest) and the export worker (each engine it makes:
// rememberModule + the setup hook of wasm.ts). Loading runs between quanta
// on the engine's thread, never inside amp_process; afterwards the engine
// calls the patch through the table with no JavaScript on the audio path.
//
// loadPatchModule(engine, memory, module, names):
//   1. the custom section "amp_module" ({"abi": N, "patch": NAME}): a module
//      of another ABI version than the engine's amp_module_abi() is refused
//      here, before anything is touched;
//   2. the "dylink.0" section: the bytes and alignment of its data, the
//      table entries it needs; a module that needs other modules, or imports
//      anything but env.memory, env.__indirect_function_table,
//      env.__stack_pointer, env.__memory_base and env.__table_base, is
//      refused;
//   3. amp_module_reserve(bytes, align): its data's place, in the region
//      the engine reserved (no allocation); the table grows by its entries;
//   4. instantiate (its start function copies its data in and relocates
//      the pointers in it), check amp_module_abi_version() again;
//   5. amp_module_register(amp_module_desc(), builtin, unit, isDefault):
//      the engine checks the descriptor's ABI version, gives it the next
//      patch id and makes its stock of ready nodes. The id works like a
//      built-in's: set_instrument (CommandSender.selectPatch(t, id - 1)),
//      add_insert (addInsert(..., id - 1)); a project's
//      {"builtin": builtin, "unit": unit} names it.
// A refusal throws a PatchModuleError whose message says why; whatever
// was reserved for a refused module is given back.

export const MODULE_SECTION = 'amp_module';

/** What the engine needs to take modules (wasm_modules.c, and the table
 *  engine.wasm exports). */
export interface ModuleHostExports {
  __indirect_function_table: WebAssembly.Table;
  amp_module_abi(): number;
  amp_module_reserve(bytes: number, align: number): number;
  amp_module_release(address: number): number;
  amp_module_stack_top(): number;
  amp_module_register(desc: number, builtin: number, unit: number, isDefault: number): number;
  amp_module_error(): number;
  amp_scratch(): number;
}

/** How the module is named for a project: {"builtin": builtin, "unit":
 *  unit} (unit: the patch's own name when absent; isDefault, true when
 *  absent: it is also what builtin means without a unit). */
export interface ModuleNames {
  builtin?: string;
  unit?: string;
  isDefault?: boolean;
}

export interface ModuleInfo {
  abi: number;
  patch: string;
  memorySize: number;
  memoryAlign: number;
  tableSize: number;
  tableAlign: number;
}

export interface LoadedModule {
  /** The engine's patch id (1-based, as set_instrument takes it). */
  patchId: number;
  patch: string;
  memoryBase: number;
  tableBase: number;
}

export class PatchModuleError extends Error {}

const ALLOWED_IMPORTS = new Set([
  'env.memory', 'env.__indirect_function_table', 'env.__stack_pointer', 'env.__memory_base', 'env.__table_base',
]);

/** Reads unsigned LEB128 numbers from a byte array. */
class Reader {
  at = 0;
  constructor(readonly bytes: Uint8Array) {}
  get done(): boolean {
    return this.at >= this.bytes.length;
  }
  u32(): number {
    let value = 0, shift = 0;
    for (;;) {
      if (this.at >= this.bytes.length) throw new PatchModuleError('patch module: a truncated dylink.0 section');
      const b = this.bytes[this.at++] as number;
      value += (b & 0x7f) * 2 ** shift;
      if (!(b & 0x80)) return value;
      shift += 7;
    }
  }
}

function ascii(bytes: Uint8Array): string {
  let text = '';
  for (const b of bytes) text += String.fromCharCode(b);
  return text;
}

/** The module's ABI version, patch name and layout, from its custom
 *  sections; throws when it is not a patch module. */
export function moduleInfo(module: WebAssembly.Module): ModuleInfo {
  const sections = WebAssembly.Module.customSections(module, MODULE_SECTION);
  if (sections.length !== 1)
    throw new PatchModuleError(`not a patch module: no "${MODULE_SECTION}" section (build it with runtime/wasm/patch_module.sh)`);
  let meta: { abi?: unknown; patch?: unknown };
  try {
    meta = JSON.parse(ascii(new Uint8Array(sections[0] as ArrayBuffer))) as typeof meta;
  } catch {
    throw new PatchModuleError(`patch module: its "${MODULE_SECTION}" section is not JSON`);
  }
  if (typeof meta.abi !== 'number' || typeof meta.patch !== 'string')
    throw new PatchModuleError(`patch module: its "${MODULE_SECTION}" section has no abi or patch`);
  const info: ModuleInfo = { abi: meta.abi, patch: meta.patch, memorySize: 0, memoryAlign: 0, tableSize: 0, tableAlign: 0 };
  const dylink = WebAssembly.Module.customSections(module, 'dylink.0');
  if (dylink.length !== 1)
    throw new PatchModuleError(`patch module '${info.patch}': no dylink.0 section (not linked with wasm-ld -shared)`);
  const r = new Reader(new Uint8Array(dylink[0] as ArrayBuffer));
  while (!r.done) {
    const kind = r.u32();
    const size = r.u32();
    const end = r.at + size;
    if (kind === 1) {          // WASM_DYLINK_MEM_INFO
      info.memorySize = r.u32();
      info.memoryAlign = r.u32();
      info.tableSize = r.u32();
      info.tableAlign = r.u32();
    } else if (kind === 2) {   // WASM_DYLINK_NEEDED
      if (r.u32() > 0) throw new PatchModuleError(`patch module '${info.patch}' needs other modules`);
    }
    r.at = end;
  }
  return info;
}

function cString(memory: WebAssembly.Memory, at: number): string {
  const bytes = new Uint8Array(memory.buffer);
  let end = at;
  while (end < bytes.length && bytes[end] !== 0) end++;
  return ascii(bytes.slice(at, end));
}

/** Each engine instance's one stack for its modules (wasm_modules.c). */
const stacks = new WeakMap<object, WebAssembly.Global>();

/** Load `module` into the running engine (on the engine's thread, between
 *  quanta). Returns its patch id; throws PatchModuleError with the reason
 *  it was refused. */
export function loadPatchModule(engine: ModuleHostExports, memory: WebAssembly.Memory, module: WebAssembly.Module,
                                names: ModuleNames = {}): LoadedModule {
  const info = moduleInfo(module);
  const abi = engine.amp_module_abi();
  if (info.abi !== abi)
    throw new PatchModuleError(`patch module '${info.patch}' was built for patch ABI version ${info.abi}; ` +
                               `this engine takes version ${abi}: compile it again`);
  for (const imp of WebAssembly.Module.imports(module))
    if (!ALLOWED_IMPORTS.has(`${imp.module}.${imp.name}`))
      throw new PatchModuleError(`patch module '${info.patch}' imports ${imp.module}.${imp.name}, ` +
                                 'which the engine does not provide');
  const builtin = names.builtin ?? '';
  const unit = names.unit ?? info.patch;
  if (builtin.length > 127 || unit.length > 127 || /[^\x20-\x7e]/.test(builtin + unit))
    throw new PatchModuleError('patch module: builtin and unit are ASCII names of at most 127 characters');

  const memoryBase = engine.amp_module_reserve(Math.max(info.memorySize, 1), 2 ** info.memoryAlign);
  if (!memoryBase) throw new PatchModuleError(`patch module '${info.patch}': ${cString(memory, engine.amp_module_error())}`);
  try {
    const table = engine.__indirect_function_table;
    const tableAlign = 2 ** info.tableAlign;
    const tableBase = Math.ceil(table.length / tableAlign) * tableAlign;
    if (info.tableSize > 0 || tableBase > table.length) table.grow(tableBase - table.length + info.tableSize);
    let stack = stacks.get(engine);
    if (!stack) {
      stack = new WebAssembly.Global({ value: 'i32', mutable: true }, engine.amp_module_stack_top());
      stacks.set(engine, stack);
    }
    const instance = new WebAssembly.Instance(module, {
      env: {
        memory, __indirect_function_table: table, __stack_pointer: stack,
        __memory_base: memoryBase, __table_base: tableBase,
      },
    });
    const exports = instance.exports as unknown as {
      amp_module_desc?: () => number; amp_module_abi_version?: () => number; __wasm_call_ctors?: () => void;
    };
    if (!exports.amp_module_desc || !exports.amp_module_abi_version)
      throw new PatchModuleError(`patch module '${info.patch}' exports no amp_module_desc or amp_module_abi_version`);
    exports.__wasm_call_ctors?.();
    const own = exports.amp_module_abi_version();
    if (own !== abi)
      throw new PatchModuleError(`patch module '${info.patch}' says ABI version ${own}; this engine takes version ${abi}`);
    const scratch = engine.amp_scratch();
    const bytes = new Uint8Array(memory.buffer, scratch, 256);
    bytes.fill(0);
    for (let i = 0; i < builtin.length; i++) bytes[i] = builtin.charCodeAt(i);
    for (let i = 0; i < unit.length; i++) bytes[128 + i] = unit.charCodeAt(i);
    const patchId = engine.amp_module_register(exports.amp_module_desc(), builtin ? scratch : 0, scratch + 128,
                                               names.isDefault === false ? 0 : 1);
    if (patchId < 0) throw new PatchModuleError(`patch module '${info.patch}': ${cString(memory, engine.amp_module_error())}`);
    return { patchId, patch: info.patch, memoryBase, tableBase };
  } catch (e) {
    engine.amp_module_release(memoryBase);
    throw e instanceof PatchModuleError ? e : new PatchModuleError(`patch module '${info.patch}': ${String(e)}`);
  }
}

// ---- the worklet's message ---------------------------------------------------

/** The page → worklet message (worklet.ts hands it to loadModuleRequest). */
export interface ModuleRequest extends ModuleNames {
  type: 'patch-module';
  id: number;
  module: WebAssembly.Module;
}

/** The worklet's answer: the patch id, or the reason it was refused;
 *  loadMs: the load on the engine's thread (the worklet's Date.now(), whole
 *  milliseconds). */
export interface ModuleReply {
  type: 'patch-module';
  id: number;
  patchId: number;
  patch: string;
  error: string | null;
  loadMs: number;
}

export function isModuleRequest(data: unknown): data is ModuleRequest {
  return typeof data === 'object' && data !== null && (data as { type?: unknown }).type === 'patch-module';
}

/** Run a ModuleRequest on the engine's thread; never throws. */
export function loadModuleRequest(engine: ModuleHostExports, memory: WebAssembly.Memory, request: ModuleRequest): ModuleReply {
  const t0 = Date.now();
  try {
    const loaded = loadPatchModule(engine, memory, request.module, request);
    return { type: 'patch-module', id: request.id, patchId: loaded.patchId, patch: loaded.patch, error: null,
             loadMs: Date.now() - t0 };
  } catch (e) {
    return { type: 'patch-module', id: request.id, patchId: -1, patch: '', error: e instanceof Error ? e.message : String(e),
             loadMs: Date.now() - t0 };
  }
}

// ---- the page's side ------------------------------------------------------------

let nextRequest = 1;

/** Compile `bytes` (a NAME.module.wasm), check it, and load it into the
 *  engine running in `node` (EngineClient.node). Resolves to the worklet's
 *  reply plus compileMs (WebAssembly.compile, off the audio thread);
 *  a refused module rejects with PatchModuleError. */
export async function loadModuleIntoWorklet(node: AudioWorkletNode, bytes: BufferSource, names: ModuleNames = {}):
    Promise<ModuleReply & { compileMs: number }> {
  const t0 = performance.now();
  const module = await WebAssembly.compile(bytes);
  const compileMs = performance.now() - t0;
  moduleInfo(module);   // not a patch module: refused here, before the worklet
  const id = nextRequest++;
  const reply = await new Promise<ModuleReply>((resolve) => {
    const listener = (event: MessageEvent): void => {
      const data = event.data as ModuleReply;
      if (data?.type !== 'patch-module' || data.id !== id) return;
      node.port.removeEventListener('message', listener);
      resolve(data);
    };
    node.port.addEventListener('message', listener);
    node.port.start();
    const request: ModuleRequest = { type: 'patch-module', id, module, ...names };
    node.port.postMessage(request);
  });
  if (reply.error !== null) throw new PatchModuleError(reply.error);
  return { ...reply, compileMs };
}

// ---- the export worker -------------------------------------------------------------

/** Modules the export worker was given: loaded into every engine it makes
 *  (loadRememberedModules, from wasm.ts's instantiateEngine hook). */
const remembered: ModuleRequest[] = [];

export function rememberModule(request: ModuleRequest): void {
  remembered.push(request);
}

/** Load every remembered module into a fresh engine instance (before its
 *  amp_init: the engine makes their stocks of ready nodes at init). */
export function loadRememberedModules(engine: ModuleHostExports, memory: WebAssembly.Memory): void {
  for (const request of remembered) loadPatchModule(engine, memory, request.module, request);
}
