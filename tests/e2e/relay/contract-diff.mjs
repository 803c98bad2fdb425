// graphql-inspector's diff from the client contract to the server's schema, run by test_relay_checks.py:
//   node contract-diff.mjs CONTRACT.graphql SCHEMA.graphql
// Prints each breaking and dangerous change, then one JSON line of counts; exits 1 on any breaking change.
import { readFileSync } from 'node:fs';
import { buildSchema } from 'graphql';
import { CriticalityLevel, diff } from '@graphql-inspector/core';

const [contract, schema] = process.argv.slice(2).map((path) => buildSchema(readFileSync(path, 'utf8')));
const changes = await diff(contract, schema);
const counts = { breaking: 0, dangerous: 0, safe: 0 };
for (const change of changes) {
  const level = change.criticality.level;
  if (level === CriticalityLevel.Breaking) counts.breaking += 1;
  else if (level === CriticalityLevel.Dangerous) counts.dangerous += 1;
  else counts.safe += 1;
  if (level !== CriticalityLevel.NonBreaking) console.log(`${level} ${change.type}: ${change.message}`);
}
console.log(JSON.stringify(counts));
process.exit(counts.breaking ? 1 : 0);
