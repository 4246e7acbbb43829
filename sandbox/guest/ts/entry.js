// Bundled by sandbox/build.py into _build/strip-types.js and run inside the
// sandbox. Sucrase removes types but keeps every line where it was, so line
// numbers in errors and stack traces match the user's TypeScript source.
import { transform } from "sucrase";

globalThis.__flowboxStripTypes = function (code, filePath) {
  try {
    const out = transform(code, {
      transforms: ["typescript"],
      disableESTransforms: true,
      // Imports used only as types are elided, as tsc and esbuild do.
      keepUnusedImports: false,
      filePath,
    });
    return { code: out.code };
  } catch (e) {
    const loc = e && e.loc ? e.loc : null;
    const message = String(e && e.message ? e.message : e).replace(/^Error transforming [^:]*: /, "").replace(/ \(\d+:\d+\)$/, "");
    return { error: message, line: loc ? loc.line : null, column: loc ? loc.column + 1 : null };
  }
};
