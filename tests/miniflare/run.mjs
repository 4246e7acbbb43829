// Runs workflow instances on miniflare, Cloudflare's local engine, for
// tests/test_differential.py. Input (stdin, JSON): {source, className,
// instances: [{id, params?}]}, TypeScript stripped by esbuild as wrangler
// does. Output (stdout, JSON): {id: {status, output, error, stepOutputs}}.
import { transformSync } from "esbuild";
import { Miniflare } from "miniflare";

const input = JSON.parse(await new Promise((resolve) => {
  let text = "";
  process.stdin.on("data", (c) => (text += c)).on("end", () => resolve(text));
}));
const user = transformSync(input.source, { loader: "ts", format: "esm" }).code;
const driver = `
export { ${input.className} } from "./user.js";
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === "/create") return Response.json({ id: (await env.WF.create(await request.json())).id });
    return Response.json(await (await env.WF.get(url.searchParams.get("id"))).status());
  },
};`;
const mf = new Miniflare({
  modules: [{ type: "ESModule", path: "main.js", contents: driver },
            { type: "ESModule", path: "user.js", contents: user }],
  compatibilityDate: "2025-06-01",
  workflows: { WF: { name: "differential", className: input.className } },
});
try {
  for (const instance of input.instances) {
    await (await mf.dispatchFetch("http://flowbox.test/create", { method: "POST", body: JSON.stringify(instance) })).text();
  }
  const out = {};
  const deadline = Date.now() + 60_000;
  for (const { id } of input.instances) {
    for (;;) {
      const s = await (await mf.dispatchFetch(`http://flowbox.test/status?id=${id}`)).json();
      if (["complete", "errored", "terminated"].includes(s.status) || Date.now() > deadline) {
        out[id] = { status: s.status, output: s.output ?? null, error: s.error ?? null,
                    stepOutputs: s.__LOCAL_DEV_STEP_OUTPUTS ?? [] };
        break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  process.stdout.write(JSON.stringify(out));
} finally {
  await mf.dispose();
}
