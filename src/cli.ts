#!/usr/bin/env node
/**
 * The `fam-mirror` command (the package's bin, dist/cli.js): a thin layer over the library. The
 * command line is parsed in cli/args.ts, printed in cli/format.ts, run in cli/main.ts.
 */
import { main } from './cli/main.js';

main();
