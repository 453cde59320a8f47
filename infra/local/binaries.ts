/**
 * Paths of the real binaries shipped through npm. The platform packages are resolved directly so
 * the process we start (and later stop by PID) is the server itself, not a Node wrapper around it.
 */
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

const require = createRequire(import.meta.url);

function packageDir(name: string): string {
  return dirname(require.resolve(`${name}/package.json`));
}

function platformBinary(packageName: string, binary: string): string {
  let path: string;
  try {
    path = join(packageDir(packageName), "bin", binary);
  } catch {
    throw new Error(`${packageName} is not installed for ${process.platform}-${process.arch}; run npm install`);
  }
  if (!existsSync(path)) throw new Error(`${path} is missing; run npm install`);
  return path;
}

export function restateServerBinary(): string {
  return platformBinary(`@restatedev/restate-server-${process.platform}-${process.arch}`, "restate-server");
}

export function restateCliBinary(): string {
  return platformBinary(`@restatedev/restate-${process.platform}-${process.arch}`, "restate");
}

export function restatectlBinary(): string {
  return platformBinary(`@restatedev/restatectl-${process.platform}-${process.arch}`, "restatectl");
}

export function anvilBinary(): string {
  const arch = process.arch === "x64" ? "amd64" : process.arch;
  return platformBinary(`@foundry-rs/anvil-${process.platform}-${arch}`, "anvil");
}
