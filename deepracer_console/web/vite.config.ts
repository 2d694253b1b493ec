import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// Built into dist/, which `deepracer console` serves at / (index.html for every non-/api path)
// and /assets/*. Everything is bundled: the console works offline, nothing comes from a CDN.
export default defineConfig({
  plugins: [react()],
  base: "/",
  build: {
    outDir: "dist",
    assetsDir: "assets",
    emptyOutDir: true,
    // Cloudscape and ace are large; one page app served from localhost.
    chunkSizeWarningLimit: 4000,
    sourcemap: false,
  },
  server: {
    proxy: { "/api": process.env.DEEPRACER_CONSOLE_URL ?? "http://127.0.0.1:8080" },
  },
});
