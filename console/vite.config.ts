/// <reference types="vitest/config" />
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// The bundle is served by Django under /static/console/ and committed (make run needs only
// Python). Pages are split by route; the vendor code shared by every page is one chunk.
export default defineConfig({
  base: "/static/console/",
  plugins: [react()],
  build: {
    outDir: "../opsconductor/console/bundle",
    emptyOutDir: true,
    sourcemap: false,
    target: "es2022",
    chunkSizeWarningLimit: 800,
    rollupOptions: {
      output: {
        manualChunks(id) {
          if (id.includes("node_modules/@mui/icons-material")) return "icons";
          if (/node_modules\/(react|react-dom|scheduler|react-router)\//.test(id)) return "react";
          if (/node_modules\/(@mui|@emotion|@popperjs)\//.test(id)) return "mui";
          return undefined;
        },
      },
    },
  },
  server: {
    // `npm run dev`: the console on :5173, the API of `make run` behind it
    proxy: {
      "/api": "http://127.0.0.1:8000",
      "/admin": "http://127.0.0.1:8000",
    },
  },
  test: {
    environment: "jsdom",
    globals: true,
    setupFiles: ["src/test/setup.ts"],
    css: false,
  },
});
