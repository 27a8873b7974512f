/**
 * Serves the prebuilt browser app (`dist-web/`, built by `npm run build:web` and shipped in the
 * package) cross-origin isolated, so tfjs-backend-wasm can use its threaded binary
 * (SharedArrayBuffer needs COOP/COEP). Static files through `sirv`; this file only adds the headers
 * and the start-up checks.
 */
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import sirv from 'sirv';
import { ConfigError } from '@selfpatch/nn';

/** The headers that make the page cross-origin isolated. */
export const ISOLATION_HEADERS: Readonly<Record<string, string>> = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

/** `dist-web/` beside the package's `dist/` (or `src/` when run from sources). */
export function defaultWebRoot(): string {
  return fileURLToPath(new URL('../dist-web', import.meta.url));
}

export interface WebServerOptions {
  /** Folder of the built app (default: the one shipped in the package). */
  root?: string;
  /** 0 picks a free port. */
  port?: number;
  host?: string;
}

/**
 * Starts a static server for the browser app and resolves once it listens.
 *
 * @example
 * ```ts
 * const { server, url } = await serveWebApp({ port: 0 });
 * console.log(`open ${url}`);
 * server.close();
 * ```
 */
export async function serveWebApp(options: WebServerOptions = {}): Promise<{ server: Server; url: string }> {
  const root = resolve(options.root ?? defaultWebRoot());
  if (!existsSync(join(root, 'index.html'))) {
    throw new ConfigError('--root', `${root} holds no index.html; build the app first (npm run build:web -w @selfpatch/infer) or pass the folder of a build`);
  }
  const files = sirv(root, {
    dev: false,
    etag: true,
    setHeaders: (res) => {
      for (const [k, v] of Object.entries(ISOLATION_HEADERS)) res.setHeader(k, v);
    },
  });
  const server = createServer((req, res) =>
    files(req, res, () => {
      res.writeHead(404, ISOLATION_HEADERS).end('not found');
    }),
  );
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(options.port ?? 8080, host, ok);
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  return { server, url: `http://${host.includes(':') ? `[${host}]` : host}:${port}/` };
}
