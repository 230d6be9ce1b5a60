// What the browser test and the benchmark page share: bundling an entry with esbuild, a static
// server on 127.0.0.1, and a headless browser (Chromium or Firefox). Development tooling only;
// not part of the package.
import { createServer } from 'node:http';
import { existsSync, readFileSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { spawnSync } from 'node:child_process';
import { brotliDecompressSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('..', import.meta.url));

/**
 * Bundles `entry` (an ES module that may import 'dsconv') into one browser ES module, in memory.
 * The package's `new URL('../../build/….wasm', import.meta.url)` is kept as it is (esbuild does not
 * rewrite that pattern), so the bundle must be served from where dist/core/ is, two folders below
 * build/'s parent.
 */
export async function bundle(entry, { minify = false, define = {} } = {}) {
  const esbuild = await import('esbuild');
  const out = await esbuild.build({
    // A file, or { contents } for source resolved from the package root.
    ...(typeof entry === 'string' ? { entryPoints: [entry] } : { stdin: { contents: entry.contents, resolveDir: root } }),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify,
    define,
    write: false,
    logLevel: 'silent',
  });
  return out.outputFiles[0].text;
}

/**
 * Serves `routes` ({ '/path': { body, type, headers? } }) on 127.0.0.1, at `port` or a free one.
 * Anything else is a 404. Returns { url, close }.
 */
export async function serve(routes, { port = 0 } = {}) {
  const server = createServer((req, res) => {
    const path = new URL(req.url, 'http://x').pathname;
    const route = routes[path];
    if (!route || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': route.type, 'cache-control': 'no-store', ...route.headers });
    res.end(req.method === 'HEAD' ? undefined : route.body);
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const url = `http://127.0.0.1:${server.address().port}`;
  return {
    url,
    close: () => new Promise((resolve) => {
      server.closeAllConnections?.();
      server.close(() => resolve());
    }),
  };
}

const CHROMIUM_FLAGS = [
  '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
  '--no-first-run', '--disable-quic', '--disable-sync',
];

/**
 * The Chromium that npm ci installs (@sparticuz/chromium, a headless shell for Linux x64), unpacked
 * once into node_modules/.cache/ under its version. Its library bundle (NSS, NSPR, expat: the ones
 * Amazon Linux lacks) goes on LD_LIBRARY_PATH too, so it needs no system libraries beyond glibc and
 * libgcc. Returns { executablePath, env }.
 */
async function npmChromium() {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new Error(`@sparticuz/chromium ships Chromium for Linux x64 only, not ${process.platform}-${process.arch}: set CHROMIUM_PATH to a Chromium or Chrome`);
  }
  const pkg = `${root}node_modules/@sparticuz/chromium/`;
  if (!existsSync(`${pkg}package.json`)) throw new Error(`${pkg} is missing: run npm ci, or set CHROMIUM_PATH`);
  const { version } = JSON.parse(readFileSync(`${pkg}package.json`, 'utf8'));
  const dir = `${root}node_modules/.cache/dsconv-chromium/${version}`;
  if (!existsSync(`${dir}/chromium`)) {
    // Unpacked into a fresh folder, then renamed into place: a run that starts meanwhile never
    // sees a half-written binary (the package itself unpacks straight to os.tmpdir()/chromium,
    // shared by every version and every user of /tmp, which may also be mounted noexec).
    mkdirSync(dirname(dir), { recursive: true });
    const partial = mkdtempSync(`${dir}.partial-`);
    try {
      const { default: chromium } = await import('@sparticuz/chromium');
      // It unpacks into os.tmpdir(), which follows TMPDIR; it takes no folder of its own.
      const tmpdir = process.env.TMPDIR;
      process.env.TMPDIR = partial;
      try {
        await chromium.executablePath();
      } finally {
        if (tmpdir === undefined) delete process.env.TMPDIR;
        else process.env.TMPDIR = tmpdir;
      }
      const tar = spawnSync('tar', ['-x', '-C', partial], { input: brotliDecompressSync(readFileSync(`${pkg}bin/al2023.tar.br`)) });
      if (tar.status !== 0) throw new Error(`could not unpack ${pkg}bin/al2023.tar.br: ${tar.error?.message ?? tar.stderr}`);
      renameSync(partial, dir);
    } catch (e) {
      rmSync(partial, { recursive: true, force: true });
      if (!existsSync(`${dir}/chromium`)) throw e;   // else another run unpacked it first
    }
  }
  return { executablePath: `${dir}/chromium`, env: { ...process.env, LD_LIBRARY_PATH: [`${dir}/lib`, process.env.LD_LIBRARY_PATH].filter(Boolean).join(':') } };
}

/** The engines launchBrowser starts. */
export const BROWSERS = ['chromium', 'firefox'];

/**
 * Starts a headless browser through puppeteer-core, with a fresh profile: 'chromium' is
 * $CHROMIUM_PATH, else the npm package's; 'firefox' is $FIREFOX_PATH, else Debian's firefox-esr
 * (driven over WebDriver BiDi). Throws with the fix when it is missing or fails to start.
 */
export async function launchBrowser(engine = 'chromium') {
  if (!BROWSERS.includes(engine)) throw new RangeError(`browser must be one of ${BROWSERS.join(', ')}, got ${JSON.stringify(engine)}`);
  let launch;
  if (engine === 'firefox') {
    const executablePath = process.env.FIREFOX_PATH || '/usr/bin/firefox-esr';
    if (!existsSync(executablePath)) throw new Error(`Firefox not found at ${executablePath}: install it (apt-get install -y firefox-esr) or set FIREFOX_PATH`);
    launch = { browser: 'firefox', protocol: 'webDriverBiDi', executablePath };
  } else if (process.env.CHROMIUM_PATH) {
    if (!existsSync(process.env.CHROMIUM_PATH)) throw new Error(`CHROMIUM_PATH is ${process.env.CHROMIUM_PATH}, which does not exist`);
    launch = { browser: 'chrome', executablePath: process.env.CHROMIUM_PATH, args: CHROMIUM_FLAGS };
  } else {
    // Not the package's own flags (chromium.args): --single-process and --disable-web-security,
    // meant for AWS Lambda, leave the page without cross-origin isolation.
    launch = { browser: 'chrome', ...(await npmChromium()), args: CHROMIUM_FLAGS };
  }
  const puppeteer = (await import('puppeteer-core')).default;
  try {
    return await puppeteer.launch({ ...launch, headless: true, timeout: 60_000 });
  } catch (e) {
    throw new Error(`${engine} at ${launch.executablePath} did not start: ${e.message}`, { cause: e });
  }
}

/**
 * Polls until `test` (a function run in the page, no arguments) returns true, every `every` ms,
 * for at most `timeout` ms (0: no limit). Not puppeteer's waitForFunction: over WebDriver BiDi,
 * Firefox 140 runs its polling through Function(), which a page's CSP without 'unsafe-eval'
 * blocks; a plain evaluate is allowed.
 */
export async function waitInPage(page, test, { timeout = 30_000, every = 50 } = {}) {
  const until = Date.now() + timeout;
  while (!(await page.evaluate(test))) {
    if (timeout && Date.now() > until) throw new Error(`the page did not get ready within ${timeout} ms (${test})`);
    await new Promise((r) => setTimeout(r, every));
  }
}

/** "Chromium/143.0.7499.0" or "Firefox/153.8.0": the engine and its full version, as the driver reports it. */
export async function browserName(browser) {
  const [product, version] = (await browser.version()).split('/');
  return `${/firefox/i.test(product) ? 'Firefox' : 'Chromium'}/${version}`;
}
