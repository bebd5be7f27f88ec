// Validate example documents with an eval-free JavaScript validator (the kind an MV3 extension may use).
// usage: node validate.mjs SCHEMA.json EXAMPLES_DIR  -> prints {"<file>": true|false, ...}
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { Validator } from "@cfworker/json-schema";

const [schemaPath, examplesDir] = process.argv.slice(2);
const root = JSON.parse(readFileSync(schemaPath, "utf8"));
const results = {};
for (const file of readdirSync(examplesDir).filter((f) => f.endsWith(".json")).sort()) {
  const def = file.replace(/\.[^.]+\.(pass|fail)\.json$/, "").replace(/\.(pass|fail)\.json$/, "");
  const schema = root.$defs && root.$defs[def] ? { ...root, $ref: `#/$defs/${def}` } : root;
  const validator = new Validator(schema, "2020-12", false);
  results[file] = validator.validate(JSON.parse(readFileSync(join(examplesDir, file), "utf8"))).valid;
}
console.log(JSON.stringify(results));
