/** A local server could not listen: another process holds the port. Every local server reports it this way. */
export class PortInUseError extends Error {
  override readonly name = "PortInUseError";
  readonly port: number;

  constructor(port: number, options: ErrorOptions & { host?: string } = {}) {
    super(`Port ${port}${options.host === undefined ? "" : ` on ${options.host}`} is already in use`, options);
    this.port = port;
  }
}
