// analyze_duckdb.mjs LOG ANALYZE.json — the DuckDB recipe of formats/SCHEMA.md on LOG through
// @duckdb/node-api: the number of exchanges, the median TTFT of the successful ones and the
// median tokens_out must equal llmtrace-analyze's (1e-12 relative). Exit 1 on a disagreement.
import { DuckDBInstance } from '@duckdb/node-api';
import { readFileSync } from 'node:fs';

const [path, js] = process.argv.slice(2);
const g = JSON.parse(readFileSync(js, 'utf8')).groups[0];
const db = await DuckDBInstance.create(':memory:');
const con = await db.connect();
const q = (sql) => con.runAndReadAll(sql).then((r) => r.getRowObjectsJson());
// --- the recipe, as SCHEMA.md gives it (ignore_errors: the torn last line of a log not
// closed cleanly is skipped) ----------------------------------------------------------------
const src = `read_json('${path.replace(/'/g, "''")}', format = 'newline_delimited',
                       sample_size = -1, ignore_errors = true)`;
const [all] = await q(`SELECT count(*) AS n FROM ${src} WHERE type = 'exchange'`);
const [ok] = await q(`SELECT median(list_filter(CAST(response.events AS BIGINT[][]), e -> e[3] = 1)[1][1]) / 1e3
                        AS ttft_ms FROM ${src}
                      WHERE type = 'exchange' AND error IS NULL
                        AND coalesce(response.status, 0) < 400`);
const [tok] = await q(`SELECT median(tokens_out) AS tout FROM ${src} WHERE type = 'exchange'`);
// -----------------------------------------------------------------------------------------------
const bad = [];
if (Number(all.n) !== g.requests) bad.push(`exchanges: duckdb ${all.n}, analyze ${g.requests}`);
const want = g.ttft_ms.p50, med = ok.ttft_ms === null ? null : Number(ok.ttft_ms);
if ((want === null) !== (med === null) ||
    (med !== null && Math.abs(med - want) > 1e-12 * Math.abs(want)))
  bad.push(`median TTFT: duckdb ${med}, analyze ${want}`);
const mt = tok.tout === null ? null : Number(tok.tout);
if (mt !== g.tokens_out.p50) bad.push(`median tokens_out: duckdb ${mt}, analyze ${g.tokens_out.p50}`);
if (bad.length) {
  console.log(`${path}: ${bad.join('; ')}`);
  process.exit(1);
}
console.log(`${path}: duckdb agrees: ${all.n} exchanges, median TTFT ${med} ms`);
