/**
 * `npm run demo`: runs the freshly built host programs the way a user would. It grows into the
 * whole story (make two releases, generate a delta, install it on a simulated device).
 */
import { spawnSync } from "node:child_process";
import path from "node:path";

const dist = path.resolve(__dirname, "..", "..", "dist", "x86_64");

function show(program: string, ...args: string[]): void {
  const exe = path.join(dist, program);
  process.stdout.write(`$ ${path.relative(process.cwd(), exe)} ${args.join(" ")}\n`);
  const r = spawnSync(exe, args, { encoding: "utf8" });
  process.stdout.write(r.stdout + r.stderr);
  if (r.status !== 0) {
    process.stderr.write(`demo: ${program} ${args.join(" ")} exited with ${r.status ?? r.signal}\n`);
    process.exit(1);
  }
}

for (const program of ["mender-binary-delta", "mender-binary-delta-generator"]) {
  show(program, "--version");
  show(program, "selftest");
}
