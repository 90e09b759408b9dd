// Builds the single-page app into server/webui, which ferry-server serves at / on its HTTP port
// (same origin as /api). `npm run dev` proxies /api to a running ferry-server (FERRY_HTTP_URL).
import { defineConfig } from "vitest/config";

export default defineConfig({
  base: "/",
  esbuild: { jsx: "automatic", jsxImportSource: "preact" },
  build: {
    outDir: "../server/webui",
    emptyOutDir: true,
    target: "es2022",
    sourcemap: false,
    reportCompressedSize: false,
  },
  server: {
    proxy: {
      "/api": { target: process.env.FERRY_HTTP_URL ?? "https://127.0.0.1:8090", secure: false, changeOrigin: true },
    },
  },
  test: {
    include: ["src/**/*.test.ts"],
    environment: "node",
  },
});
