// What the command-line tests share: the built `dsconv` command run as a user runs it, the RDN
// upscaler of @upscalerjs/default-model as the model, and folders of the fixture photos.
import { mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { PHOTOS } from '../util.js';

/** The repository's root, with a trailing slash. */
export const root = fileURLToPath(new URL('../..', import.meta.url));

/** Runs `dsconv ...args` in a child Node; its status, stdout and stderr. */
export const cli = (...args) => spawnSync(process.execPath, [`${root}dist/cli/main.js`, ...args], { encoding: 'utf8' });

export const RDN_MODEL_DIR = `${root}node_modules/@upscalerjs/default-model/models`;
export const RDN_MODEL = `${RDN_MODEL_DIR}/model.json`;

/** A new folder `name` in `parent` holding links to the fixture photos `files`. */
export function photoDir(parent, name, files) {
  const d = join(parent, name);
  mkdirSync(d);
  for (const f of files) symlinkSync(PHOTOS + f, join(d, f));
  return d;
}
