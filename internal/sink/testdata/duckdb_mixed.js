// Independent reader for TestDuckDBMixedVersions: DuckDB reads a directory
// holding chunk files of schema versions 1 and 2 (version 1 first) with a
// query written for version 1 and one that reads the new columns with
// union_by_name, and prints the counts as JSON.
//
// usage: node duckdb_mixed.js <dir>
'use strict';
const { DuckDBInstance } = require('@duckdb/node-api');

async function main() {
  const dir = process.argv[2].replace(/'/g, "''");
  const db = await DuckDBInstance.create(':memory:');
  const conn = await db.connect();
  const one = async (sql) => {
    const r = (await conn.runAndReadAll(sql)).getRowObjects()[0];
    return Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Number(v)]));
  };
  const out = {
    old: await one(`SELECT count(*) AS n, count(label) AS labels FROM read_parquet('${dir}/*.parquet')`),
    union: await one(`SELECT count(*) AS n, count(gene_id) AS genes, count(abbreviation_of) AS abbrevs,
                             count(passage) AS passages FROM read_parquet('${dir}/*.parquet', union_by_name = true)`),
  };
  console.log(JSON.stringify(out));
}
main().catch((e) => { console.error(e); process.exit(1); });
