// The GraphQL-over-HTTP audit of graphql-http (the GraphQL Foundation's reference implementation),
// run by test_graphql_http_audit.py:  node audit.mjs http://127.0.0.1:PORT/graphql
// AUDIT_AUTHORIZATION, when set, is sent as the Authorization header of every audit request.
// Prints every result that is not ok, then one JSON line of counts; exits 1 when any MUST failed.
import { auditServer } from 'graphql-http';

const url = process.argv[2];
const authorization = process.env.AUDIT_AUTHORIZATION;
const fetchFn = (input, init = {}) => {
  const headers = new Headers(init.headers);
  if (authorization) headers.set('authorization', authorization);
  return fetch(input, { ...init, headers, signal: AbortSignal.timeout(10_000) });
};

const results = await auditServer({ url, fetchFn });
const counts = { ok: 0, notice: 0, warn: 0, error: 0 };
for (const result of results) {
  counts[result.status] = (counts[result.status] ?? 0) + 1;
  if (result.status !== 'ok') {
    console.log(`${result.status.toUpperCase()} ${result.id} ${result.name}: ${result.reason}`);
  }
}
console.log(JSON.stringify(counts));
process.exit(counts.error ? 1 : 0);
