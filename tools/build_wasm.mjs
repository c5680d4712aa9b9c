// Build docs/javascripts/engine/kernels.wasm from kernels.wat with the pinned wabt (SIMD on).
//   node tools/build_wasm.mjs          write kernels.wasm
//   node tools/build_wasm.mjs --check  exit 1 if the committed kernels.wasm is not what the source builds
import { readFileSync, writeFileSync, existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import wabtInit from "wabt";

const root = new URL("../docs/javascripts/engine/", import.meta.url);
const source = fileURLToPath(new URL("kernels.wat", root));
const target = fileURLToPath(new URL("kernels.wasm", root));

const wabt = await wabtInit();
const parsed = wabt.parseWat("kernels.wat", readFileSync(source, "utf8"), { simd: true });
parsed.resolveNames();
parsed.validate({ simd: true });
// no names section and no debug info: the bytes depend only on the source and wabt's version
const { buffer } = parsed.toBinary({ log: false, write_debug_names: false });
parsed.destroy();

if (process.argv.includes("--check")) {
  const committed = existsSync(target) ? readFileSync(target) : null;
  if (!committed || !Buffer.from(buffer).equals(committed)) {
    console.error(`${target} is not what kernels.wat builds: run \`node tools/build_wasm.mjs\` and commit it`);
    process.exit(1);
  }
  console.log(`kernels.wasm matches kernels.wat (${buffer.length} bytes)`);
} else {
  writeFileSync(target, buffer);
  console.log(`wrote ${target} (${buffer.length} bytes)`);
}
