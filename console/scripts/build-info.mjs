// Records, beside the built bundle, a hash of everything the bundle is built from, so that a
// Python-only check (tests/console/test_bundle.py) can tell a bundle that was not rebuilt after
// a change of the sources. The same walk is in opsconductor/console/sources.py: keep them alike.
import { createHash } from "node:crypto";
import { readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const FILES = ["package.json", "package-lock.json", "index.html", "vite.config.ts", "tsconfig.json"];
const DIRS = ["src"];

function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });
}

const files = [
  ...FILES.map((name) => join(root, name)),
  ...DIRS.flatMap((dir) => walk(join(root, dir))),
]
  .map((path) => relative(root, path).split(sep).join("/"))
  .sort();
const hash = createHash("sha256");
for (const name of files) {
  hash.update(name + "\0");
  hash.update(readFileSync(join(root, name)));
  hash.update("\0");
}
const info = { sources_sha256: hash.digest("hex"), files: files.length };
writeFileSync(
  join(root, "..", "opsconductor", "console", "bundle", "build-info.json"),
  JSON.stringify(info, null, 2) + "\n",
);
console.log(`build-info: ${info.files} source files, sha256 ${info.sources_sha256}`);
