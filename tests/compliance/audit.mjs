// GraphQL over HTTP compliance: graphql-http's auditServer against a running server.
//
//   node audit.mjs http://127.0.0.1:8080/graphql
//
// Prints every audit's result and exits non-zero when any MUST (error) or SHOULD (warn) audit
// fails. MAY audits that fail (notice) are printed; with --strict they fail the run too.
import { auditServer } from 'graphql-http';

const args = process.argv.slice(2);
const strict = args.includes('--strict');
const url = args.find((arg) => !arg.startsWith('--')) ?? process.env.GRAPHQL_URL;
if (!url) {
  console.error('usage: node audit.mjs [--strict] URL   (or GRAPHQL_URL=URL)');
  process.exit(2);
}

const results = await auditServer({ url });
const level = { ok: 'pass', error: 'FAIL (MUST)', warn: 'FAIL (SHOULD)', notice: 'fail (MAY)' };
const counts = { ok: 0, error: 0, warn: 0, notice: 0 };
for (const result of results) {
  counts[result.status] += 1;
  let line = `${level[result.status].padEnd(13)} ${result.id} ${result.name}`;
  if (result.status !== 'ok') {
    let body = '';
    try {
      body = await result.response.text();
    } catch {
      // the body was read by the audit already
    }
    line += `\n      ${result.reason}; status ${result.response.status}, ` +
      `content-type ${result.response.headers.get('content-type')}${body ? `, body ${body}` : ''}`;
  }
  console.log(line);
}

const failed = counts.error + counts.warn + (strict ? counts.notice : 0);
console.log(
  `\nMUST failed: ${counts.error}, SHOULD failed: ${counts.warn}, MAY failed: ${counts.notice}, ` +
    `passed: ${counts.ok} of ${results.length} audits`,
);
console.log(`audit: ${counts.ok} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
