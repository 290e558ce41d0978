#!/usr/bin/env node
// mdBook preprocessor that passes the book through unchanged and, as a side
// effect, copies KaTeX's stylesheet and fonts from the npm package (installed by
// `npm ci --prefix docs/tools`) into src/katex/, from where mdBook copies them into
// the built book. theme/head.hbs links the stylesheet, so the math that
// mdbook-katex pre-renders is styled without any network access.
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

if (process.argv[2] === "supports") {
  // Only the HTML renderer needs the assets; every renderer can take the book.
  process.exit(0);
}

const tools = dirname(fileURLToPath(import.meta.url));
const dist = join(tools, "node_modules", "katex", "dist");
const target = join(tools, "..", "src", "katex");
if (!existsSync(join(dist, "katex.min.css"))) {
  console.error(
    "katex-assets: the KaTeX stylesheet is missing; install it with `npm ci --prefix docs/tools` " +
      "(from the repository root), then build again.",
  );
  process.exit(1);
}
const want = JSON.parse(readFileSync(join(tools, "package.json"), "utf8")).dependencies.katex;
const have = JSON.parse(readFileSync(join(dist, "..", "package.json"), "utf8")).version;
if (want !== have) {
  console.error(`katex-assets: docs/tools has katex ${have}, package.json pins ${want}: run \`npm ci --prefix docs/tools\`.`);
  process.exit(1);
}
mkdirSync(join(target, "fonts"), { recursive: true });
copyFileSync(join(dist, "katex.min.css"), join(target, "katex.min.css"));
for (const f of readdirSync(join(dist, "fonts"))) {
  copyFileSync(join(dist, "fonts", f), join(target, "fonts", f));
}

// The protocol: [context, book] on stdin, the (unchanged) book on stdout.
const input = readFileSync(0, "utf8");
const [, book] = JSON.parse(input);
process.stdout.write(JSON.stringify(book));
