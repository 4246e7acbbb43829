// The built-in module `cloudflare:workers`.
export class WorkflowEntrypoint {
  constructor(ctx, env) {
    this.ctx = ctx;
    this.env = env;
  }
}
// How the sandbox recognises a workflow class (inherited by subclasses).
Object.defineProperty(WorkflowEntrypoint, "__flowboxEntrypoint", { value: "workflow" });

export class WorkerEntrypoint {
  constructor(ctx, env) {
    this.ctx = ctx;
    this.env = env;
  }
}
