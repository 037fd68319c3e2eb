import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

const root = fileURLToPath(new URL('.', import.meta.url));
const server = 'http://localhost:8080';

// The server serves web/dist as static files; in development Vite proxies the API, FHIR and the
// live WebSocket to a server on :8080 so cookies stay same-origin.
export default defineConfig({
  root,
  base: '/',
  plugins: [react()],
  // The API contract (zod schemas and their types) lives with the server; the web app imports its types.
  resolve: { alias: { '@contracts': fileURLToPath(new URL('../src/api/contracts/index.ts', import.meta.url)) } },
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: true },
  server: {
    proxy: {
      '/api/v1/stream': { target: server, ws: true, changeOrigin: true },
      '/api': { target: server, changeOrigin: true },
      '/fhir': { target: server, changeOrigin: true },
    },
  },
});
