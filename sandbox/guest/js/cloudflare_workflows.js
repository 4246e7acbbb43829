// The built-in module `cloudflare:workflows`.
export class NonRetryableError extends Error {
  constructor(message, name) {
    super(message);
    this.name = name === undefined ? "NonRetryableError" : String(name);
  }
}
