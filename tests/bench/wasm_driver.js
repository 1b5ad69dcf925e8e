// wasm_driver.js — runs the WebAssembly build of the benchmark cases
// (wasm_main.c) under node for bench.c, which starts it with pipes and sends
// one command per line; each gets one line back:
//   open CASE VOICES  -> 0 | -1        prep -> 0
//   clock 0|1         -> 0 (0: performance.now(), 1: process.cpuUsage())
//   run FRAMES        -> elapsed ns (measured inside the module)
//   rms               -> RMS of the last chunk        quit -> (exits)
'use strict';
const path = require('path');
const readline = require('readline');

const createBench = require(path.resolve(process.argv[2]));
createBench().then((M) => {
    const rl = readline.createInterface({ input: process.stdin });
    process.stdout.write('ready\n');
    rl.on('line', (line) => {
        const w = line.trim().split(/\s+/);
        let r = 'error';
        if (w[0] === 'open') r = M._wb_open(Number(w[1]), Number(w[2]));
        else if (w[0] === 'prep') { M._wb_prepare(); r = 0; }
        else if (w[0] === 'clock') { M._wb_clock(Number(w[1])); r = 0; }
        else if (w[0] === 'run') r = M._wb_run(Number(w[1]));
        else if (w[0] === 'rms') r = M._wb_rms();
        else if (w[0] === 'quit') process.exit(0);
        process.stdout.write(String(r) + '\n');
    });
    rl.on('close', () => process.exit(0));
});
