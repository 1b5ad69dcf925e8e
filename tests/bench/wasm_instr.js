// wasm_instr.js — one render of the WebAssembly build inside a marked
// region, for tests/bench/wasm_instructions.sh: open CASE (VOICES), warm up
// (30 renders of FRAMES), then process.memoryUsage(), one render of FRAMES,
// process.memoryUsage(). Run under valgrind's callgrind with
// --dump-before='*MemoryUsage*', the dump between the two calls counts the
// instructions of that render alone (node with --no-liftoff: TurboFan code
// from the start, as after tier-up).
'use strict';
const path = require('path');

const [js, id, frames, voices] = process.argv.slice(2);
require(path.resolve(js))().then((M) => {
    if (M._wb_open(Number(id), Number(voices || 0)) !== 0)
        process.exit(1);
    M._wb_prepare();
    for (let i = 0; i < 30; i++)
        M._wb_run(Number(frames));
    process.memoryUsage();
    M._wb_run(Number(frames));
    process.memoryUsage();
    process.exit(0);
});
