import { defineConfig } from "vitest/config";
import { svelte } from "@sveltejs/vite-plugin-svelte";

// Tauri serves the built files from ui/dist; `vite` (dev) serves on a fixed
// loopback port so `tauri dev` can find it.
export default defineConfig(({ mode }) => ({
  plugins: [svelte()],
  clearScreen: false,
  server: { host: "127.0.0.1", port: 1420, strictPort: true },
  build: {
    target: "safari16",
    outDir: "dist",
    emptyOutDir: true,
    sourcemap: false,
    // One small bundle: no runtime chunk loading, no eval, CSP-friendly.
    modulePreload: false,
    cssCodeSplit: false,
  },
  // Component tests mount Svelte in jsdom: use its browser build there.
  resolve: mode === "test" ? { conditions: ["browser"] } : undefined,
  test: {
    environment: "jsdom",
    globals: true,
    include: ["src/**/*.test.ts"],
  },
}));
