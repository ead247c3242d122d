/**
 * Mocha's --require for every suite that evaluates stacks (.mocharc.json, scripts/test, scripts/test-file,
 * test:apiserver): each evaluation reads a made-up digest for every pinned image (offline/harness.ts serveMadeUpLock).
 */
import { serveMadeUpLock } from "./harness";

serveMadeUpLock();
